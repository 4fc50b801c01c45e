"""Charging sessions (Transaction rows) as people look at them: who may see which, filters,
sorting, totals over a period, zombie suspects and closing one. The panel's sessions pages and
(issue 10) the REST API only render what this module answers.

Rights follow the charge points (datapoints.access): a session is visible when its charge point
is; sessions of charge points in no site are for superusers only.

A session's *begin* is the charger's StartTransaction timestamp (`start_time`), or the time it
arrived when that is missing; its *end* is `stop_time` (open sessions run until now). A period
filter picks the sessions that began in it.

A zombie suspect is an open session (no StopTransaction) that can no longer be running: a later
StartTransaction arrived for the same connector, or the charger booted after the session began
(its `State.LastBoot` history). Both are judged on the server's clock (when telegrams arrived),
not the charger's. See docs/decisions/0011-sessions.md.
"""
import csv
import zoneinfo
from dataclasses import dataclass, fields
from datetime import timedelta
from itertools import chain, islice

from django.db import transaction
from django.db.models import BooleanField, Case, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Now, TruncDate
from django.utils import timezone

from . import access, audit
from .models import Datapoint, Element, ElementChange, Site, Transaction
from .periods import parse_moment
from .paths import set_value

OPEN, CLOSED, ZOMBIE = "open", "closed", "zombie"
STATES = (OPEN, CLOSED, ZOMBIE)
CURRENT_TX = "Transaction.CurrentTransactionId"
POWER, ENERGY = "Metering.Power.Active.Import", "Metering.Energy.Session"
CHART_GRACE = timedelta(minutes=2)  # the final readings arrive with StopTransaction, after stop_time
# Sort keys offered to users -> the annotated columns they sort by.
SORTS = {
    "id": "pk",
    "charger": "charge_point__client_id",
    "connector": "connector_id",
    "site": "charge_point__site__slug",
    "tag": "id_tag",
    "start": "begin",
    "stop": "stop_time",
    "duration": "duration",
    "kwh": "energy_kwh",
    "reason": "stop_reason",
}
DEFAULT_SORT = "-start"
BEGIN = Coalesce("start_time", "created_at")  # the charger's start, else when it arrived


class CloseRefused(ValueError):
    """Why a session cannot be closed by an operator (the message says what to do)."""


# --- which sessions --------------------------------------------------------------------------------
def visible(user):
    """The sessions `user` may see, annotated (see `annotate`)."""
    return annotate(Transaction.objects.filter(charge_point__in=access.visible_charge_points(user)))


def annotate(sessions):
    """Adds begin, duration (to now while open), later_start, booted_after and zombie."""
    later_start = _begun(Transaction.objects.filter(charge_point_id=OuterRef("charge_point_id"), connector_id=OuterRef("connector_id"))).filter(began__gt=OuterRef("begin"))
    booted_after = ElementChange.objects.filter(datapoint_id=OuterRef("charge_point_id"), path="State.LastBoot", changed_at__gt=OuterRef("created_at"))
    return (
        sessions.annotate(begin=BEGIN)
        .annotate(
            duration=ExpressionWrapper(Coalesce("stop_time", Now()) - F("begin"), output_field=DurationField()),
            later_start=_if_open(Exists(later_start)),
            booted_after=_if_open(Exists(booted_after)),
        )
        .annotate(zombie=ExpressionWrapper(Q(meter_stop__isnull=True) & (Q(later_start=True) | Q(booted_after=True)), output_field=BooleanField()))
    )


def _if_open(condition):
    """`condition` for open sessions, False for stopped ones without asking (a CASE: the database
    runs the subquery only for the few open rows, not for every row of a long history)."""
    return Case(When(meter_stop__isnull=True, then=condition), default=Value(False), output_field=BooleanField())


def _begun(sessions):
    return sessions.annotate(began=BEGIN)


def zone_of(site):
    """The time zone a site's times are shown in (the server's TIME_ZONE without a site)."""
    try:
        return zoneinfo.ZoneInfo(site.time_zone) if site is not None else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


