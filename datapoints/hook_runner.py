"""Running request hooks with a hard deadline, and falling back to the built-in answer.

With REDIS_URL a Celery worker runs the hook (`datapoints.tasks.run_request_hook`) and sends the
result to the consumer's reply channel; without it, a thread pool in this process runs it. Either
way the consumer waits at most OCPP_HOOK_TIMEOUT. On a timeout, an exception, or an answer the 1.6
schema refuses, the default answer goes out, and `Requests.<Action>.HookError` records the hook,
the error, the traceback and the rejected answer. Workers publish which hooks they loaded in Redis
(`ocpp:hooks`), so Daphne needs no hook code: loading new hooks needs only a worker restart.
"""
import asyncio
import functools
import json
import logging
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from . import commands, hooks, metrics
from .periodic import ensure_periodic
from .protocol import errors, validation

log = logging.getLogger(__name__)
SETTINGS_TTL = 5.0
REGISTRY_KEY = "ocpp:hooks"
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ocpp-hook")


# --- which hook applies (Daphne side) --------------------------------------------------------------
class _Cache:
    def __init__(self):
        self.loaded_at = -1e9
        self.registry = {}  # action -> hook name
        self.watched = set()  # "<type>.<path>" with change hooks
        self.settings = {}  # (hook, dp_id or None) -> enabled


_cache = _Cache()


def hook_for(action, dp_id):
    """The name of the hook to run for `action` on the charge point `dp_id`, or None. From memory:
    the cache is refreshed every SETTINGS_TTL seconds by `ensure_cache_refresher`."""
    name = _cache.registry.get(action)
    if name is None:
        return None
    enabled = _cache.settings.get((name, dp_id), _cache.settings.get((name, None), True))
    return name if enabled else None


def ensure_cache_refresher():
    ensure_periodic("hook-cache", SETTINGS_TTL, _reload, run_first=True)


def watched_changes():
    """The "<type>.<path>" elements that change hooks watch (from the last refresh)."""
    if _cache.loaded_at < 0 and settings.REDIS_URL:  # a process without the refresher (CLI)
        _cache.registry, _cache.watched = _registry()
        _cache.loaded_at = time.monotonic()
    return _cache.watched


def _reload():
    from .models import HookSetting

    _cache.registry, _cache.watched = _registry()
    _cache.settings = {(s.hook, s.charge_point_id): s.enabled for s in HookSetting.objects.all()}
    _cache.loaded_at = time.monotonic()


def _local_registry():
    return {
        "request": {action: hook.name for action, hook in hooks.REQUEST_HOOKS.items()},
        "change": sorted({f"{h.dp_type}.{h.path}" for h in hooks.CHANGE_HOOKS}),
    }


@functools.lru_cache(maxsize=1)
def _redis():
    """This process's Redis client for the registry (the reload runs every few seconds)."""
    import redis

    return redis.from_url(settings.REDIS_URL)


def _registry():
    """({action: request hook name}, {watched "<type>.<path>"})."""
    if settings.REDIS_URL:
        raw = _redis().get(REGISTRY_KEY)
        registry = json.loads(raw) if raw else {}
    else:
        registry = _local_registry()
    return registry.get("request", {}), set(registry.get("change", []))


def publish_registry():
    """Worker side: tell Daphne processes which hooks this code base has."""
    registry = _local_registry()
    _redis().set(REGISTRY_KEY, json.dumps(registry))
    return registry


def unpublish_registry():
    _redis().delete(REGISTRY_KEY)


