"""The local authorization list: the id tags with in_local_list, versioned, pushed to chargers with
SendLocalList (docs/decisions/0013-id-tags-local-lists-reservations.md).

Versions: every change of a tag that shows in the list (id_tags.save_tag / delete_tag) gives it the
next version, max + 1, under one lock (a PostgreSQL advisory lock; SQLite serialises writers). The
current version is the highest one given. A deleted tag leaves a tombstone, its audit entry
(action `id_tag_delete`, detail.list_version), so a differential update can still remove it.

Sync with one charger (`sync`): GetLocalListVersion first; equal: nothing to do; the charger at 0,
or ahead of us: a Full list; behind: a Differential update with the tags changed since its
version (the removed ones without idTagInfo); VersionMismatch: the Full list. Messages longer than
the charger's SendLocalListMaxLength are split: the entries in version order, each message but the
last carrying the version below the next message's lowest, so a charger that stops half-way holds
a list that is right for the version it reports. A list longer than LocalAuthListMaxLength is not
sent; the outcome says so. The outcome goes to State.LocalListSync.
"""
import asyncio
import contextvars
import logging
import threading
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.db.models import IntegerField, Max
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from . import audit
from .charge_points import element_values
from .models import AuditEntry, Element, IdTag

log = logging.getLogger(__name__)
LOCK_KEY = 0x0CA11D  # the PostgreSQL advisory lock of the list version
REMOVAL = "id_tag_delete"
UNSUPPORTED = -1  # GetLocalListVersion's answer from a charger without a local list


# --- versions -----------------------------------------------------------------------------------
def _lock(shared=False):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_advisory_xact_lock{'_shared' if shared else ''}(%s)", [LOCK_KEY])


def _removals():
    return AuditEntry.objects.filter(action=REMOVAL, detail__list_version__gt=0)


def current_version():
    tags = IdTag.objects.aggregate(v=Max("list_version"))["v"] or 0
    removed = _removals().aggregate(v=Max(Cast(KT("detail__list_version"), IntegerField())))["v"] or 0
    return max(tags, removed)


def next_version():
    """The next list version, locked until the caller's transaction ends (call inside one)."""
    _lock()
    return current_version() + 1


def record_removal(id_tag, version, user=None):
    """The audit entry of a tag's deletion (or renaming); with a version > 0 it is a tombstone."""
    audit.record(user, REMOVAL, target=id_tag, detail={"id_tag": id_tag, "list_version": version})


# --- what to send -------------------------------------------------------------------------------
@dataclass
class Plan:
    version: int  # the current version: the charger's after the last message
    full: bool
    entries: list = field(default_factory=list)  # [(list_version, SendLocalList entry)], in version order
    in_list: int = 0  # tags in the list

    def messages(self, max_length=None):
        """[(updateType, listVersion, entries)] with at most `max_length` entries each."""
        size = max_length if max_length and max_length > 0 else max(len(self.entries), 1)
        chunks = [self.entries[i : i + size] for i in range(0, len(self.entries), size)] or [[]]
        messages = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            version = self.version if last else chunks[index + 1][0][0] - 1
            kind = "Full" if self.full and index == 0 else "Differential"
            messages.append((kind, version, [entry for _v, entry in chunk]))
        return messages


def plan(charger_version, force_full=False, now=None):
    """What brings a charger at `charger_version` to the current list; None when it has it."""
    from .id_tags import list_entry, tags_where

    now = now or timezone.now()
    with transaction.atomic():
        _lock(shared=True)
        version = current_version()
        if charger_version == version and not force_full:
            return None
        full = force_full or charger_version <= 0 or charger_version > version
        in_list_count = IdTag.objects.filter(in_local_list=True).count()
        rows = tags_where("t.in_local_list = %s", [True], count=False) if full else tags_where("t.list_version > %s", [charger_version], count=False)
        entries = [(t.list_version, list_entry(t, now)) for t in rows]
        if not full:
            present = {entry["idTag"] for _v, entry in entries}  # deleted, then made again: the new row says
            entries += [(v, {"idTag": t}) for t, v in _removed(charger_version) if t not in present]
    entries.sort(key=lambda item: item[0])
    return Plan(version, full, entries, in_list_count)


def _removed(since):
    latest = {}
    for detail in _removals().filter(detail__list_version__gt=since).values_list("detail", flat=True):
        latest[detail["id_tag"]] = max(detail["list_version"], latest.get(detail["id_tag"], 0))
    return sorted(latest.items())


def limits(dp_id):
    """(SendLocalListMaxLength, LocalAuthListMaxLength) from the charger's Configuration.* elements;
    None where not known."""
    keys = ["Configuration.SendLocalListMaxLength", "Configuration.LocalAuthListMaxLength"]
    values = element_values(dp_id, keys)
    return tuple(_positive(values.get(k)) for k in keys)


def _positive(text):
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


# --- sync ---------------------------------------------------------------------------------------
def in_database_thread(function):
    """ORM work from a coroutine: on the server's database thread, or on a thread of its own on the
    background loop of a synchronous caller (a panel view, the CLI) that is blocked waiting."""
    from .commands import _in_database_thread

    return _in_database_thread(function)


@dataclass
class SyncOutcome:
    status: str  # in_sync | sent | failed | unsupported | too_long
    text: str
    version: int = None

    @property
    def ok(self):
        return self.status in ("in_sync", "sent")

    def as_element(self, now):
        return {"status": self.status, "text": self.text, "version": self.version, "at": now.isoformat()}


