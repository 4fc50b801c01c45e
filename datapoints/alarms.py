"""Alarms, as SCADA operators know them: an alarm comes, goes, and is acknowledged by someone.

One active alarm (went_at empty) per charger, connector and kind: the Alarm model's partial unique
constraint. Kinds: faulted (a connector reported Faulted), offline (a charger disconnected longer
than OCPP_OFFLINE_ALARM_MINUTES), hook_failed (a request hook's answer was not used), and the
energy anomalies energy_negative, energy_unit, meter_reset (raised by datapoints/metering/).

Every came and went rewrites the mirror elements, so change hooks and the panel's live socket see
alarms like any other value:
  <charge point>.Alarms.Active  sorted kinds active on the charger or any of its connectors
  <charge point>.Alarms.Count   number of active alarms on the charger and its connectors
  <connector>.Alarms.Active / .Alarms.Count   the same for that connector alone

Sources wired here (each a one-line call from the place that knows):
  on_status        StatusNotification (handlers.py): Faulted comes, any other status goes. The
                   session knows which connectors have an active faulted alarm (loaded with the
                   handshake's queries), so a common StatusNotification costs no query.
  on_connected     a connection opens (consumer.py): an offline alarm goes.
  on_hook_error    Requests.<A>.HookError written (dispatch.py): non-empty comes, cleared goes
                   once no action's hook is failing on this connection.
  check_offline    periodic (Daphne's loop and Celery beat): offline alarms come and go.
"""
import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .elements import CHARGE_POINT
from .events import publish_on_commit
from .models import Alarm, Datapoint, Element
from .writes import DpRef, write_elements

log = logging.getLogger(__name__)
FAULTED, OFFLINE, HOOK_FAILED = "faulted", "offline", "hook_failed"
KINDS = dict(Alarm.KINDS)
MAX_CHECK_INTERVAL = 60.0


# --- the domain API -------------------------------------------------------------------------------
def came(charge_point_id, kind, text, connector_id=0, detail=None, at=None, work=None):
    """Raise an alarm; True if it came now, False if the same one (charger, connector, kind) was
    active already (its text and time are kept: an alarm comes once).

    Contract: call inside a transaction (the recorder's batch transaction is one); it opens none of
    its own, makes no network call and touches only this charger's alarm rows (an insert racing
    the same alarm from another process waits for that one to commit, then does nothing). With
    `work` (a recorder unit's, from a handler) the mirror elements ride in the batch's element
    writes and are published with them; without it they are written at once and published on
    commit. `at` defaults to the batch time (`work.now`), else now.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown alarm kind {kind!r}; one of {', '.join(KINDS)}")
    if _active(charge_point_id, connector_id, kind).exists():
        return False
    at = at or (work.now if work is not None else timezone.now())
    # ON CONFLICT DO NOTHING: a concurrent twin is already active, which is what we want.
    Alarm.objects.bulk_create(
        [Alarm(charge_point_id=charge_point_id, connector_id=connector_id, kind=kind, text=text, detail=detail or {}, came_at=at)],
        ignore_conflicts=True,
    )
    log.warning("alarm came: %s on datapoint %s connector %s: %s", kind, charge_point_id, connector_id, text)
    _mirror(charge_point_id, connector_id, work)
    return True


def went(charge_point_id, kind, connector_id=0, at=None, work=None):
    """End the active alarm; True if one was active. Same contract as `came`."""
    at = at or (work.now if work is not None else timezone.now())
    if not _active(charge_point_id, connector_id, kind).update(went_at=at):
        return False
    log.info("alarm went: %s on datapoint %s connector %s", kind, charge_point_id, connector_id)
    _mirror(charge_point_id, connector_id, work)
    return True


def acknowledge(alarm, user):
    """Acknowledge one alarm (active or gone) in the name of `user`, with an audit entry; False if
    it was acknowledged already (the first acknowledgement is kept)."""
    return acknowledge_all(Alarm.objects.filter(pk=alarm.pk), user) == 1


def acknowledge_all(queryset, user):
    """Acknowledge the unacknowledged alarms of `queryset`; one audit entry per charge point.
    Returns how many were acknowledged. Rights are the caller's business (datapoints.access)."""
    from . import audit

    now = timezone.now()
    name = user.get_username() if user is not None and user.is_authenticated else ""
    with transaction.atomic():
        pending = list(queryset.filter(acknowledged_at__isnull=True).select_for_update(of=("self",)).select_related("charge_point__site").order_by("id"))
        if not pending:
            return 0
        Alarm.objects.filter(pk__in=[a.pk for a in pending]).update(
            acknowledged_at=now, acknowledged_by=user if name else None, acknowledged_by_name=name
        )
        by_charger = {}
        for alarm in pending:
            by_charger.setdefault(alarm.charge_point_id, []).append(alarm)
        for alarms in by_charger.values():
            cp = alarms[0].charge_point
            audit.record(
                user,
                "alarm_ack",
                charge_point=cp,
                target=cp.client_id,
                detail={"alarms": [{"id": a.pk, "kind": a.kind, "connector": a.connector_id, "came_at": a.came_at.isoformat()} for a in alarms]},
                outcome=", ".join(f"{a.kind}" + (f" on connector {a.connector_id}" if a.connector_id else "") for a in alarms),
            )
    return len(pending)


