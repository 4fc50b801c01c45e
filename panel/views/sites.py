"""Sites and operators, managed by superusers under /sites/: the sites (create, edit, which charge
points each owns) and the logins with their role per site (create, change or remove a role,
deactivate). Anyone else gets 404 here: these pages do not exist for them.

Every change goes through datapoints.sites and is recorded in the audit log, refused ones too.
"""
import functools
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import BaseUserCreationForm
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from datapoints import audit, sites
from datapoints.elements import CHARGE_POINT, HEARTBEAT_SECONDS, REGISTRATION_STATUSES
from datapoints.models import Datapoint, Site, SiteRole

from .. import fleet

CANDIDATE_LIMIT = 200
ROLE_CHOICES = [(SiteRole.VIEWER, "viewer: sees the site's charge points"), (SiteRole.OPERATOR, "operator: also approves, sends commands, writes Config")]


def superuser_only(view):
    """Log in first; then 404 for everyone but a superuser (the pages are not revealed)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise Http404("no such page")
        return view(request, *args, **kwargs)

    return wrapper


def _site_check(field, check):
    """A form field cleaner from a datapoints.sites check (SiteError -> the field's error)."""

    def clean(self):
        value = self.cleaned_data[field]
        try:
            return check(value)
        except sites.SiteError as exc:
            raise forms.ValidationError(str(exc)) from None

    return clean


class SiteForm(forms.Form):
    slug = forms.CharField(max_length=sites.SLUG_MAX, widget=forms.TextInput(attrs={"autocapitalize": "none"}), help_text="lower-case letters, digits, hyphens (plant-a); fixed once made")
    name = forms.CharField(max_length=sites.NAME_MAX, required=False, help_text="shown in the panel; empty: the slug")
    time_zone = forms.CharField(max_length=64, initial="UTC", widget=forms.TextInput(attrs={"list": "time-zones"}), help_text="IANA name, e.g. Europe/Vienna")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    clean_slug = _site_check("slug", sites.check_slug)
    clean_time_zone = _site_check("time_zone", sites.check_time_zone)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)


def _installation_default(value):
    return f"installation default ({value})"


