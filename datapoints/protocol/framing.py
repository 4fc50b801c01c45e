"""OCPP-J framing: text frame -> Call / CallResult / CallError, and back.

A frame whose message id cannot be read raises Unanswerable: there is nothing to address a
CALLERROR to, so it is logged and counted and the socket stays open. A frame with a usable id
but a broken shape raises a CallError carrying that id.
"""
import json
from typing import NamedTuple

from . import errors

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_ID_LENGTH = 36  # OCPP-J 1.6: the message id is at most 36 characters


class Call(NamedTuple):
    unique_id: str
    action: str
    payload: dict


class CallResult(NamedTuple):
    unique_id: str
    payload: dict


class CallErrorFrame(NamedTuple):
    unique_id: str
    code: str
    description: str
    details: dict


class Unanswerable(Exception):
    """The frame has no usable message id."""


class FrameError(Exception):
    """The frame has a usable id but is broken; answer `error` to `unique_id`."""

    def __init__(self, unique_id, error):
        super().__init__(error.description)
        self.unique_id = unique_id
        self.error = error


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _loads(text):
    return json.loads(text, parse_constant=_reject_constant)


def parse(text):
    try:
        msg = _loads(text)
    except (ValueError, RecursionError) as exc:
        raise Unanswerable(f"not JSON: {exc}") from None
    if not isinstance(msg, list) or len(msg) < 2:
        raise Unanswerable("not an OCPP-J array with a message id")
    unique_id = msg[1]
    if not isinstance(unique_id, str) or not unique_id or len(unique_id) > MAX_ID_LENGTH:
        raise Unanswerable("message id is not a string of 1-36 characters")
    kind = msg[0]
    if kind == CALL:
        return _call(unique_id, msg)
    if kind == CALLRESULT:
        if len(msg) != 3:
            raise Unanswerable("CALLRESULT must have 3 elements")
        return CallResult(unique_id, msg[2])
    if kind == CALLERROR:
        if len(msg) != 5:
            raise Unanswerable("CALLERROR must have 5 elements")
        return CallErrorFrame(unique_id, msg[2], msg[3], msg[4])
    raise FrameError(unique_id, errors.FormationViolation(f"MessageTypeId {kind!r} is not 2, 3 or 4", {"field": "MessageTypeId"}))


def _call(unique_id, msg):
    if len(msg) != 4:
        raise FrameError(unique_id, errors.FormationViolation(f"a CALL has 4 elements, this one has {len(msg)}"))
    action, payload = msg[2], msg[3]
    if not isinstance(action, str) or not action:
        raise FrameError(unique_id, errors.FormationViolation("the action must be a non-empty string"))
    if not isinstance(payload, dict):
        raise FrameError(unique_id, errors.FormationViolation(f"the payload of {action} must be a JSON object"))
    return Call(unique_id, action, payload)


def dumps(msg):
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)


def call_result(unique_id, payload):
    return dumps([CALLRESULT, unique_id, payload])


def call_error(unique_id, error):
    return dumps(error.frame(unique_id))


def call(unique_id, action, payload):
    return dumps([CALL, unique_id, action, payload])