@dataclass
class SessionFilters:
    """The filters of a sessions list, as typed (query string or API parameters).
    site: a slug; charger: ClientId or datapoint name; tag: an id tag; state: open, closed or
    zombie; since/until: the period the sessions began in; sort: a SORTS key, `-` for descending.
    `problems` lists what could not be read (that filter is then not applied)."""

    site: str = ""
    charger: str = ""
    tag: str = ""
    state: str = ""
    since: str = ""
    until: str = ""
    sort: str = DEFAULT_SORT
    problems: tuple = ()
    fallback_zone: object = None  # without a site filter: the zone of the user's only site (search())

    @classmethod
    def from_query(cls, query):
        values = {name: query.get(name, "").strip() for name in cls.names()}
        values["sort"] = values["sort"] or DEFAULT_SORT
        return cls(**values)

    @classmethod
    def names(cls):
        return [f.name for f in fields(cls) if f.name not in ("problems", "fallback_zone")]

    @property
    def active(self):
        return any(getattr(self, name) for name in self.names() if name != "sort")

    def zone(self):
        """Period bounds are read in the chosen site's time zone, else in `fallback_zone`, else
        in the server's."""
        if not self.site and self.fallback_zone is not None:
            return self.fallback_zone
        return zone_of(Site.objects.filter(slug=self.site).first() if self.site else None)

    def bounds(self):
        found, problems = [], []
        zone = self.zone()
        for text, end in ((self.since, False), (self.until, True)):
            try:
                found.append(parse_moment(text, zone, end) if text else None)
            except ValueError as exc:
                found.append(None)
                problems.append(f"{'From' if not end else 'To'}: {exc}")
        if self.state and self.state not in STATES:
            problems.append(f"State {self.state!r} is not one of {', '.join(STATES)}.")
        self.problems = tuple(problems)
        return found

    def order(self):
        """The ORDER BY of `sort` (unknown keys: newest first), ties broken by id."""
        key = self.sort.lstrip("-")
        column = SORTS.get(key)
        if column is None:
            column, descending = SORTS["start"], True
        else:
            descending = self.sort.startswith("-")
        expression = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
        return [expression, "-pk" if descending else "pk"]

    def apply(self, sessions):
        since, until = self.bounds()
        if self.site:
            sessions = sessions.filter(charge_point__site__slug=self.site)
        if self.charger:
            sessions = sessions.filter(Q(charge_point__client_id=self.charger) | Q(charge_point__name=self.charger))
        if self.tag:
            sessions = sessions.filter(id_tag=self.tag)
        if self.state == OPEN:
            sessions = sessions.filter(meter_stop__isnull=True)
        elif self.state == CLOSED:
            sessions = sessions.filter(meter_stop__isnull=False)
        elif self.state == ZOMBIE:
            sessions = sessions.filter(zombie=True)
        if since is not None:
            sessions = sessions.filter(begin__gte=since)
        if until is not None:
            sessions = sessions.filter(begin__lte=until)
        return sessions


def search(user, filters):
    """The sessions `user` may see that match `filters`, in the filters' order, with their
    charge point and site loaded. A user who sees one site only reads periods in its zone."""
    if not user.is_superuser:
        own = list(access.visible_sites(user)[:2])
        if len(own) == 1:
            filters.fallback_zone = zone_of(own[0])
    return filters.apply(visible(user)).select_related("charge_point", "charge_point__site").order_by(*filters.order())


def state_of(session):
    if session.meter_stop is not None:
        return CLOSED
    return ZOMBIE if getattr(session, "zombie", False) else OPEN


# --- totals ----------------------------------------------------------------------------------------
@dataclass
class Total:
    key: str  # the id tag, or the site's slug ("" for sessions without a site)
    count: int
    kwh: float
    duration: timedelta


def totals(sessions, by):
    """Count, kWh and duration of `sessions` grouped by "tag" or "site", most energy first."""
    column = {"tag": "id_tag", "site": "charge_point__site__slug"}[by]
    rows = (
        sessions.order_by()
        .values(column)
        .annotate(n=Count("pk"), kwh=Coalesce(Sum("energy_kwh"), 0.0), seconds=Sum("duration"))
        .order_by("-kwh", column)
    )
    return [Total(row[column] or "", row["n"], row["kwh"] or 0.0, _as_duration(row["seconds"])) for row in rows]


