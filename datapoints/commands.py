"""Sending a command to a charger: one API for the panel, the CLI, the REST API, hooks and Celery.

    outcome = send_command("_ChargePoint0001", "Reset", {"type": "Soft"}, timeout=30)
    outcome = await send_command_async(...)

1. Refuse before anything is sent (CommandRefused, with the reason): an unknown charge point or
   action, a payload that fails the 1.6 schema (the schema's message), or a rule (no
   RemoteStart/RemoteStopTransaction to a charger that is not Accepted).
2. Record `Commands.<Action>.Request` at once (secrets masked).
3. Find the process holding the charger in the address book; none means offline, answered at once.
4. Send it an `ocpp.command` channel message with a reply channel of our own; the consumer queues it
   (one CALL in flight per charger), records `.Response` / `.Error`, and replies with the outcome.
5. Return the Outcome: answered, error (CALLERROR), invalid (an answer that fails the schema),
   timeout or offline.

Without Redis the in-memory channel layer does not cross processes: outside the server process the
command goes through the server's local HTTP API (`/api/local/command`), which runs step 3-5.
"""
import asyncio
import contextvars
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from . import metrics, notify
from .addresses import address_book
from .charge_points import find_charge_point
from .elements import CSMS_ACTIONS
from .events import publish_on_commit
from .models import Datapoint, Element
from .protocol import errors, validation
from .protocol.results import redacted
from .values import unstorable
from .writes import write_elements

log = logging.getLogger(__name__)
REPLY_GRACE_SECONDS = 5  # how much longer than the charger's timeout we wait for the node's reply
EXIT_CODES = {"answered": 0, "error": 2, "invalid": 2, "timeout": 3, "offline": 4, "refused": 1, "queued": 0}
NEEDS_ACCEPTED = {"RemoteStartTransaction", "RemoteStopTransaction"}
# Inside a request hook: a list that collects send_command calls, sent after the hook's answer.
FOLLOW_UPS = contextvars.ContextVar("ocpp_follow_ups", default=None)


class CommandRefused(ValueError):
    """The command was not sent; the message says why and what to do."""


@dataclass
class Outcome:
    status: str  # answered | error | invalid | timeout | offline (| refused: send_to_many; queued: in a hook)
    response: dict = None
    error_code: str = ""
    error: str = ""
    details: dict = field(default_factory=dict)

    @property
    def exit_code(self):
        return EXIT_CODES[self.status]

    def as_dict(self):
        return asdict(self)


# --- checks, before anything is sent --------------------------------------------------------------
def refuse_unstorable(payload):
    """CommandRefused for a payload the system cannot store or pass between nodes (a NUL, an
    integer beyond 64 bits, nesting deeper than datapoints.values.MAX_DEPTH): checked before the
    schema or a schedule's render walks it."""
    problem = unstorable(payload)
    if problem:
        raise CommandRefused(f"payload refused: {problem}")


def check_command(action, payload):
    if action not in CSMS_ACTIONS:
        raise CommandRefused(f"unknown command {action!r}; the OCPP 1.6 commands are: {', '.join(sorted(CSMS_ACTIONS))}")
    if not isinstance(payload, dict):
        raise CommandRefused(f"the {action} payload must be a JSON object, not {type(payload).__name__}")
    refuse_unstorable(payload)
    try:
        validation.validate(action, payload)
    except errors.CallError as exc:
        raise CommandRefused(f"payload refused by the OCPP 1.6 schema: {exc.description}") from None


def _prepare(charge_points, action, payload):
    """Database thread, one trip for any number of targets: resolve each, apply the rules, and
    record `Commands.<A>.Request` for those that will be sent. -> [Datapoint or CommandRefused]."""
    targets = [_resolve(charge_point) for charge_point in charge_points]
    found = [t for t in targets if isinstance(t, Datapoint)]
    if action in NEEDS_ACCEPTED:
        status = dict(
            Element.objects.filter(datapoint__in=found, path="State.RegistrationStatus").values_list("datapoint_id", "value")
        )
        targets = [_needs_accepted(t, action, status.get(t.id)) if isinstance(t, Datapoint) else t for t in targets]
    _record([(t, action, {"Request": redacted(action, payload), "Error": ""}) for t in targets if isinstance(t, Datapoint)])
    return targets


