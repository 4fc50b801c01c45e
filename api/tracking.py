"""Commands sent fire-and-track: `POST /api/commands/` stores a TrackedCommand (pending) and sends
the command in a task of its own on the server's event loop, so the work outlives the request;
the task records the outcome and the audit entry. `GET /api/commands/<id>/` reads it.

If the process dies before the outcome is recorded, nothing else would finish the record: a read
past its deadline (the charger's timeout plus the reply grace the sender waits, plus a margin)
turns a pending record into `timeout`, saying so. A late outcome never overwrites a final one.
"""
import asyncio
import contextvars
import logging
import os
import socket
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from datapoints import audit, commands, notify
from datapoints.commands import CommandRefused, Outcome, send_command_async
from datapoints.protocol.results import redacted

from .models import TrackedCommand

log = logging.getLogger(__name__)
PENDING = TrackedCommand.PENDING
EXPIRY_MARGIN_SECONDS = 5
KEEP_DAYS = 30  # then pruned (api/tasks.py, hourly by beat); the audit log keeps the command
_running = set()  # the tasks in flight (a task nobody references may be collected)


def node_name():
    return settings.OCPP_NODE_NAME or f"{socket.gethostname()}:{os.getpid()}"


def create(user, dp, action, payload, timeout):
    """The pending record of a command about to be sent (payload stored with secrets masked)."""
    timeout = float(timeout or settings.OCPP_CALL_TIMEOUT)
    return TrackedCommand.objects.create(
        user=user, charge_point=dp, action=action, payload=redacted(action, payload), timeout=timeout, node=node_name(), created_at=timezone.now()
    )


def deadline(record):
    return record.created_at + timedelta(seconds=record.timeout + commands.REPLY_GRACE_SECONDS + EXPIRY_MARGIN_SECONDS)


def expire_if_stale(record, now=None):
    """A pending record past its deadline becomes `timeout` (its sender died); returns the record."""
    if record.status == PENDING and (now or timezone.now()) > deadline(record):
        why = f"no outcome was recorded by {deadline(record).isoformat(timespec='seconds')}: the process sending it ({record.node}) stopped; the charger may still have acted (see Commands.{record.action}.Response)"
        if TrackedCommand.objects.filter(pk=record.pk, status=PENDING).update(status="timeout", error=why, finished_at=now or timezone.now()):
            log.warning("command %s %s to %s expired: %s", record.pk, record.action, record.charge_point_id, why)
        record.refresh_from_db()
    return record


def finish(record_id, outcome, refused=""):
    """Record the outcome (or the refusal) and the audit entry, as the panel's Send does."""
    record = TrackedCommand.objects.select_related("charge_point__site", "user").get(pk=record_id)
    if outcome is None:
        status, fields = "refused", {"error": refused}
    else:
        status, fields = outcome.status, {"response": outcome.response, "error_code": outcome.error_code, "error": outcome.error}
    if not TrackedCommand.objects.filter(pk=record_id, status=PENDING).update(status=status, finished_at=timezone.now(), **fields):
        log.warning("command %s finished after it had expired (%s); the outcome was %s", record_id, record.status, status)
    user = record.user or get_user_model()()  # a deleted user: audited as nobody
    audit.record_command(user, record.charge_point, record.action, record.payload, outcome, refused)
    record.refresh_from_db()
    return record


async def run(record_id, dp, action, payload, timeout):
    """Send and record; never raises (the outcome is the record)."""
    try:
        outcome, refused = await send_command_async(dp, action, payload, timeout), ""
    except CommandRefused as exc:
        outcome, refused = None, str(exc)
    except Exception as exc:  # noqa: BLE001 - the record must not stay pending
        log.exception("command %s %s to %s failed", record_id, action, dp.name)
        outcome, refused = Outcome("error", error=f"the server failed sending it: {exc}"), ""
    return await database_sync_to_async(finish)(record_id, outcome, refused)


def run_and_wait(record, dp, payload):
    """From a synchronous view: send now, return the finished record."""
    return commands.run_sync(run, record.pk, dp, record.action, payload, record.timeout)


def start(record, dp, payload):
    """From a synchronous view: send in the background, on the server's loop, outliving the request."""
    if notify.IN_SERVER:
        async_to_sync(_spawn)(record.pk, dp, record.action, payload, record.timeout)
    else:  # a shell or a test client in-process: the commands module's own loop
        asyncio.run_coroutine_threadsafe(run(record.pk, dp, record.action, payload, record.timeout), commands._background_loop())


def prune(now=None):
    """Delete tracked commands older than KEEP_DAYS -> how many."""
    cutoff = (now or timezone.now()) - timedelta(days=KEEP_DAYS)
    return TrackedCommand.objects.filter(created_at__lt=cutoff).delete()[0]


async def _spawn(*args):
    # A fresh context: the request's (its thread-sensitive executor) must not leak into the task.
    task = asyncio.get_running_loop().create_task(run(*args), context=contextvars.Context())
    _running.add(task)
    task.add_done_callback(_running.discard)