def _as_duration(value):
    """A summed duration as timedelta: SQLite hands back microseconds, PostgreSQL an interval."""
    if value is None:
        return timedelta(0)
    if isinstance(value, timedelta):
        return value
    return timedelta(microseconds=int(value))


def daily_energy(sessions, zone):
    """[(day, kWh)] of `sessions` by the day (in `zone`) they began, oldest first."""
    rows = sessions.order_by().annotate(day=TruncDate("begin", tzinfo=zone)).values("day").annotate(kwh=Coalesce(Sum("energy_kwh"), 0.0)).order_by("day")
    return [(row["day"], row["kwh"]) for row in rows]


def known_tags(user, limit=500):
    """The id tags of the sessions `user` may see (for the filter's suggestions)."""
    seen = Transaction.objects.filter(charge_point__in=access.visible_charge_points(user))
    return list(seen.order_by("id_tag").values_list("id_tag", flat=True).distinct()[:limit])


# --- CSV -------------------------------------------------------------------------------------------
CSV_HEADER = ["transaction_id", "charger", "datapoint", "connector", "site", "id_tag", "start", "stop", "duration_s", "kwh", "stop_reason", "state", "closed_by", "close_note"]


class _Echo:
    def write(self, value):
        return value


CSV_COLUMNS = [  # what csv_lines reads of each session (values, not model instances: 2x faster)
    "pk", "charge_point__client_id", "charge_point__name", "connector_id", "charge_point__site__slug", "charge_point__site__time_zone",
    "id_tag", "begin", "stop_time", "duration", "energy_kwh", "stop_reason", "meter_stop", "zombie", "closed_by", "close_note",
]


def csv_started(sessions):
    """csv_lines with the query already run: the header and the first row are read before a
    response is made of it, so a database error is an error response, not a 200 whose stream
    breaks (the client waited forever)."""
    lines = csv_lines(sessions)
    first = list(islice(lines, 2))
    return chain(first, lines)


