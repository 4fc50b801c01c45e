"""The pages that read the logs: the audit log at `/audit/` (every operator action) and the OCPP
message log at `/messages/` (every frame in and out of the chargers).

Both are filtered by the query string, newest first, paginated with the filters kept in the page
links, and cut to what the user may see:
  audit     entries whose site the user has a role on; entries without a site (shell actions,
            site and operator management) for superusers only
  messages  frames of the charge points the user may see (datapoints.access)
A filter naming a charger the user may not see gives an empty list, exactly as one that does not
exist: never a confirmation that it does.

Times typed into the filters are read in the browser's time zone (the page sends its IANA name in
`tz`), the zone the page shows times in; without it, in the server's TIME_ZONE.
"""
import json
import zoneinfo
from dataclasses import dataclass, fields

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from datapoints import access, messagelog
from datapoints.periods import parse_moment
from datapoints.elements import CHARGER_ACTIONS, CSMS_ACTIONS
from datapoints.models import AuditEntry, MessageLogEntry

AUDIT_PER_PAGE = 100
MESSAGES_PER_PAGE = 100
# Counting every match of a text search over weeks of frames costs a full scan: the message log
# counts at most this many and asks for narrower filters past it.
MESSAGES_COUNT_CAP = 10_000
MESSAGE_TYPES = {messagelog.CALL: "CALL", messagelog.CALLRESULT: "CALLRESULT", messagelog.CALLERROR: "CALLERROR", messagelog.BAD: "BAD"}
PAYLOAD_SHORT = 120
SHELL = "-"  # the user filter's value for actions run from a shell (no user)
NO_SITE = "-"  # the site filter's value for entries without a site (superusers only)


# --- what both pages share ------------------------------------------------------------------------
class CappedPaginator(Paginator):
    """A Paginator that counts at most `cap` rows (None: all); `capped` says whether more match."""

    def __init__(self, object_list, per_page, cap=None):
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def count(self):
        if self.cap is None:
            return super().count
        return min(self._capped_count, self.cap)

    @cached_property
    def _capped_count(self):
        return self.object_list[: self.cap + 1].count()

    @property
    def capped(self):
        return self.cap is not None and self._capped_count > self.cap


def _zone(request):
    try:
        return zoneinfo.ZoneInfo(request.GET.get("tz", ""))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


_time = parse_moment  # a typed time as an aware datetime (datapoints.periods)


@dataclass
class Filters:
    """A page's filters, one text field each, read from the query string; every page has a time
    range. `problems`: what could not be read."""

    since: str = ""
    until: str = ""
    problems: tuple = ()

    @classmethod
    def from_request(cls, request):
        return cls(**{name: request.GET.get(name, "").strip() for name in cls.names()})

    @classmethod
    def names(cls):
        return [f.name for f in fields(cls) if f.name != "problems"]

    @property
    def active(self):
        return any(getattr(self, name) for name in self.names())

    def bounds(self, zone):
        """(since, until) as datetimes (None: open); a bound that cannot be read is left open and
        said in `problems`."""
        found, problems = [], []
        for text, end in ((self.since, False), (self.until, True)):
            try:
                found.append(_time(text, zone, end) if text else None)
            except ValueError as exc:
                found.append(None)
                problems.append(str(exc))
        self.problems = tuple(problems)
        return found


def _visible_ids(user, charge_point_ids):
    """Those of `charge_point_ids` the user may see now (to link them to their pages)."""
    return set(access.visible_charge_points(user).filter(id__in=set(charge_point_ids) - {None}).values_list("id", flat=True))


def _pager(request, page, labels=("« Newest", "‹ Newer", "Older ›", "Oldest »")):
    """Links to the newest, newer, older and oldest page (or what `labels` call them), keeping the
    filters; "" for one page."""
    if page.paginator.num_pages < 2:
        return ""

    def link(number, text, rel):
        query = request.GET.copy()
        query["page"] = number
        return format_html('<a class="button" href="?{}" rel="{}">{}</a>', query.urlencode(), rel, text)

    links = []
    if page.has_previous():
        links += [link(1, labels[0], "first"), link(page.previous_page_number(), labels[1], "prev")]
    links.append(format_html('<span class="muted">Page {} of {}</span>', page.number, page.paginator.num_pages))
    if page.has_next():
        links += [link(page.next_page_number(), labels[2], "next"), link(page.paginator.num_pages, labels[3], "last")]
    return format_html('<nav class="inline-form" aria-label="Pages">{}</nav>', mark_safe(" ".join(links)))  # noqa: S308 (each part is escaped)


def _log_page(request, template, rows, context, per_page, wrap, cap=None):
    """Render one page of `rows`, shown as `wrap` makes them from the page's model rows."""
    page = CappedPaginator(rows, per_page, cap).get_page(request.GET.get("page"))
    context = {**context, "page": page, "rows": wrap(list(page.object_list)), "pager": _pager(request, page), "zone": request.GET.get("tz", "")}
    return render(request, template, context)


# --- the audit log --------------------------------------------------------------------------------
def visible_audit(user):
    """The AuditEntry rows `user` may read."""
    if user.is_superuser:
        return AuditEntry.objects.all()
    return AuditEntry.objects.filter(site__in=access.visible_sites(user))