async def sync(charge_point, timeout=None):
    """Bring one charger's local list to the current version (charge_point: a Datapoint or DpRef).
    Returns a SyncOutcome, also stored in State.LocalListSync."""
    from .commands import CommandRefused, send_command_async

    try:
        outcome = await _sync(charge_point, timeout, send_command_async)
    except CommandRefused as exc:
        outcome = SyncOutcome("failed", f"refused: {exc}")
    await in_database_thread(_store_outcome)(charge_point.name, outcome)
    return outcome


async def _sync(dp, timeout, send):
    asked = await send(dp.name, "GetLocalListVersion", {}, timeout)
    if asked.status != "answered":
        return SyncOutcome("failed", f"GetLocalListVersion: {_why(asked)}")
    charger_version = asked.response["listVersion"]
    if charger_version == UNSUPPORTED:
        return SyncOutcome("unsupported", "the charger has no local authorization list (GetLocalListVersion answered -1)", charger_version)
    force_full = False
    while True:
        wanted = await in_database_thread(plan)(charger_version, force_full)
        if wanted is None:
            return SyncOutcome("in_sync", f"in sync at version {charger_version}", charger_version)
        send_max, list_max = await in_database_thread(limits)(dp.id)
        if list_max is not None and wanted.in_list > list_max:
            return SyncOutcome("too_long", f"the list has {wanted.in_list} tags; the charger holds at most {list_max} (LocalAuthListMaxLength): take tags out of the list", charger_version)
        result = await _send_messages(dp, wanted, send_max, timeout, send)
        if result == "VersionMismatch" and not wanted.full:
            force_full = True  # the charger's list is not the one we think: start over
            continue
        return result


async def _send_messages(dp, wanted, max_length, timeout, send):
    messages = wanted.messages(max_length)
    for index, (kind, version, entries) in enumerate(messages):
        payload = {"listVersion": version, "updateType": kind}
        if entries:
            payload["localAuthorizationList"] = entries
        answer = await send(dp.name, "SendLocalList", payload, timeout)
        if answer.status != "answered":
            return SyncOutcome("failed", f"SendLocalList {index + 1} of {len(messages)}: {_why(answer)}")
        status = answer.response["status"]
        if status == "VersionMismatch" and not wanted.full:
            return status
        if status != "Accepted":
            return SyncOutcome("failed", f"SendLocalList {kind} version {version}: the charger answered {status}")
    split = f" in {len(messages)} messages" if len(messages) > 1 else ""
    what = f"{wanted.in_list} tags" if wanted.full else f"{len(wanted.entries)} changes"
    return SyncOutcome("sent", f"{'Full list' if wanted.full else 'Differential update'} version {wanted.version}: {what}{split}", wanted.version)


def _why(outcome):
    if outcome.status == "error":
        return f"CALLERROR {outcome.error_code} {outcome.error}".strip()
    return f"{outcome.status} ({outcome.error})" if outcome.error else outcome.status


def _store_outcome(name, outcome):
    from .paths import set_value

    set_value(f"{name}.State.LocalListSync", outcome.as_element(timezone.now()), operator=False)


async def sync_many(charge_points, timeout=None, concurrency=50):
    """sync() for each -> [(charge point, SyncOutcome)], at most `concurrency` at once."""
    limit = asyncio.Semaphore(concurrency)

    async def one(dp):
        async with limit:
            return dp, await sync(dp, timeout)

    return await asyncio.gather(*(one(dp) for dp in charge_points))


# --- after a boot -------------------------------------------------------------------------------
BOOT_BATCH_SECONDS = 0.2  # the boots of this long are checked with one query (a reconnect storm)
_boot_lock = threading.Lock()
_booted = {}  # charge point id -> DpRef, waiting for the next check
_check_scheduled = False


def after_boot(session, status):
    """In a BootNotification handler (database thread, in the batch): once the answer is committed,
    check the charger's list off the answer path."""
    if status == "Accepted":
        transaction.on_commit(lambda: _boot_committed(session.cp))


def _boot_committed(cp):
    global _check_scheduled
    with _boot_lock:
        _booted[cp.id] = cp
        if _check_scheduled:
            return
        _check_scheduled = True
    try:
        async_to_sync(_schedule_boot_checks)()  # one hop to the event loop per batch, not per boot
    except Exception:  # never fail the commit's other callbacks; the next boot tries again
        log.exception("could not schedule the local list check after boot")
        with _boot_lock:
            _check_scheduled = False


async def _schedule_boot_checks():
    # A fresh context: the task outlives this async_to_sync call, whose thread executor it would inherit.
    asyncio.get_running_loop().create_task(_boot_checks(), context=contextvars.Context())


async def _boot_checks():
    global _check_scheduled
    await asyncio.sleep(BOOT_BATCH_SECONDS)
    with _boot_lock:
        batch = dict(_booted)
        _booted.clear()
        _check_scheduled = False
    try:
        wanted = await in_database_thread(_worth_asking)(list(batch))
        await sync_many([batch[dp_id] for dp_id in wanted])
    except Exception:
        log.exception("local list check after the boots of %d chargers failed", len(batch))


def _worth_asking(dp_ids):
    """The chargers worth a GetLocalListVersion: none while no list was ever made here (a list the
    charger holds from elsewhere is not wiped by an empty one), else all but those known to have no
    local list. Two queries for any number."""
    if current_version() == 0:
        return []
    known = dict(Element.objects.filter(datapoint_id__in=dp_ids, path="State.LocalListVersion").values_list("datapoint_id", "value"))
    return [dp_id for dp_id in dp_ids if known.get(dp_id) != UNSUPPORTED]