def csv_lines(sessions):
    """The CSV text of `sessions` (as search() gives them), line by line for a streamed download:
    a header row, ISO 8601 times with their offset in each site's time zone, kWh with 3 decimals."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    zones = {}
    for row in sessions.values(*CSV_COLUMNS).iterator(chunk_size=2000):
        tz_name = row["charge_point__site__time_zone"]
        if tz_name not in zones:
            zones[tz_name] = zone_of(Site(time_zone=tz_name) if tz_name else None)
        zone = zones[tz_name]
        state = CLOSED if row["meter_stop"] is not None else (ZOMBIE if row["zombie"] else OPEN)
        yield writer.writerow(
            [
                row["pk"],
                _text(row["charge_point__client_id"]),
                row["charge_point__name"],
                row["connector_id"],
                row["charge_point__site__slug"] or "",
                _text(row["id_tag"]),
                _iso(row["begin"], zone),
                _iso(row["stop_time"], zone),
                int(row["duration"].total_seconds()) if row["duration"] is not None else "",
                f"{row['energy_kwh']:.3f}" if row["energy_kwh"] is not None else "",
                _text(row["stop_reason"]),
                state,
                _text(row["closed_by"]),
                _text(row["close_note"]),
            ]
        )


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value):
    """A text cell a spreadsheet will not run: id tags and ClientIds come from chargers, notes
    from people, and a leading =, +, -, @ would make a formula of it (OWASP's CSV injection)."""
    value = value or ""
    return "'" + value if value.startswith(FORMULA_START) else value


def _iso(moment, zone):
    return timezone.localtime(moment, zone).isoformat() if moment is not None else ""


# --- one session -----------------------------------------------------------------------------------
def get(user, pk):
    """The session `pk` if `user` may see it, else None."""
    return visible(user).select_related("charge_point", "charge_point__site").filter(pk=pk).first()


def connector_of(session):
    """The connector datapoint of a session (None if it was never created)."""
    return Datapoint.objects.filter(charge_point_id=session.charge_point_id, connector_id=session.connector_id).first()


def chart_series(session, now=None):
    """{path: [(unix seconds, value)]} of power (kW) and session energy (kWh) on the connector of
    `session` (as get() or visible() give it), from the element history between its begin and its
    end (now while open)."""
    connector = connector_of(session)
    series = {POWER: [], ENERGY: []}
    if connector is None:
        return series
    begin = min(session.created_at, session.begin)
    end = (session.stop_time + CHART_GRACE) if session.stop_time else (now or timezone.now())
    later = _begun(Transaction.objects.filter(charge_point_id=session.charge_point_id, connector_id=session.connector_id)).filter(began__gt=session.begin)
    next_arrived = later.order_by("began").values_list("created_at", flat=True).first()
    if next_arrived is not None and next_arrived > begin:
        end = min(end, next_arrived)  # the next session's readings are not this one's
    rows = ElementChange.objects.filter(datapoint=connector, path__in=list(series), changed_at__gte=begin, changed_at__lte=end).order_by("changed_at", "id")
    for path, value, at in rows.values_list("path", "value", "changed_at"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            series[path].append((at.timestamp(), value))
    return series


def close_zombie(user, session_id, reason):
    """An operator closes a zombie session: stop time now, reason "Other", who and why, meterStop
    from the last register reading (else meterStart), the energy the metering last set (else from
    the register; never negative); the connector's CurrentTransactionId cleared if it still names
    it; an audit entry. CloseRefused says why not (not open, not a zombie, no reason);
    PermissionError for a viewer; None is returned for a session the user may not see."""
    reason = (reason or "").strip()
    with transaction.atomic():
        session = visible(user).select_related("charge_point", "charge_point__site").filter(pk=session_id).first()
        if session is None:
            return None
        if not access.can_operate(user, session.charge_point):
            raise PermissionError(f"you may view the sessions of {session.charge_point.client_id} but not close them: ask for the operator role on its site")
        if not reason:
            raise CloseRefused("Give a reason for closing the session (what happened to it), then close it again.")
        Transaction.objects.select_for_update().filter(pk=session.pk).values_list("pk").first()  # serialise with a StopTransaction
        session.refresh_from_db(fields=["meter_stop", "energy_kwh", "last_register_kwh", "per_session_register"])
        if session.meter_stop is not None:
            raise CloseRefused(f"Session {session.pk} is already closed ({session.stop_reason or 'stopped'}); nothing was changed.")
        if not (session.later_start or session.booted_after):
            raise CloseRefused(f"Session {session.pk} is not a zombie suspect: no later session on connector {session.connector_id} and no reboot since it began. Wait for the charger's StopTransaction, or stop it with RemoteStopTransaction.")
        now = timezone.now()
        _fill_close(session, user, reason, now)
        session.save(update_fields=["meter_stop", "stopped_at", "stop_time", "stop_reason", "energy_kwh", "closed_by", "close_note"])
        cleared = _clear_current(session)
        audit.record(
            user,
            "session_close",
            charge_point=session.charge_point,
            target=f"transaction {session.pk}",
            detail={"transaction_id": session.pk, "connector_id": session.connector_id, "reason": reason, "meter_stop": session.meter_stop, "energy_kwh": session.energy_kwh, "cleared_current": cleared},
            outcome=f"closed: {reason}",
        )
    return session


def _fill_close(session, user, reason, now):
    if session.last_register_kwh is not None:
        session.meter_stop = round(session.last_register_kwh * 1000)
    else:
        session.meter_stop = session.meter_start
    if session.energy_kwh is None:
        if session.last_register_kwh is None:
            session.energy_kwh = 0.0
        elif session.per_session_register:
            session.energy_kwh = max(0.0, session.last_register_kwh)
        else:
            session.energy_kwh = max(0.0, session.last_register_kwh - session.meter_start / 1000)
    session.energy_kwh = max(0.0, session.energy_kwh)
    session.stop_time = now
    session.stopped_at = now.isoformat().replace("+00:00", "Z")
    session.stop_reason = "Other"
    session.closed_by = user.get_username()
    session.close_note = reason


def _clear_current(session):
    """Set the connector's Transaction.CurrentTransactionId to 0 if it still names `session`
    (through datapoints.paths: history and change events as for any write). True if cleared."""
    connector = connector_of(session)
    if connector is None:
        return False
    current = Element.objects.filter(datapoint=connector, path=CURRENT_TX).values_list("value", flat=True).first()
    if current != session.pk:
        return False
    set_value(f"{connector.name}.{CURRENT_TX}", 0, operator=False)
    return True