def _resolve(charge_point):
    if isinstance(charge_point, Datapoint):
        return charge_point
    try:
        return find_charge_point(str(charge_point))
    except Datapoint.DoesNotExist:
        return CommandRefused(f"no charge point with name or ClientId {charge_point!r}; see `dp_get` or the admin")


def _needs_accepted(dp, action, status):
    if status == "Accepted":
        return dp
    return CommandRefused(f"{dp.name} is {status or 'not registered'}: {action} goes only to an Accepted charger; approve it first (Config.RegistrationStatus)")


def _record(entries):
    """[(dp, action, {leaf: value})] in one transaction."""
    if not entries:
        return
    with transaction.atomic():
        changes = write_elements([(dp, f"Commands.{action}.{leaf}", value) for dp, action, leaves in entries for leaf, value in leaves.items()])
        publish_on_commit(changes)


# --- sending ----------------------------------------------------------------------------------------
async def send_command_async(charge_point, action, payload, timeout=None):
    """Send `action` with `payload` to a charge point (datapoint, its name or its ClientId); return
    the Outcome. Raises CommandRefused when the command cannot be sent at all."""
    check_command(action, payload)
    timeout = float(timeout or settings.OCPP_CALL_TIMEOUT)
    if not (settings.REDIS_URL or notify.IN_SERVER):
        return await asyncio.to_thread(_send_through_local_api, charge_point, action, payload, timeout)
    ((_dp, outcome),) = await _send([charge_point], action, payload, timeout)
    if isinstance(outcome, CommandRefused):
        raise outcome
    return outcome


async def send_to_many(charge_points, action, payload, timeout=None, concurrency=500):
    """The same command to many charge points at once -> [(charge point, Outcome)]. A refusal for
    one charger (e.g. RemoteStart to a Pending one) becomes its outcome `refused`."""
    check_command(action, payload)
    timeout = float(timeout or settings.OCPP_CALL_TIMEOUT)
    if settings.REDIS_URL or notify.IN_SERVER:
        results = await _send(charge_points, action, payload, timeout, concurrency)
    else:  # one by one through the server's local API
        results = []
        for dp in charge_points:
            try:
                results.append((dp, await send_command_async(dp, action, payload, timeout)))
            except CommandRefused as exc:
                results.append((dp, exc))
    return [(dp, Outcome("refused", error=str(o)) if isinstance(o, CommandRefused) else o) for dp, o in results]


async def _send(charge_points, action, payload, timeout, concurrency=1):
    """-> [(target, Outcome or CommandRefused)], in the order given; two database trips in all."""
    targets = await _in_database_thread(_prepare)(charge_points, action, payload)
    limit = asyncio.Semaphore(concurrency)

    async def deliver(dp):
        async with limit:
            return await _deliver(dp, action, payload, timeout)

    sent = iter(await asyncio.gather(*(deliver(t) for t in targets if isinstance(t, Datapoint))))
    results, failures = [], []
    for given, target in zip(charge_points, targets):
        if not isinstance(target, Datapoint):
            results.append((given, target))
            metrics.command(action, "refused")
            continue
        outcome, recorded_by_node = next(sent)
        results.append((target, outcome))
        if not recorded_by_node:  # nor counted there
            metrics.command(action, outcome.status)
            failures.append((target, action, {"Error": f"{outcome.status}: {outcome.error}"}))
            log.info("%s %s: %s %s", target.name, action, outcome.status, outcome.error)
    await _in_database_thread(_record)(failures)
    return results


