"""The OCPP message log: every frame in and out of every charger, kept OCPP_MESSAGE_LOG_DAYS days.

A row (MessageLogEntry) per frame:
  direction     "in" (charger -> central system) or "out"
  message_type  2 CALL, 3 CALLRESULT, 4 CALLERROR; 0 (BAD) a frame that answers nothing or that
                could not be read: not JSON, no usable message id, a broken shape, a result to a
                call never made (or already timed out), a binary frame
  unique_id     the frame's message id ("" when it has none)
  action        the CALL's action; a CALLRESULT / CALLERROR carries the action of the CALL it
                answers; "" for BAD frames
  payload       the payload as JSON text: as the frame spelled it when it can be cut from the
                frame (a compact or ", "-separated head), else serialized compactly; a
                CALLERROR's is {"errorCode", "errorDescription", "errorDetails"}; a BAD frame's
                is its raw text cut at MAX_RAW characters (a binary frame: the repr of its first
                bytes). A frame longer than MAX_FRAME keeps its type but is stored as its raw
                text, cut. Secrets (AuthorizationKey) are masked as in Commands.*
                (protocol/results.py). NUL and lone surrogates are stored as \\u escapes.

The hot path only appends a tuple to a process-wide buffer (`record`); the recorder's group commit
drains it and stores the rows in the transaction of the batch it commits (`take`, called by
recorder.Recorder): on PostgreSQL inside the statement that writes the batch's elements, so the
log adds no round trip. When there is no traffic, a periodic task
submits an empty unit every FLUSH_INTERVAL seconds while the buffer holds rows. The buffer keeps
at most MAX_BUFFER rows: past that the oldest are dropped and counted in a warning, so a stuck
database cannot eat the memory. With OCPP_MESSAGE_LOG_DAYS=0 nothing is recorded: the callers
test ENABLED first.

`prune()` deletes rows older than OCPP_MESSAGE_LOG_DAYS in batches: Celery beat runs it hourly
(datapoints.tasks.prune_message_log), every Daphne process too (in a thread with its own database
connection, so the recorder is not held up), and `manage.py messagelog_prune`. `search()` is the
query the panel uses.
"""
import asyncio
import json
import logging
import time
from collections import deque
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import MessageLogEntry
from .writes import Rows

log = logging.getLogger(__name__)

ENABLED = settings.OCPP_MESSAGE_LOG_DAYS > 0
IN, OUT = MessageLogEntry.IN, MessageLogEntry.OUT
BAD, CALL, CALLRESULT, CALLERROR = 0, 2, 3, 4
MAX_BUFFER = 100_000
MAX_RAW = 4096
MAX_FRAME = 65536
FLUSH_INTERVAL = 1.0
PRUNE_INTERVAL = 3600.0
PRUNE_BATCH = 5000
_UNIQUE_ID_LENGTH = MessageLogEntry._meta.get_field("unique_id").max_length
_ACTION_LENGTH = MessageLogEntry._meta.get_field("action").max_length

# (charge point id, time.time(), direction, message type, unique id, action, payload, text):
# `payload` is the JSON value and `text` the frame that carried it (or None), or payload is _RAW
# and `text` is what to store as it is.
_RAW = object()
_buffer = deque(maxlen=MAX_BUFFER)
_dropped = 0
_clock = time.time


# --- recording (event loop; callers check ENABLED first) ------------------------------------------
def record(cp_id, direction, message_type, unique_id, action, payload, text=None):
    """Log a frame. `text`, when given, is the frame's own text carrying exactly `payload`: the
    payload's JSON text is then cut from it rather than serialized again. A frame longer than
    MAX_FRAME is stored as its raw text, cut."""
    if text is not None and len(text) > MAX_FRAME:
        return record_raw(cp_id, direction, text, unique_id, action, message_type)
    if len(_buffer) == MAX_BUFFER:
        _drop()
    _buffer.append((cp_id, _clock(), direction, message_type, unique_id, action, payload, text))


def record_raw(cp_id, direction, text, unique_id="", action="", message_type=BAD):
    """A frame stored as its raw text, cut at MAX_RAW: a bad frame, or one longer than MAX_FRAME."""
    if isinstance(text, bytes):
        text = repr(text[:MAX_RAW])
    elif len(text) > MAX_RAW:
        text = text[:MAX_RAW] + f"... [{len(text)} characters]"
    if len(_buffer) == MAX_BUFFER:
        _drop()
    _buffer.append((cp_id, _clock(), direction, message_type, unique_id, action, _RAW, text))


def error_payload(code, description, details):
    return {"errorCode": code, "errorDescription": description, "errorDetails": details}


def _drop():
    global _dropped
    _dropped += 1


