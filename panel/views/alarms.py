"""The alarm list at `/alarms/`: came, went, acknowledged-by; acknowledge one or all.

Filters from the query string: state (active, the default, or all), site, charger (ClientId or
datapoint name), kind, acknowledged (yes / no). A user sees the alarms of the charge points they
may see (datapoints.access); an alarm of another site's charger does not exist for them (404 on
its acknowledge). Operators of a site acknowledge its alarms; a viewer sees the list only (403).
"Acknowledge all" takes the alarms the filters show that the user may acknowledge. Every
acknowledgement is in the audit log (datapoints/alarms.py writes it). The table refreshes when an
Alarms.* element changes (the panel's live socket).
"""
from dataclasses import dataclass, fields

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from datapoints import access, alarms
from datapoints.models import Alarm

from .common import forbidden

PER_PAGE = 100


def visible_alarms(user):
    """The Alarm rows `user` may see."""
    rows = Alarm.objects.all()
    return rows if user.is_superuser else rows.filter(charge_point__in=access.visible_charge_points(user))


def unacknowledged_count(user):
    """Active alarms nobody acknowledged yet, of the charge points `user` may see (the nav badge)."""
    if not user.is_authenticated:
        return 0
    return visible_alarms(user).filter(went_at__isnull=True, acknowledged_at__isnull=True).count()


@dataclass
class Filters:
    state: str = "active"  # active | all
    site: str = ""
    charger: str = ""
    kind: str = ""
    acknowledged: str = ""  # "" | yes | no

    @classmethod
    def read(cls, data):
        found = {f.name: data.get(f.name, "").strip() for f in fields(cls)}
        found["state"] = "all" if found["state"] == "all" else "active"
        return cls(**found)

    def apply(self, rows):
        if self.state == "active":
            rows = rows.filter(went_at__isnull=True)
        if self.site:
            rows = rows.filter(charge_point__site__slug=self.site)
        if self.charger:
            rows = rows.filter(Q(charge_point__client_id=self.charger) | Q(charge_point__name=self.charger))
        if self.kind:
            rows = rows.filter(kind=self.kind)
        if self.acknowledged in ("yes", "no"):
            rows = rows.filter(acknowledged_at__isnull=self.acknowledged == "no")
        return rows

    @property
    def active(self):
        return any((self.state != "active", self.site, self.charger, self.kind, self.acknowledged))

    @property
    def hidden(self):
        """(name, value) of the filters set: hidden fields that keep them across a POST."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)]

    def query(self):
        return urlencode(self.hidden)


def _context(request):
    filters = Filters.read(request.GET)
    visible = visible_alarms(request.user)
    rows = filters.apply(visible).select_related("charge_point__site").order_by("-came_at", "-id")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    operated = access.operated_site_ids(request.user)
    return {
        "filters": filters,
        "page": page,
        "rows": [Row(alarm, request.user.is_superuser or alarm.charge_point.site_id in operated) for alarm in page.object_list],
        "kinds": Alarm.KINDS,
        "sites": access.visible_sites(request.user),
        "may_acknowledge": request.user.is_superuser or bool(operated),
        "waiting": filters.apply(_acknowledgeable(request.user, visible)).filter(acknowledged_at__isnull=True).count(),
        "unacknowledged": unacknowledged_count(request.user),
    }


@dataclass
class Row:
    alarm: Alarm
    operable: bool  # may this user acknowledge it


def _acknowledgeable(user, rows):
    return rows if user.is_superuser else rows.filter(charge_point__site_id__in=access.operated_site_ids(user))


@login_required
def alarm_list(request):
    template = "panel/alarms_table.html" if request.headers.get("HX-Request") else "panel/alarms.html"
    return render(request, template, _context(request))


@login_required
@require_POST
def acknowledge(request, pk):
    alarm = visible_alarms(request.user).select_related("charge_point__site").filter(pk=pk).first()
    if alarm is None:
        raise Http404("no such alarm")
    if not access.can_operate(request.user, alarm.charge_point):
        return forbidden(request, f"you may view the alarms of {alarm.charge_point.client_id} but not acknowledge them: ask for the operator role on its site")
    if alarms.acknowledge(alarm, request.user):
        messages.success(request, f"Acknowledged: {alarm}.")
    else:
        alarm.refresh_from_db()
        messages.info(request, f"{alarm} was acknowledged already by {alarm.acknowledged_by_name or 'someone'}.")
    return _back(request)


@login_required
@require_POST
def acknowledge_all(request):
    if not (request.user.is_superuser or access.operated_site_ids(request.user)):
        return forbidden(request, "you may view alarms but not acknowledge them: ask for the operator role on a site")
    filters = Filters.read(request.POST)
    rows = filters.apply(_acknowledgeable(request.user, visible_alarms(request.user)))
    count = alarms.acknowledge_all(rows, request.user)
    if count:
        messages.success(request, f"Acknowledged {count} alarm{'s' if count != 1 else ''}.")
    else:
        messages.info(request, "Nothing to acknowledge: every alarm shown that you may acknowledge is acknowledged already.")
    return redirect(_list_url(filters))


def _back(request):
    filters = Filters.read(request.POST)
    return redirect(_list_url(filters))


def _list_url(filters):
    from django.urls import reverse

    query = filters.query()
    return reverse("panel:alarms") + (f"?{query}" if query else "")


urlpatterns = [
    path("alarms/", alarm_list, name="alarms"),
    path("alarms/<int:pk>/acknowledge", acknowledge, name="alarm-ack"),
    path("alarms/acknowledge-all", acknowledge_all, name="alarm-ack-all"),
]