async def _deliver(dp, action, payload, timeout):
    """(Outcome, whether the node holding the charger recorded it in Commands.<A>.*)."""
    try:
        record = await address_book().lookup(dp.client_id)
    except RedisError as exc:  # an outage: nobody can tell which node holds the charger
        return Outcome("offline", error=f"the address book (Redis) is unreachable, so the node holding {dp.name} cannot be found ({exc}); retry when Redis is back"), False
    if record is None:
        return Outcome("offline", error=f"{dp.name} ({dp.client_id}) is not connected"), False
    layer = get_channel_layer()
    reply_channel = await layer.new_channel()  # "specific.": the receive loop the consumers already run (channels_redis serves one prefix at a time)
    correlation_id = uuid.uuid4().hex
    message = {
        "type": "ocpp.command",
        "action": action,
        "payload": payload,
        "reply_channel": reply_channel,
        "correlation_id": correlation_id,
        "timeout": timeout,
        "recorded": True,
    }
    try:
        await layer.send(record["channel"], message)
    except ChannelFull:
        return Outcome("timeout", error="the node holding the charger is overloaded (its channel is full); retry"), False
    except Exception as exc:  # Redis itself failed
        log.exception("could not send %s to %s", action, dp.name)
        return Outcome("timeout", error=f"the command could not be handed to the node holding the charger ({exc}); retry"), False
    try:
        reply = await asyncio.wait_for(layer.receive(reply_channel), timeout + REPLY_GRACE_SECONDS)
    except asyncio.TimeoutError:
        return Outcome("timeout", error=f"no reply within {timeout + REPLY_GRACE_SECONDS:g} s from the node holding the charger (did it stop?)"), False
    except Exception as exc:  # Redis itself failed while we waited: the charger may still answer
        log.exception("lost the reply channel of %s to %s", action, dp.name)
        return Outcome("timeout", error=f"the reply could not be received ({exc}); see Commands.{action}.Response for the charger's answer"), False
    return Outcome(reply["status"], reply.get("response"), reply.get("error_code", ""), reply.get("error", ""), reply.get("details") or {}), True


def _in_database_thread(function):
    # In a server, ORM work belongs on the process's one database thread. On the background loop of
    # a synchronous caller, that thread may be the caller itself, blocked waiting for us (a
    # management command run through sync_to_async): use a thread of our own there.
    on_background_loop = _loop is not None and asyncio.get_running_loop() is _loop
    return database_sync_to_async(function, thread_sensitive=not on_background_loop)


# --- the synchronous form ---------------------------------------------------------------------------
_loop = None
_loop_lock = threading.Lock()


def _background_loop():
    """One event loop per process for synchronous callers (CLI, Celery, admin): a new loop per
    call costs milliseconds and breaks channels_redis's per-loop connections."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="ocpp-commands", daemon=True).start()
    return _loop


def run_sync(coroutine_function, *args):
    """Run an async function of this module from synchronous code (not inside a running loop)."""
    if notify.IN_SERVER:
        from asgiref.sync import async_to_sync

        return async_to_sync(coroutine_function)(*args)
    return asyncio.run_coroutine_threadsafe(coroutine_function(*args), _background_loop()).result()


def send_command(charge_point, action, payload, timeout=None):
    """Synchronous send_command_async; not for use inside a running event loop. Inside a request
    hook the command is checked, queued, and sent after the hook's answer: Outcome("queued")."""
    follow_ups = FOLLOW_UPS.get()
    if follow_ups is not None:
        check_command(action, payload)
        follow_ups.append({"charge_point": _name(charge_point), "action": action, "payload": payload, "timeout": timeout})
        return Outcome("queued")
    return run_sync(send_command_async, charge_point, action, payload, timeout)


def _name(charge_point):
    """How another process names a charge point given as a datapoint, its name or its ClientId."""
    return charge_point.name if isinstance(charge_point, Datapoint) else str(charge_point)


def _send_through_local_api(charge_point, action, payload, timeout):
    body = json.dumps({"charge_point": _name(charge_point), "action": action, "payload": payload, "timeout": timeout}).encode()
    request = urllib.request.Request(
        settings.OCPP_LOCAL_API_URL.rstrip("/") + "/api/local/command",
        data=body,
        headers={"Content-Type": "application/json", "X-OCPP-Token": notify.local_api_token()},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout + 2 * REPLY_GRACE_SECONDS) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        data = json.loads(exc.read() or b"{}")
        if exc.code == 400 and "refused" in data:
            raise CommandRefused(data["refused"]) from None
        raise CommandRefused(f"the server at {settings.OCPP_LOCAL_API_URL} refused the command: {data.get('error', exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        return Outcome("offline", error=f"no server running at {settings.OCPP_LOCAL_API_URL} ({exc}); start it with `make run`, or set REDIS_URL")
    return Outcome(**data)
