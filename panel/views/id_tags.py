"""Id tags and the local authorization list: `/id-tags/` (search, create), `/id-tags/<pk>/` (edit,
delete) and `/local-list/` (each charger's list version against the current one, Sync buttons for a
charger, a site or every charger the user operates).

Id tags are global: everyone logged in reads them, a superuser or an operator of any site edits them
(datapoints.access.may_edit_id_tags). Syncing a charger needs the operator role on its site. Changes
go through datapoints.id_tags (which moves the list version on) and are in the audit log.
"""
import functools

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from datapoints import access, audit, id_tags, local_list
from datapoints.commands import run_sync
from datapoints.models import Element, IdTag, Site
from datapoints.periods import range_validator

from .common import forbidden

LIST_LIMIT = 500
FORM_STATUSES = [(s, s) for s in ("Accepted", "Blocked", "Expired", "Invalid")]  # ConcurrentTx is computed, never stored


def editor_only(view):
    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.may_edit_id_tags(request.user):
            return forbidden(request, "Editing id tags needs the operator role on a site (or a superuser); you may read them.")
        return view(request, *args, **kwargs)

    return wrapper


class IdTagForm(forms.ModelForm):
    status = forms.ChoiceField(choices=FORM_STATUSES)
    expiry_date = forms.DateTimeField(
        required=False, validators=[range_validator], widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"), help_text=f"empty: never; in {settings.TIME_ZONE}"
    )

    class Meta:
        model = IdTag
        fields = ["id_tag", "status", "expiry_date", "parent_id_tag", "max_concurrent_tx", "in_local_list", "note"]
        labels = {"id_tag": "Id tag", "parent_id_tag": "Parent id tag", "max_concurrent_tx": "Max concurrent transactions", "in_local_list": "In the local list"}
        help_texts = {
            "id_tag": "as the charger reads it (RFID UID, app token): up to 20 characters",
            "parent_id_tag": "a group: a Blocked or expired parent tag refuses its children",
            "max_concurrent_tx": "empty: no limit; more open transactions answer ConcurrentTx",
            "in_local_list": "pushed to chargers with SendLocalList",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        if self.instance.pk:
            self.fields["id_tag"].disabled = True  # a tag's identity; make a new one instead

    def clean_id_tag(self):
        value = self.cleaned_data["id_tag"].strip()
        if not value or not value.isprintable():
            raise forms.ValidationError("Give the tag as printable text, 1 to 20 characters.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("parent_id_tag") and data.get("parent_id_tag") == (data.get("id_tag") or self.instance.id_tag):
            self.add_error("parent_id_tag", "A tag cannot be its own parent; leave it empty or name the group's tag.")
        return data


def _tags(request):
    tags = IdTag.objects.order_by("id_tag")
    q = request.GET.get("q", "").strip()
    if q:
        tags = tags.filter(Q(id_tag__icontains=q) | Q(parent_id_tag__icontains=q) | Q(note__icontains=q))
    if request.GET.get("list") == "1":
        tags = tags.filter(in_local_list=True)
    status = request.GET.get("status", "")
    if status in dict(FORM_STATUSES):
        tags = tags.filter(status=status)
    return tags, {"q": q, "list": request.GET.get("list", ""), "status": status}


def _render_list(request, form, status=200):
    tags, filters = _tags(request)
    context = {
        "tags": tags[:LIST_LIMIT],
        "total": tags.count(),
        "limit": LIST_LIMIT,
        "filters": filters,
        "statuses": [s for s, _ in FORM_STATUSES],
        "form": form,
        "editor": access.may_edit_id_tags(request.user),
        "version": local_list.current_version(),
    }
    return render(request, "panel/id_tags.html", context, status=status)


@login_required
def tag_list(request):
    return _render_list(request, IdTagForm())


@require_POST
@editor_only
def tag_create(request):
    form = IdTagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The tag was not created: see the form below.")
        return _render_list(request, form, status=400)
    tag = id_tags.save_tag(form.save(commit=False))
    audit.record(request.user, "id_tag_create", target=tag.id_tag, detail=_detail(tag))
    messages.success(request, f"Id tag {tag.id_tag} created{' (in the local list: sync the chargers)' if tag.in_local_list else ''}.")
    return redirect("panel:id-tags")


def _detail(tag):
    return {"status": tag.status, "expiry_date": tag.expiry_date.isoformat() if tag.expiry_date else None, "parent_id_tag": tag.parent_id_tag,
            "max_concurrent_tx": tag.max_concurrent_tx, "in_local_list": tag.in_local_list, "list_version": tag.list_version}


@login_required
def tag_edit(request, pk):
    tag = get_object_or_404(IdTag, pk=pk)
    editor = access.may_edit_id_tags(request.user)
    if request.method == "POST":
        if not editor:
            return forbidden(request, "Editing id tags needs the operator role on a site (or a superuser); you may read them.")
        form = IdTagForm(request.POST, instance=tag)
        if form.is_valid():
            tag = id_tags.save_tag(form.save(commit=False))
            audit.record(request.user, "id_tag_change", target=tag.id_tag, detail=_detail(tag))
            messages.success(request, f"Id tag {tag.id_tag} saved.")
            return redirect("panel:id-tags")
        messages.error(request, "Not saved: see the form.")
    else:
        form = IdTagForm(instance=tag)
    return render(request, "panel/id_tag.html", {"tag": tag, "form": form, "editor": editor}, status=400 if form.errors else 200)


@require_POST
@editor_only
def tag_delete(request, pk):
    tag = get_object_or_404(IdTag, pk=pk)
    id_tags.delete_tag(tag, request.user)
    messages.success(request, f"Id tag {tag.id_tag} deleted{' and taken out of the local list: sync the chargers' if tag.in_local_list else ''}.")
    return redirect("panel:id-tags")


# --- the local list on the chargers ---------------------------------------------------------------
def _charger_rows(user, charge_points):
    values = {}
    for dp_id, path_, value in Element.objects.filter(datapoint__in=charge_points, path__in=["State.LocalListVersion", "State.LocalListSync", "State.Connected"]).values_list("datapoint_id", "path", "value"):
        values.setdefault(dp_id, {})[path_] = value
    operated = access.operated_site_ids(user)
    return [
        {"dp": dp, "version": values.get(dp.id, {}).get("State.LocalListVersion"), "sync": values.get(dp.id, {}).get("State.LocalListSync") or {},
         "connected": values.get(dp.id, {}).get("State.Connected"), "operator": user.is_superuser or dp.site_id in operated}
        for dp in charge_points
    ]


def _visible(request):
    return access.visible_charge_points(request.user).select_related("site").order_by("client_id")


@login_required
def list_status(request):
    charge_points = list(_visible(request))
    operated = access.operated_site_ids(request.user)
    context = {
        "rows": _charger_rows(request.user, charge_points),
        "version": local_list.current_version(),
        "in_list": IdTag.objects.filter(in_local_list=True).count(),
        "sites": Site.objects.filter(id__in=operated).order_by("slug"),
        "any_operated": bool(operated),
    }
    return render(request, "panel/local_list.html", context)


@require_POST
@login_required
def sync(request):
    """Sync one charger (`charger`), a site's (`site`) or every charger the user operates (`all`);
    answers the status table (htmx) with each outcome."""
    operated = access.operated_site_ids(request.user)
    chosen = _visible(request)
    if request.POST.get("charger"):
        chosen = chosen.filter(client_id=request.POST["charger"])
        if not chosen:
            return forbidden(request, "No such charge point.")
    elif request.POST.get("site"):
        chosen = chosen.filter(site__slug=request.POST["site"])
    elif not request.POST.get("all"):
        return forbidden(request, "Say what to sync: a charger, a site or all.")
    chosen = [dp for dp in chosen if request.user.is_superuser or dp.site_id in operated]
    if not chosen:
        return forbidden(request, "Syncing needs the operator role on the charger's site.")
    outcomes = run_sync(local_list.sync_many, chosen)
    for dp, outcome in outcomes:
        audit.record(request.user, "local_list_sync", charge_point=dp, ok=outcome.ok, outcome=f"{outcome.status}: {outcome.text}")
    done = {dp.pk for dp, _ in outcomes}
    rows = _charger_rows(request.user, list(_visible(request)))
    context = {"rows": rows, "version": local_list.current_version(), "just_synced": done}
    return render(request, "panel/local_list_rows.html", context)


urlpatterns = [
    path("id-tags/", tag_list, name="id-tags"),
    path("id-tags/new", tag_create, name="id-tag-create"),
    path("id-tags/<int:pk>/", tag_edit, name="id-tag"),
    path("id-tags/<int:pk>/delete", tag_delete, name="id-tag-delete"),
    path("local-list/", list_status, name="local-list"),
    path("local-list/sync", sync, name="local-list-sync"),
]