def active_keys(charge_point_ids):
    """{charge point id: {(connector_id, kind)}} of the active alarms, in one query."""
    keys = {}
    for cp_id, connector_id, kind in Alarm.objects.filter(charge_point_id__in=charge_point_ids, went_at__isnull=True).values_list("charge_point_id", "connector_id", "kind"):
        keys.setdefault(cp_id, set()).add((connector_id, kind))
    return keys


def _active(charge_point_id, connector_id, kind):
    return Alarm.objects.filter(charge_point_id=charge_point_id, connector_id=connector_id, kind=kind, went_at__isnull=True)


def _mirror(charge_point_id, connector_id, work=None):
    """Rewrite Alarms.Active / Alarms.Count of the charge point and of the connector."""
    active = list(Alarm.objects.filter(charge_point_id=charge_point_id, went_at__isnull=True).values_list("connector_id", "kind"))
    wanted = Q(id=charge_point_id) | Q(charge_point_id=charge_point_id, connector_id=connector_id) if connector_id else Q(id=charge_point_id)
    writes = []
    for dp_id, name, dp_type, own_connector in Datapoint.objects.filter(wanted).values_list("id", "name", "dp_type", "connector_id"):
        mine = active if dp_type == CHARGE_POINT else [a for a in active if a[0] == own_connector]
        dp = DpRef(dp_id, name, dp_type)
        writes += [(dp, "Alarms.Active", sorted({kind for _c, kind in mine})), (dp, "Alarms.Count", len(mine))]
    if work is not None:
        for write in writes:
            work.set(*write)
    else:
        publish_on_commit(write_elements(writes))


# --- sources on the protocol path (database thread, inside the recorder's batch) -------------------
def _remember(session, key, present):
    """Update what the session knows once the batch commits (a failed batch changes nothing)."""
    transaction.on_commit(lambda: (session.alarms.add if present else session.alarms.discard)(key))


def on_status(work, session, connector_id, payload):
    """A StatusNotification: Faulted comes; any other status ends a faulted alarm the session knows."""
    key = (connector_id, FAULTED)
    if payload["status"] == "Faulted":
        if key not in session.alarms:
            text = f"connector {connector_id} Faulted: {payload.get('errorCode', '')}" + (f" ({payload['info']})" if payload.get("info") else "")
            detail = {k: payload[k] for k in ("errorCode", "info", "vendorId", "vendorErrorCode", "timestamp") if payload.get(k)}
            came(session.cp.id, FAULTED, text, connector_id, detail, work=work)
            _remember(session, key, True)
    elif key in session.alarms:
        went(session.cp.id, FAULTED, connector_id, work=work)
        _remember(session, key, False)