class SiteEditForm(SiteForm):
    """A site's details and the defaults for its chargers (empty: the installation's settings)."""

    slug = None
    auto_create = forms.TypedChoiceField(
        label="Unknown chargers at /ocpp/<site>/…",
        choices=[("", "installation default"), ("yes", "create them"), ("no", "refuse them")],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
    )
    new_charge_point_status = forms.ChoiceField(label="Status of a charger created there", choices=[("", "installation default")] + [(s, s) for s in REGISTRATION_STATUSES], required=False)
    heartbeat_interval = forms.IntegerField(label="Heartbeat interval (s)", min_value=HEARTBEAT_SECONDS[0], max_value=HEARTBEAT_SECONDS[1], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._name_default("auto_create", "create" if settings.OCPP_AUTO_CREATE_CHARGE_POINTS else "refuse")
        self._name_default("new_charge_point_status", settings.OCPP_NEW_CHARGE_POINT_STATUS)
        self.fields["heartbeat_interval"].help_text = f"for its chargers without their own Config.HeartbeatInterval; empty: {settings.OCPP_HEARTBEAT_INTERVAL} s (OCPP_HEARTBEAT_INTERVAL)"

    def _name_default(self, field, value):
        self.fields[field].choices = [("", _installation_default(value))] + list(self.fields[field].choices)[1:]

    @staticmethod
    def initial_for(site):
        auto = {None: "", True: "yes", False: "no"}[site.auto_create]
        return {"name": site.name, "time_zone": site.time_zone, "notes": site.notes, "auto_create": auto, "new_charge_point_status": site.new_charge_point_status, "heartbeat_interval": site.heartbeat_interval}


class OperatorForm(BaseUserCreationForm):
    """A new login: user name, the password twice (Django's password validation), its sites and role."""

    sites = forms.ModelMultipleChoiceField(
        Site.objects.all(), widget=forms.CheckboxSelectMultiple, error_messages={"required": "Tick at least one site."}
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=SiteRole.VIEWER, widget=forms.RadioSelect)

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["sites"].label_from_instance = lambda site: f"{site.slug} ({site.name})" if site.name != site.slug else site.slug
        self.fields["username"].widget.attrs.pop("autofocus", None)


def _refused(request, action, form, message, site=None, target="", **detail):
    """Audit a form that was refused (what was wrong, never a password) and say so at the top."""
    text = "; ".join(f"{form[name].label if name in form.fields else 'form'}: {' '.join(errors)}" for name, errors in form.errors.items())
    audit.record(request.user, action, site=site, target=target[:200], detail={**detail, "errors": form.errors.get_json_data()}, ok=False, outcome=text)
    messages.error(request, message)


# ---- sites -------------------------------------------------------------------------------------


@functools.cache
def _time_zones():
    """The IANA names, for the time zone field's suggestions."""
    return sorted(zoneinfo.available_timezones())


def _sites_with_counts():
    roles = SiteRole.objects.select_related("user").order_by("user__username")
    return Site.objects.annotate(charge_point_count=Count("charge_points", filter=Q(charge_points__dp_type=CHARGE_POINT))).prefetch_related(
        Prefetch("roles", queryset=roles)
    )


def _render_list(request, form, status=200):
    context = {"sites": _sites_with_counts(), "form": form, "time_zones": _time_zones(), "unsited": Datapoint.objects.filter(dp_type=CHARGE_POINT, site__isnull=True).count()}
    return render(request, "panel/sites.html", context, status=status)


@superuser_only
def site_list(request):
    return _render_list(request, SiteForm())


@superuser_only
@require_POST
def site_create(request):
    form = SiteForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            site = sites.create_site(data["slug"], data["name"], data["time_zone"], data["notes"])
        except sites.SiteError as exc:
            form.add_error("slug", str(exc))
        else:
            audit.record(request.user, "site_create", site=site, target=site.slug, detail={"name": site.name, "time_zone": site.time_zone, "notes": site.notes}, outcome="created")
            messages.success(request, f"Site {site.slug} created. Assign charge points to it below, then give operators a role on it.")
            return redirect("panel:site", slug=site.slug)
    _refused(request, "site_create", form, "Site not created: fix the fields marked below.", target=request.POST.get("slug", ""))
    return _render_list(request, form, status=400)


def _render_site(request, site, edit_form=None, status=200):
    q = request.GET.get("q", "").strip()
    others = Datapoint.objects.filter(dp_type=CHARGE_POINT).exclude(site=site).select_related("site")
    if q:
        others = others.filter(Q(client_id__icontains=q) | Q(name__icontains=q) | Q(site__slug__icontains=q))
    unsited = list(others.filter(site__isnull=True).order_by("client_id")[:CANDIDATE_LIMIT])
    elsewhere = list(others.filter(site__isnull=False).order_by("site__slug", "client_id")[:CANDIDATE_LIMIT])
    context = {
        "site": site,
        "rows": fleet.rows(site.charge_points.filter(dp_type=CHARGE_POINT).order_by("client_id")),
        "unsited": unsited,
        "elsewhere": elsewhere,
        "limit": CANDIDATE_LIMIT,
        "q": q,
        "roles": site.roles.select_related("user").order_by("user__username"),
        "edit_form": edit_form or SiteEditForm(initial=SiteEditForm.initial_for(site)),
        "time_zones": _time_zones(),
    }
    return render(request, "panel/sites_site.html", context, status=status)


@superuser_only
def site_page(request, slug):
    return _render_site(request, get_object_or_404(Site, slug=slug))


@superuser_only
@require_POST
def site_edit(request, slug):
    site = get_object_or_404(Site, slug=slug)
    form = SiteEditForm(request.POST)
    if not form.is_valid():
        _refused(request, "site_change", form, f"{site.slug} not changed: fix the fields marked below.", site=site, target=site.slug)
        return _render_site(request, site, edit_form=form, status=400)
    data = form.cleaned_data
    changes = sites.change_site(site, data["name"], data["time_zone"], data["notes"], **{name: data[name] for name in sites.CHARGER_DEFAULTS})
    if changes:
        audit.record(request.user, "site_change", site=site, target=site.slug, detail=changes, outcome="changed " + ", ".join(changes))
        messages.success(request, f"{site.slug}: {', '.join(changes).replace('_', ' ')} changed.")
    else:
        messages.info(request, f"{site.slug}: nothing to change.")
    return redirect("panel:site", slug=site.slug)


@superuser_only
@require_POST
def site_assign(request, slug):
    """Put the ticked charge points into this site; one in another site moves (and leaves that one)."""
    site = get_object_or_404(Site, slug=slug)
    asked = request.POST.getlist("client_id")
    found = list(Datapoint.objects.filter(dp_type=CHARGE_POINT, client_id__in=asked).select_related("site"))
    missing = sorted(set(asked) - {dp.client_id for dp in found})
    already = [dp.client_id for dp in found if dp.site_id == site.id]
    moving = [(dp, dp.site) for dp in found if dp.site_id != site.id]
    if moving:
        sites.assign(site, [dp for dp, _old in moving])
    assigned, moved = [], []
    for dp, old in moving:
        outcome = f"moved from {old.slug} to {site.slug}" if old else f"assigned to {site.slug}"
        audit.record(request.user, "site_assign", charge_point=dp, site=site, detail={"site": site.slug, "from": old.slug if old else ""}, outcome=outcome)
        (moved if old else assigned).append(f"{dp.client_id} (from {old.slug})" if old else dp.client_id)
    if assigned:
        messages.success(request, f"Assigned to {site.slug}: {', '.join(assigned)}.")
    if moved:
        messages.success(request, f"Moved to {site.slug}: {', '.join(moved)}. Their old sites' viewers and operators no longer see them.")
    if already:
        messages.info(request, f"Already in {site.slug}: {', '.join(already)}.")
    if missing:
        audit.record(request.user, "site_assign", site=site, target=", ".join(missing)[:200], detail={"site": site.slug, "unknown": missing}, ok=False, outcome="no such charge point")
        messages.error(request, f"No charge point with ClientId {', '.join(missing)}; nothing done for those.")
    if not asked:
        messages.warning(request, "Tick the charge points to assign first.")
    return redirect("panel:site", slug=site.slug)


@superuser_only
@require_POST
def site_unassign(request, slug):
    """Take one charge point out of this site (it is then in no site: only superusers see it)."""
    site = get_object_or_404(Site, slug=slug)
    client_id = request.POST.get("client_id", "")
    dp = Datapoint.objects.filter(dp_type=CHARGE_POINT, client_id=client_id, site=site).first()
    if dp is None:
        audit.record(request.user, "site_unassign", site=site, target=client_id[:200], detail={"site": site.slug}, ok=False, outcome=f"not in {site.slug}")
        messages.error(request, f"{client_id or 'No charge point'} is not in {site.slug}; nothing removed.")
    else:
        sites.assign(None, [dp])
        audit.record(request.user, "site_unassign", charge_point=dp, site=site, detail={"site": site.slug}, outcome=f"removed from {site.slug}")
        messages.success(request, f"{dp.client_id} removed from {site.slug}: it is in no site now, and only superusers see it.")
    return redirect("panel:site", slug=site.slug)


# ---- operators ---------------------------------------------------------------------------------


def _users():
    User = get_user_model()
    roles = SiteRole.objects.select_related("site").order_by("site__slug")
    return User.objects.order_by("-is_active", "username").prefetch_related(Prefetch("site_roles", queryset=roles))


def _render_operators(request, form, status=200):
    return render(request, "panel/operators.html", {"users": _users(), "form": form, "any_site": Site.objects.exists()}, status=status)


@superuser_only
def operator_list(request):
    return _render_operators(request, OperatorForm(initial={"role": SiteRole.VIEWER}))


@superuser_only
@require_POST
def operator_create(request):
    form = OperatorForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            user, created = sites.create_operator(data["username"], data["password1"], list(data["sites"]), data["role"])
        except sites.SiteError as exc:
            form.add_error(None, str(exc))
        else:
            if created:
                for site in data["sites"]:
                    audit.record(request.user, "operator_create", site=site, target=user.username, detail={"role": data["role"]}, outcome=f"{data['role']} of {site.slug}")
                messages.success(request, f"{user.username} can log in now: {data['role']} of {', '.join(s.slug for s in data['sites'])}.")
                return redirect("panel:operator", pk=user.pk)
            form.add_error("username", "A user with that username already exists.")  # made in the meantime
    message = "Operator not created: fix the fields marked below."
    _refused(request, "operator_create", form, message, target=request.POST.get("username", ""), sites=request.POST.getlist("sites"), role=request.POST.get("role", ""))
    return _render_operators(request, form, status=400)


@superuser_only
def operator_page(request, pk):
    person = get_object_or_404(get_user_model(), pk=pk)
    roles = person.site_roles.select_related("site").order_by("site__slug")
    context = {
        "person": person,
        "roles": roles,
        "role_choices": ROLE_CHOICES,
        "other_sites": Site.objects.exclude(roles__user=person),
        "is_self": person.pk == request.user.pk,
    }
    return render(request, "panel/operator.html", context)


@superuser_only
@require_POST
def operator_role(request, pk):
    """Give the user a role on a site, change it, or remove it (role "")."""
    person = get_object_or_404(get_user_model(), pk=pk)
    slug, role = request.POST.get("site", ""), request.POST.get("role", "")
    site = Site.objects.filter(slug=slug).first()
    was = sites.role_of(person, site) if site else None
    error = None
    if site is None:
        error = f"No site {slug!r}; choose one of the list."
    elif role not in ("", SiteRole.VIEWER, SiteRole.OPERATOR):
        error = f"Role must be viewer or operator, not {role!r}."
    elif role == "" and was is None:
        error = f"{person.username} has no role on {site.slug}; nothing to remove."
    elif person.is_superuser:
        error = f"{person.username} is a superuser and sees and steers every site; a role would change nothing."
    if error:
        audit.record(request.user, "operator_role", site=site, target=person.username, detail={"site": slug, "role": role}, ok=False, outcome=error)
        messages.error(request, error)
        return redirect("panel:operator", pk=person.pk)
    sites.set_role(person, site, role or None)
    outcome = f"{role} of {site.slug}" if role else f"removed from {site.slug}"
    audit.record(request.user, "operator_role", site=site, target=person.username, detail={"role": role or None, "was": was}, outcome=outcome)
    if role == was:
        messages.info(request, f"{person.username} is {role} of {site.slug} already.")
    elif role:
        messages.success(request, f"{person.username} is now {role} of {site.slug}" + (f" (was {was})." if was else "."))
    else:
        messages.success(request, f"{person.username} has no role on {site.slug} any more: its charge points are hidden from them.")
    return redirect("panel:operator", pk=person.pk)


@superuser_only
@require_POST
def operator_active(request, pk):
    """Deactivate a login (it can no longer log in, and its open sessions end), or activate it again."""
    person = get_object_or_404(get_user_model(), pk=pk)
    active = request.POST.get("active") == "1"
    action = "operator_activate" if active else "operator_deactivate"
    if person.pk == request.user.pk:
        audit.record(request.user, action, target=person.username, ok=False, outcome="refused: own login")
        messages.error(request, "You cannot deactivate your own login; ask another superuser.")
    elif person.is_active == active:
        messages.info(request, f"{person.username} is {'active' if active else 'deactivated'} already.")
    else:
        person.is_active = active
        person.save(update_fields=["is_active"])
        audit.record(request.user, action, target=person.username, detail={"is_active": active}, outcome="activated" if active else "deactivated")
        if active:
            messages.success(request, f"{person.username} can log in again, with their old password and roles.")
        else:
            messages.success(request, f"{person.username} is deactivated: they cannot log in, and their open sessions end. Their roles are kept.")
    return redirect("panel:operator", pk=person.pk)


urlpatterns = [
    # The operators' routes come first: "operators" is no site's slug (datapoints.sites.RESERVED_SLUGS).
    path("sites/operators/", operator_list, name="operator-list"),
    path("sites/operators/new", operator_create, name="operator-create"),
    path("sites/operators/<int:pk>/", operator_page, name="operator"),
    path("sites/operators/<int:pk>/role", operator_role, name="operator-role"),
    path("sites/operators/<int:pk>/active", operator_active, name="operator-active"),
    path("sites/", site_list, name="site-list"),
    path("sites/new", site_create, name="site-create"),
    path("sites/<slug:slug>/", site_page, name="site"),
    path("sites/<slug:slug>/edit", site_edit, name="site-edit"),
    path("sites/<slug:slug>/assign", site_assign, name="site-assign"),
    path("sites/<slug:slug>/remove", site_unassign, name="site-unassign"),
]