# --- running one hook (worker or thread) ----------------------------------------------------------
def run_hook(action, request, dp_id, default):
    """-> {"answer": dict or None, "failure": dict or None, "follow_ups": [...]}. Never raises."""
    from .models import Datapoint

    hook = hooks.REQUEST_HOOKS.get(action)
    result = {"answer": None, "failure": None, "follow_ups": []}
    if hook is None:
        result["failure"] = {"hook": None, "error": f"no {action} hook is loaded in this worker"}
        return result
    token = commands.FOLLOW_UPS.set(result["follow_ups"])
    answer = None
    try:
        view = hooks.ChargePointView(Datapoint.objects.get(pk=dp_id), default)
        answer = hook.function(dict(request), view)
        if not isinstance(answer, dict):
            raise TypeError(f"returned {type(answer).__name__}, not a dict (the response payload)")
        validation.validate(action, answer, response=True)
        result["answer"] = answer
    except errors.CallError as exc:
        result["failure"] = _failure(hook, f"the answer breaks the 1.6 schema: {exc.description}", "", answer)
    except BaseException as exc:  # noqa: B036 - a hook's SoftTimeLimitExceeded too
        result["failure"] = _failure(hook, f"{type(exc).__name__}: {exc}", traceback.format_exc(), answer)
    finally:
        commands.FOLLOW_UPS.reset(token)
    if result["failure"]:
        result["follow_ups"] = []  # a failed hook's follow-ups are dropped with its answer
    return result


def _failure(hook, error, trace, rejected):
    try:
        json.dumps(rejected)
    except (TypeError, ValueError):
        rejected = repr(rejected)
    return {"hook": hook.name, "error": error, "traceback": trace, "rejected_answer": rejected}


# --- the consumer's side ---------------------------------------------------------------------------
async def answer_with_hook(session, action, request, default, received=None):
    """(answer, failure or None, follow_ups): the hook's answer within the deadline, else the default.
    The deadline counts from `received` (when the request arrived), so the built-in handler's time
    before the hook is inside OCPP_HOOK_TIMEOUT, not on top of it."""
    started = received or time.monotonic()
    deadline = max(0.05, settings.OCPP_HOOK_TIMEOUT - (time.monotonic() - started))
    fallback_reason = "failed"  # an exception, or an answer the schema refuses
    try:
        if settings.REDIS_URL:
            result = await _in_worker(action, request, session.cp.id, default, deadline)
        else:
            loop = asyncio.get_running_loop()
            result = await asyncio.wait_for(loop.run_in_executor(_pool, in_own_connection, run_hook, action, request, session.cp.id, default), deadline)
    except asyncio.TimeoutError:
        fallback_reason = "timeout"
        failure = {"hook": _cache.registry.get(action), "error": f"no answer within OCPP_HOOK_TIMEOUT ({settings.OCPP_HOOK_TIMEOUT:g} s)", "traceback": "", "rejected_answer": None}
        result = {"answer": None, "failure": failure, "follow_ups": []}
    failure = result["failure"]
    if failure:
        metrics.hook_fallback(action, fallback_reason)
        failure["seconds"] = round(time.monotonic() - started, 3)
        log.warning(
            "%s %s hook %s failed, default answer sent: %s; rejected answer: %.300r\n%s",
            session.client_id, action, failure.get("hook"), failure["error"], failure.get("rejected_answer"), failure.get("traceback", ""),
        )
        return default, failure, []
    answer = result["answer"]
    if action == "StartTransaction":  # the id comes from our database, whatever the hook says
        answer = {**answer, "transactionId": default["transactionId"]}
    return answer, None, result["follow_ups"]


def in_own_connection(function, *args):
    """Run `function` (in a pool thread) with a database connection of its own, closed after."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


async def _in_worker(action, request, dp_id, default, deadline):
    from channels.layers import get_channel_layer

    from .tasks import run_request_hook

    layer = get_channel_layer()
    reply_channel = await layer.new_channel()  # "specific.": the receive loop the consumers already run (channels_redis serves one prefix at a time)
    kwargs = {"action": action, "request": request, "dp_id": dp_id, "default": default, "reply_channel": reply_channel, "correlation_id": uuid.uuid4().hex}
    # Publishing to the broker blocks (1-5 ms): not on the event loop that serves every charger.
    await asyncio.get_running_loop().run_in_executor(None, functools.partial(run_request_hook.apply_async, kwargs=kwargs, expires=deadline))
    message = await asyncio.wait_for(layer.receive(reply_channel), deadline)
    return message["result"]


def loaded_request_hooks():
    """{action: hook name} of the request hooks the workers (or this process) have loaded."""
    return _registry()[0]
