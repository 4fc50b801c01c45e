"""The sessions pages: the list at `/sessions/` (filters, sorting, pages, totals per tag and per
site, energy per day drawn), its CSV at `/sessions.csv` (the same filters, every row, streamed),
and one session at `/sessions/<id>/` (its facts, a chart of power and energy, live while it runs;
an operator closes a zombie there with a reason).

Everything is asked of datapoints.sessions; this module only renders. Times are shown in each
session's site's time zone (the server's TIME_ZONE for chargers in no site). A session of a
charger the user may not see is 404; a viewer who tries to close one gets 403.
"""
import json
from dataclasses import dataclass
from datetime import datetime, time, timezone as dt_timezone

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST

from datapoints import access, sessions
from datapoints.models import Datapoint

from .common import forbidden
from .logs import _pager

PER_PAGE = 50
PAGER_LABELS = ("« First", "‹ Previous", "Next ›", "Last »")
COLUMNS = [  # (sort key, heading); None: not sortable
    ("id", "Id"),
    ("charger", "Charger"),
    ("connector", "Conn."),
    ("site", "Site"),
    ("tag", "Id tag"),
    ("start", "Start"),
    ("stop", "Stop"),
    ("duration", "Duration"),
    ("kwh", "kWh"),
    ("reason", "Stop reason"),
    (None, "State"),
]
HIDDEN_NARROW = {"site", "reason"}  # columns left out below 900 px (the session page shows both)


@dataclass
class SessionRow:
    """A Transaction as the pages show it: times in its site's zone."""

    tx: object

    @cached_property
    def zone(self):
        return sessions.zone_of(self.tx.charge_point.site)

    def local(self, moment):
        """`moment` as text in the site's zone (a template's date filter would use the server's)."""
        return timezone.localtime(moment, self.zone).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""

    @property
    def start(self):
        return self.local(self.tx.begin)

    @property
    def stop(self):
        return self.local(self.tx.stop_time)

    @property
    def state(self):
        return sessions.state_of(self.tx)

    @property
    def duration(self):
        return duration_text(self.tx.duration)

    @property
    def site(self):
        return self.tx.charge_point.site

    @property
    def connector_name(self):
        """The connector datapoint whose Metering.Energy.Session the live feed updates."""
        return Datapoint.connector_name(self.tx.charge_point.name, self.tx.connector_id)


def duration_text(value):
    """A timedelta as `2 h 05 min`, `4 min 10 s`; — for none."""
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _sort_links(request, filters):
    """[(heading, url or None, arrow, css class)] for the table's header: a click sorts by that
    column, a second click reverses it."""
    current = filters.sort.lstrip("-")
    links = []
    for key, heading in COLUMNS:
        css = "hide-narrow" if key in HIDDEN_NARROW else ""
        if key is None:
            links.append((heading, None, "", css))
            continue
        query = request.GET.copy()
        query.pop("page", None)
        ascending_now = filters.sort == key
        query["sort"] = f"-{key}" if ascending_now else key
        arrow = ("▲" if ascending_now else "▼") if current == key else ""
        links.append((heading, "?" + query.urlencode(), arrow, css))
    return links


def _totals_rows(totals):
    """Totals with each one's share of the largest kWh (for the bars drawn beside them)."""
    top = max((t.kwh for t in totals), default=0) or 1
    return [{"total": t, "duration": duration_text(t.duration), "share": round(100 * t.kwh / top, 1)} for t in totals]


def _table_context(request):
    """What the sessions table shows: one page of the filtered list (also `found` and `filters`)."""
    filters = sessions.SessionFilters.from_query(request.GET)
    found = sessions.search(request.user, filters)
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    return {
        "filters": filters,
        "found": found,
        "page": page,
        "rows": [SessionRow(tx) for tx in page.object_list],
        "pager": _pager(request, page, PAGER_LABELS),
        "columns": _sort_links(request, filters),
        "zone": str(filters.zone()),
        "energy_path": sessions.ENERGY,
    }


@login_required
def session_list(request):
    context = _table_context(request)
    found, zone = context["found"], context["filters"].zone()
    context.update(
        {
            "states": sessions.STATES,
            "sites": access.visible_sites(request.user),
            "tags": sessions.known_tags(request.user),
            "by_tag": _totals_rows(sessions.totals(found, "tag")),
            "by_site": _totals_rows(sessions.totals(found, "site")),
            "daily": json.dumps([[_day_start(day, zone), round(kwh, 3)] for day, kwh in sessions.daily_energy(found, zone)]),
            "csv_query": request.GET.urlencode(),
        }
    )
    return render(request, "panel/sessions.html", context)


@login_required
def session_table(request):
    """The table alone, for the list page to fetch again when a session starts or stops."""
    return render(request, "panel/sessions_table.html", _table_context(request))


def _day_start(day, zone):
    return datetime.combine(day, time.min, tzinfo=zone).timestamp()


@login_required
def session_csv(request):
    filters = sessions.SessionFilters.from_query(request.GET)
    lines = sessions.csv_started(sessions.search(request.user, filters))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sessions-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


def _session_or_404(request, pk):
    tx = sessions.get(request.user, pk)
    if tx is None:
        raise Http404("no such session")
    return tx


@login_required
def session_page(request, pk):
    tx = _session_or_404(request, pk)
    row = SessionRow(tx)
    connector = sessions.connector_of(tx)
    series = sessions.chart_series(tx)
    context = {
        "row": row,
        "tx": tx,
        "connector": connector,
        "series": json.dumps({"power": series[sessions.POWER], "energy": series[sessions.ENERGY]}),
        "has_data": any(series.values()),
        "last_reading": row.local(_last_reading(series)),
        "can_close": row.state == sessions.ZOMBIE and access.can_operate(request.user, tx.charge_point),
        "power_path": sessions.POWER,
        "energy_path": sessions.ENERGY,
    }
    return render(request, "panel/session.html", context)


def _last_reading(series):
    """When the newest point of the chart arrived (None without one): a suspect that still
    meters after its charger's reboot is probably carried on by the charger, not lost."""
    times = [at for points in series.values() for at, _ in points]
    return datetime.fromtimestamp(max(times), dt_timezone.utc) if times else None


@login_required
@require_POST
def session_close(request, pk):
    try:
        closed = sessions.close_zombie(request.user, pk, request.POST.get("reason", ""))
    except PermissionError as exc:
        return forbidden(request, str(exc))
    except sessions.CloseRefused as exc:
        messages.error(request, str(exc))
        return redirect("panel:session", pk=pk)
    if closed is None:
        raise Http404("no such session")
    messages.success(request, f"Session {closed.pk} closed: {closed.close_note}")
    return redirect("panel:session", pk=pk)


urlpatterns = [
    path("sessions/", session_list, name="sessions"),
    path("sessions.csv", session_csv, name="sessions-csv"),
    path("sessions/table", session_table, name="sessions-table"),
    path("sessions/<int:pk>/", session_page, name="session"),
    path("sessions/<int:pk>/close", session_close, name="session-close"),
]