def on_connected(work, session):
    """A connection opened: the offline alarm (if the session knows one) goes."""
    key = (0, OFFLINE)
    if key in session.alarms:
        went(session.cp.id, OFFLINE, work=work)
        _remember(session, key, False)


def on_hook_error(work, session, action, failure):
    """Requests.<action>.HookError was written: `failure` (a dict) comes, empty goes once no
    action's hook fails on this connection (session.hook_failed_actions)."""
    key = (0, HOOK_FAILED)
    if failure:
        text = f"{action} hook {failure.get('hook') or ''} failed: {failure.get('error', '')}".replace("  ", " ")
        if came(session.cp.id, HOOK_FAILED, text, detail={"action": action, "hook": failure.get("hook"), "error": failure.get("error")}, work=work):
            _remember(session, key, True)
    elif not session.hook_failed_actions and went(session.cp.id, HOOK_FAILED, work=work):
        _remember(session, key, False)


# --- the periodic offline check -------------------------------------------------------------------
def check_offline(now=None):
    """Offline alarms: come for a charger disconnected (State.Connected false) since longer than
    OCPP_OFFLINE_ALARM_MINUTES (came_at: when that became true), go for a charger connected again
    (went_at: its State.ConnectedSince), in case its connection did not end the alarm itself.
    Returns (came, went) counts. Synchronous; each alarm in its own short transaction."""
    now = now or timezone.now()
    limit = timedelta(minutes=settings.OCPP_OFFLINE_ALARM_MINUTES)
    connected = dict(Element.objects.filter(path="State.Connected", datapoint__dp_type=CHARGE_POINT).values_list("datapoint_id", "value"))
    alarmed = set(Alarm.objects.filter(kind=OFFLINE, went_at__isnull=True).values_list("charge_point_id", flat=True))
    offline = [dp_id for dp_id, value in connected.items() if value is False and dp_id not in alarmed]
    back = [dp_id for dp_id in alarmed if connected.get(dp_id) is True]
    times = _times(offline + back)
    came_count = went_count = 0
    for dp_id in offline:
        since = _parsed(times.get((dp_id, "State.DisconnectedSince")))
        if since is None or now - since < limit:
            continue
        minutes = settings.OCPP_OFFLINE_ALARM_MINUTES
        with transaction.atomic():
            came_count += came(dp_id, OFFLINE, f"offline since {since.isoformat(timespec='seconds')} (more than {minutes} min)", detail={"disconnected_since": since.isoformat()}, at=since + limit)
    for dp_id in back:
        with transaction.atomic():
            went_count += went(dp_id, OFFLINE, at=_parsed(times.get((dp_id, "State.ConnectedSince"))) or now)
    if came_count or went_count:
        log.info("offline alarms: %d came, %d went", came_count, went_count)
    return came_count, went_count


def _times(dp_ids):
    rows = Element.objects.filter(datapoint_id__in=dp_ids, path__in=["State.DisconnectedSince", "State.ConnectedSince"]).values_list("datapoint_id", "path", "value")
    return {(dp_id, path): value for dp_id, path, value in rows}


def _parsed(text):
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt_timezone.utc)


def ensure_periodic_tasks():
    """Start this process's periodic offline check (called when a charger connects)."""
    from .periodic import ensure_periodic

    ensure_periodic("offline-alarms", check_interval(), _check_in_background)


def check_interval():
    """Seconds between this process's offline checks: a quarter of OCPP_OFFLINE_ALARM_MINUTES, at
    least 1, at most a minute (Celery beat checks every minute too)."""
    return max(1.0, min(MAX_CHECK_INTERVAL, settings.OCPP_OFFLINE_ALARM_MINUTES * 15.0))


async def _check_in_background():
    import asyncio

    from .hook_runner import in_own_connection

    await asyncio.get_running_loop().run_in_executor(None, in_own_connection, check_offline)