@dataclass
class AuditFilters(Filters):
    site: str = ""
    user: str = ""
    charger: str = ""
    action: str = ""
    outcome: str = ""  # "" all, "failed", "ok"

    def apply(self, entries, zone):
        if self.site == NO_SITE:
            entries = entries.filter(site__isnull=True)
        elif self.site:
            entries = entries.filter(site__slug=self.site)
        if self.user == SHELL:
            entries = entries.filter(username="")
        elif self.user:
            entries = entries.filter(username=self.user)
        if self.charger:
            # the ClientId or datapoint name, or a part of the target's text (an element write's
            # target is the element's full path): only among the entries the user may read
            entries = entries.filter(Q(charge_point__client_id=self.charger) | Q(charge_point__name=self.charger) | Q(target__icontains=self.charger))
        if self.action:
            entries = entries.filter(action=self.action)
        if self.outcome in ("failed", "ok"):
            entries = entries.filter(ok=self.outcome == "ok")
        since, until = self.bounds(zone)
        if since is not None:
            entries = entries.filter(at__gte=since)
        if until is not None:
            entries = entries.filter(at__lte=until)
        return entries


@login_required
def audit(request):
    readable = visible_audit(request.user)
    filters = AuditFilters.from_request(request)
    entries = filters.apply(readable, _zone(request)).select_related("site", "charge_point").order_by("-at", "-id")
    context = {
        "filters": filters,
        "sites": access.visible_sites(request.user),
        "usernames": readable.exclude(username="").order_by("username").values_list("username", flat=True).distinct(),
        "actions": readable.order_by("action").values_list("action", flat=True).distinct(),
    }

    def wrap(page_entries):
        # a charger is linked to its page only when the user may see it now (it may have moved)
        linked = _visible_ids(request.user, [entry.charge_point_id for entry in page_entries])
        return [AuditRow(entry, entry.charge_point_id in linked) for entry in page_entries]

    return _log_page(request, "panel/audit.html", entries, context, AUDIT_PER_PAGE, wrap)


@dataclass
class AuditRow:
    """An AuditEntry as the page shows it; `linked`: its charger's page is open to the user."""

    entry: AuditEntry
    linked: bool

    @property
    def target(self):
        """The target with a line break allowed after each dot (element paths are long)."""
        return mark_safe(".<wbr>".join(escape(part) for part in self.entry.target.split(".")))  # noqa: S308 (escaped)


# --- the message log ------------------------------------------------------------------------------
@dataclass
class MessageFilters(Filters):
    charger: str = ""
    action: str = ""
    direction: str = ""  # "" both, "in", "out"
    kind: str = ""  # "" all, or a message type number as text
    text: str = ""

    def frames(self, user, zone):
        """The frames matching the filters among those the user may read, newest first."""
        since, until = self.bounds(zone)
        charge_point = None
        if self.charger:
            try:
                charge_point = access.charge_point_for(user, self.charger)
            except Http404:  # unknown, or on a site the user has no right on: the same empty list
                return MessageLogEntry.objects.none()
        frames = messagelog.search(charge_point=charge_point, action=self.action, since=since, until=until, text=self.text, limit=None)
        if charge_point is None and not user.is_superuser:
            frames = frames.filter(charge_point__in=access.visible_charge_points(user))
        if self.direction in (MessageLogEntry.IN, MessageLogEntry.OUT):
            frames = frames.filter(direction=self.direction)
        if self.kind.isdigit() and int(self.kind) in MESSAGE_TYPES:
            frames = frames.filter(message_type=int(self.kind))
        return frames


@dataclass
class Frame:
    """A MessageLogEntry as the page shows it."""

    entry: MessageLogEntry

    @property
    def kind(self):
        return MESSAGE_TYPES.get(self.entry.message_type, str(self.entry.message_type))

    @property
    def abnormal(self):
        return self.entry.message_type in (messagelog.CALLERROR, messagelog.BAD)

    @property
    def short(self):
        payload = self.entry.payload
        return payload if len(payload) <= PAYLOAD_SHORT else payload[: PAYLOAD_SHORT - 1] + "…"

    @property
    def long(self):
        return len(self.entry.payload) > PAYLOAD_SHORT

    @cached_property
    def whole(self):
        """The payload indented when it is JSON, as stored otherwise."""
        try:
            return json.dumps(json.loads(self.entry.payload), indent=2, ensure_ascii=False)
        except ValueError:
            return self.entry.payload


def message_log_days():
    return getattr(settings, "OCPP_MESSAGE_LOG_DAYS", 7)


@login_required
def messages(request):
    filters = MessageFilters.from_request(request)
    frames = filters.frames(request.user, _zone(request)).select_related("charge_point")
    context = {
        "filters": filters,
        "days": message_log_days(),
        "known_actions": sorted(set(CHARGER_ACTIONS) | set(CSMS_ACTIONS)),
        "message_types": sorted(MESSAGE_TYPES.items(), key=lambda item: item[0] or 99),
    }
    return _log_page(request, "panel/messages.html", frames, context, MESSAGES_PER_PAGE, lambda rows: [Frame(row) for row in rows], MESSAGES_COUNT_CAP)


urlpatterns = [
    path("audit/", audit, name="audit"),
    path("messages/", messages, name="messages"),
]
