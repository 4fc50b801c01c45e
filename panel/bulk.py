"""One command to many charge points from the fleet overview, with the outcomes as they come in.

Starting a batch records an audit entry `command_many` (the action, the payload, the ClientIds),
then sends to every target at once on the server's event loop; each outcome is recorded as the
audit entry `command` of its charger, tagged with the batch id. The progress the page polls is
read back from those entries, so it survives a reload, any node can show it, and the audit log
keeps who sent what to whom and what each charger answered.
"""
import asyncio
import contextvars
import logging
import uuid

from asgiref.sync import sync_to_async

from datapoints import audit
from datapoints.commands import CommandRefused, send_command_async
from datapoints.models import AuditEntry
from datapoints.protocol.results import redacted

log = logging.getLogger(__name__)
_running = set()  # the tasks of batches in flight (a task nobody references may be collected)


def begin(user, charge_points, action, payload):
    """Record the batch; -> its id. The caller has checked the rights and the payload."""
    batch = uuid.uuid4().hex
    targets = [dp.client_id for dp in charge_points]
    audit.record(user, "command_many", site=audit.shared_site(charge_points), target=f"{action} to {len(targets)} charge points", detail={"batch": batch, "command": action, "payload": redacted(action, payload), "targets": targets})
    return batch


def send_in_background(user, charge_points, action, payload, timeout, batch):
    """Send to every target at once on this (the server's) event loop; returns at once.

    The task gets a context of its own: in the request's context, database work would go to the
    request's thread executor (Django's per-request ThreadSensitiveContext), which is gone as soon
    as the response is sent ("CurrentThreadExecutor already quit")."""
    task = asyncio.get_running_loop().create_task(_send_all(user, charge_points, action, payload, timeout, batch), context=contextvars.Context())
    _running.add(task)
    task.add_done_callback(_running.discard)


async def _send_all(user, charge_points, action, payload, timeout, batch):
    results = await asyncio.gather(*(_send_one(user, dp, action, payload, timeout, batch) for dp in charge_points), return_exceptions=True)
    for dp, result in zip(charge_points, results):
        if isinstance(result, BaseException):
            log.error("batch %s: the outcome of %s to %s could not be recorded", batch, action, dp.client_id, exc_info=result)


async def _send_one(user, dp, action, payload, timeout, batch):
    try:
        outcome = await send_command_async(dp, action, payload, timeout)
    except CommandRefused as exc:
        await sync_to_async(audit.record_command)(user, dp, action, payload, None, str(exc), batch=batch)
        return
    except Exception as exc:  # one charger's failure must not stop the others' records
        await sync_to_async(audit.record)(user, "command", charge_point=dp, detail={"command": action, "batch": batch}, ok=False, outcome=f"failed: {exc}")
        return
    await sync_to_async(audit.record_command)(user, dp, action, payload, outcome, batch=batch)


def progress(user, batch):
    """(the batch's entry, [per-charger entries]) or (None, []) if it is not this user's to see."""
    head = AuditEntry.objects.filter(action="command_many", detail__batch=batch).first()
    if head is None or not (user.is_superuser or head.user_id == user.id):
        return None, []
    done = list(AuditEntry.objects.filter(action="command", detail__batch=batch).select_related("charge_point").order_by("at"))
    return head, done
