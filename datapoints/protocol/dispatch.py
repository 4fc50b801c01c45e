"""Answering one CALL from a charger: the protocol rules around the handlers.

  unknown action                      -> NotImplemented
  a 1.6 action a charger may not send -> NotSupported
  not Accepted (and not a boot)       -> SecurityError, nothing stored
  schema                              -> the mapped error (validation.py)
  meaning                             -> PropertyConstraintViolation (checks.py)
  then the handler, in the recorder's next batch; the answer goes out after the commit.

The answer is logged (messagelog.py) as it is framed.
"""
import asyncio
import logging
import time

from .. import alarms, hook_runner, messagelog, metrics
from ..elements import CSMS_ACTIONS
from ..recorder import get_recorder
from . import errors, framing, validation
from .checks import check_call
from .handlers import HANDLERS

log = logging.getLogger(__name__)


def _refuse_early(session, action):
    if action not in HANDLERS:
        if action in CSMS_ACTIONS:
            raise errors.NotSupported(f"{action} is sent by the central system, not by a charge point")
        raise errors.NotImplementedCall(f"unknown action {action!r}")
    if action != "BootNotification" and not session.accepted:
        raise errors.SecurityError(
            f"charge point is {session.registration_status or 'not registered'}; send a BootNotification and wait for Accepted"
        )


def _check_response(action, response):
    try:
        validation.validate(action, response, response=True)
    except errors.CallError as exc:
        log.error("answer to %s fails its schema: %s", action, exc.description)
        raise errors.InternalError(f"the central system built an invalid {action} answer") from None


def _unit(session, call):
    """The recorder unit for `call`: the handler plus the Requests.<Action> record."""
    handler = HANDLERS[call.action]
    cp, action = session.cp, call.action

    def run(work):
        try:
            response = handler(work, session, call.payload)
            _check_response(action, response)
        except errors.CallError as exc:
            work.reset()
            work.set(cp, f"Requests.{action}.Request", call.payload)
            work.set(cp, f"Requests.{action}.Error", f"{exc.code}: {exc.description}")
            session.errored_actions.add(action)
            return exc
        work.set(cp, f"Requests.{action}.Request", call.payload)
        work.set(cp, f"Requests.{action}.Response", response)
        if action in session.errored_actions:
            session.errored_actions.discard(action)
            work.set(cp, f"Requests.{action}.Error", "")
        return response

    return run


_WRITES_ITS_CONNECTOR = frozenset({"StatusNotification", "MeterValues"})  # always, when valid


def _new_connectors(session, call):
    """The connector `call` writes to, if its session has not seen it: the recorder creates the
    batch's new connectors together (a storm of new chargers' StatusNotifications)."""
    if call.action in _WRITES_ITS_CONNECTOR:
        connector_id = call.payload["connectorId"]
        if connector_id and connector_id not in session.connectors:
            return (connector_id,)
    return ()


async def answer(session, call, follow_ups=None):
    """The text frame that answers `call`. Commands a hook asked for are appended to `follow_ups`,
    for the consumer to send after this answer."""
    received = time.monotonic()
    try:
        _refuse_early(session, call.action)
        validation.validate(call.action, call.payload)
        check_call(call.action, call.payload, session.max_connector)
        result = await get_recorder().submit(_unit(session, call), session, _new_connectors(session, call))
        if not isinstance(result, errors.CallError) and hook_runner.hook_for(call.action, session.cp.id):
            result = await _hooked(session, call, result, follow_ups, received)
    except errors.CallError as exc:
        return error_frame(session, call.unique_id, call.action, exc)
    except Exception:
        log.exception("%s: %s failed", session.client_id, call.action)
        return error_frame(session, call.unique_id, call.action, errors.InternalError("the central system failed to process the request; it was not stored"))
    if isinstance(result, errors.CallError):
        return error_frame(session, call.unique_id, call.action, result)
    text = framing.call_result(call.unique_id, result)
    if messagelog.ENABLED:
        messagelog.record(session.cp.id, messagelog.OUT, messagelog.CALLRESULT, call.unique_id, call.action, result, text)
    return text


def error_frame(session, unique_id, action, error):
    """The CALLERROR frame answering `unique_id` with `error`, logged and counted."""
    metrics.callerror_sent(error.code)
    if messagelog.ENABLED:
        payload = messagelog.error_payload(error.code, error.description, error.details)
        messagelog.record(session.cp.id, messagelog.OUT, messagelog.CALLERROR, unique_id, action, payload)
    return framing.call_error(unique_id, error)


async def _hooked(session, call, default, follow_ups, received):
    """The hook's answer (or the default, on failure), recorded in Requests.<Action>.* without
    waiting: the request itself is already stored, and the deadline is the charger's."""
    answer, failure, commands = await hook_runner.answer_with_hook(session, call.action, call.payload, default, received)
    cp, action = session.cp, call.action
    clear = failure is None and action in session.hook_failed_actions
    (session.hook_failed_actions.add if failure else session.hook_failed_actions.discard)(action)

    def run(work):
        work.set(cp, f"Requests.{action}.Response", answer)
        if failure or clear:
            work.set(cp, f"Requests.{action}.HookError", failure or "")
            alarms.on_hook_error(work, session, action, failure)

    asyncio.get_running_loop().create_task(get_recorder().submit(run, session))
    if follow_ups is not None:
        follow_ups.extend(commands)
    return answer