# --- storing (database thread, inside the recorder's batch transaction) ---------------------------
def drain():
    """Take every buffered row (oldest first)."""
    global _dropped
    if _dropped:
        dropped, _dropped = _dropped, 0
        log.warning("message log: buffer full (%d rows), dropped the %d oldest", MAX_BUFFER, dropped)
    rows = []
    take = _buffer.popleft
    try:
        for _ in range(len(_buffer)):
            rows.append(take())
    except IndexError:  # the event loop dropped the oldest meanwhile
        pass
    return rows


_COLUMNS = ("charge_point_id", "at", "direction", "message_type", "unique_id", "action", "payload")


def take():
    """Everything buffered as `writes.Rows`, for the recorder to store with its batch's element
    writes (on PostgreSQL in the same statement); None when there is nothing. Never raises: a
    failure here must not cost the batch its commit."""
    try:
        drained = drain()
        return rows(drained) if drained else None
    except Exception:
        log.exception("message log: buffered frames could not be prepared and were dropped")
        return None


def rows(drained):
    return Rows(MessageLogEntry, _COLUMNS, [_stored(row) for row in drained])


def insert_alone(taken):
    """After a failed batch: the rows `take()` gave, in a transaction of their own; dropped (and
    said) if that fails too, so a frame that cannot be stored never costs a charger its answer."""
    try:
        with transaction.atomic():
            taken.insert()
    except Exception as exc:
        log.warning("message log: %d rows could not be stored and were dropped: %s", len(taken.values), exc)


def _stored(row):
    cp_id, at, direction, message_type, unique_id, action, payload, text = row
    if payload is not _RAW:
        text = _payload_text(message_type, unique_id, action, payload, text)
    return (cp_id, at, direction, message_type, _storable(unique_id[:_UNIQUE_ID_LENGTH]), _storable(action[:_ACTION_LENGTH]), _storable(text))


def _payload_text(message_type, unique_id, action, payload, frame):
    """The payload's JSON text: cut from the frame when the frame spells its head the usual way
    (compact, or with ", " separators), else serialized."""
    if frame is not None and '"' not in unique_id and "\\" not in unique_id:
        if message_type != CALL:
            head = f'[{message_type},"{unique_id}",'
            if frame.startswith(head) or frame.startswith(head := f'[{message_type}, "{unique_id}", '):
                return frame[len(head) : frame.rindex("]")].strip()
        elif '"' not in action and "\\" not in action:
            head = f'[2,"{unique_id}","{action}",'
            if frame.startswith(head) or frame.startswith(head := f'[2, "{unique_id}", "{action}", '):
                return frame[len(head) : frame.rindex("]")].strip()
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _storable(text):
    """`text` as every database takes it: NUL and lone surrogates escaped as JSON spells them."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode()
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    return text


# --- the server process's periodic work -----------------------------------------------------------
def ensure_periodic_tasks():
    """Start this process's flush (when idle) and prune tasks; nothing when the log is off."""
    if not ENABLED:
        return
    from .periodic import ensure_periodic

    ensure_periodic("messagelog-flush", FLUSH_INTERVAL, _flush_when_idle)
    ensure_periodic("messagelog-prune", PRUNE_INTERVAL, _prune_in_background, run_first=True)


def _nothing(work):
    return None


async def _flush_when_idle():
    if _buffer:
        from .recorder import get_recorder

        await get_recorder().submit(_nothing)


async def _prune_in_background():
    from .hook_runner import in_own_connection

    await asyncio.get_running_loop().run_in_executor(None, in_own_connection, prune)


# --- retention and search -------------------------------------------------------------------------
def prune(days=None, batch=PRUNE_BATCH, now=None):
    """Delete the rows older than `days` (default OCPP_MESSAGE_LOG_DAYS; 0 deletes them all),
    `batch` ids per DELETE. Returns how many were deleted."""
    days = settings.OCPP_MESSAGE_LOG_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    total = 0
    while True:
        ids = MessageLogEntry.objects.filter(at__lt=cutoff).order_by().values("id")[:batch]
        deleted, _ = MessageLogEntry.objects.filter(id__in=ids).delete()
        total += deleted
        if deleted < batch:
            return total


def search(charge_point=None, action=None, since=None, until=None, text=None, limit=200):
    """MessageLogEntry rows, newest first. `charge_point`: a Datapoint (or DpRef) or its id;
    `action`: exact; `since` <= at <= `until`; `text`: a case-insensitive part of the payload or
    of the message id; at most `limit` rows (None: no limit)."""
    rows = MessageLogEntry.objects.all()
    if charge_point is not None:
        rows = rows.filter(charge_point_id=getattr(charge_point, "id", charge_point))
    if action:
        rows = rows.filter(action=action)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lte=until)
    if text:
        rows = rows.filter(Q(payload__icontains=text) | Q(unique_id__icontains=text))
    rows = rows.order_by("-id")  # newest first (ids follow time; the BRIN index on `at` cannot sort)
    return rows if limit is None else rows[:limit]
