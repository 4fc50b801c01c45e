"""Calls from the central system to one charger: one in flight, the rest queued in order.

The consumer feeds CALLRESULT / CALLERROR frames in with `resolve`; nothing here awaits the
charger inside the coroutine that receives frames. Each call is recorded in
`Commands.<Action>.Request` when sent and `.Response` (or `.Error`) when it ends, and its outcome
goes back to the caller's reply channel, if it gave one. The CALL and the charger's answer are
logged (messagelog.py), with secrets masked.
"""
import asyncio
import itertools
import logging
import uuid

from channels.layers import get_channel_layer
from django.conf import settings

from .. import messagelog, metrics
from ..recorder import get_recorder
from . import errors, framing, results, validation

log = logging.getLogger(__name__)
_ids = itertools.count(1)


class Outgoing:
    __slots__ = ("action", "payload", "reply_channel", "correlation_id", "timeout", "unique_id", "timer", "recorded")

    def __init__(self, action, payload, reply_channel=None, correlation_id=None, timeout=None, recorded=False):
        self.action = action
        self.payload = payload
        self.reply_channel = reply_channel
        self.correlation_id = correlation_id
        self.timeout = timeout or settings.OCPP_CALL_TIMEOUT
        self.recorded = recorded  # the sender stored Commands.<A>.Request already (commands.py)
        self.unique_id = f"{next(_ids)}-{uuid.uuid4().hex[:8]}"
        self.timer = None


class Outbox:
    __slots__ = ("session", "send_text", "queue", "in_flight", "closed")  # one per connected charger

    def __init__(self, session, send_text):
        self.session = session
        self.send_text = send_text
        self.queue = []  # rarely more than a few commands; an empty deque costs 600 bytes per charger
        self.in_flight = None
        self.closed = False

    async def enqueue(self, outgoing):
        if self.closed:
            await self._record(outgoing, "Error", "offline: the charger disconnected")
            await self._finish(outgoing, {"status": "offline", "error": "the charger disconnected"})
            return
        self.queue.append(outgoing)
        if self.in_flight is None:
            await self._send_next()

    async def _send_next(self):
        while self.queue and self.in_flight is None and not self.closed:
            outgoing = self.queue.pop(0)
            self.in_flight = outgoing
            loop = asyncio.get_running_loop()
            outgoing.timer = loop.call_later(outgoing.timeout, lambda o=outgoing: loop.create_task(self._timed_out(o)))
            shown = results.redacted(outgoing.action, outgoing.payload)
            if not outgoing.recorded:
                self._record(outgoing, "Request", shown)
            text = framing.call(outgoing.unique_id, outgoing.action, outgoing.payload)
            if messagelog.ENABLED:
                messagelog.record(self.session.cp.id, messagelog.OUT, messagelog.CALL, outgoing.unique_id, outgoing.action, shown, text if shown is outgoing.payload else None)
            await self.send_text(text)

    async def resolve(self, frame, text=""):
        """Feed a CALLRESULT or CALLERROR frame (and its `text`, for the log); False if it answers
        nothing we asked."""
        outgoing = self.in_flight
        if outgoing is None or frame.unique_id != outgoing.unique_id:
            return False
        outgoing.timer.cancel()
        self.in_flight = None
        if isinstance(frame, framing.CallResult):
            outcome, leaf, value = self._result_outcome(outgoing, frame.payload)
            metrics.call_ended(outgoing.action, outcome["status"])
        else:
            outcome = {"status": "error", "error_code": frame.code, "error": frame.description, "details": frame.details}
            leaf, value = "Error", f"{frame.code}: {frame.description}"
            metrics.call_ended(outgoing.action, "callerror")
            metrics.callerror_received(frame.code)
        if messagelog.ENABLED:
            self._log_answer(outgoing, frame, text)
        await self._record(outgoing, leaf, value)
        await self._finish(outgoing, outcome)
        await self._send_next()
        return True

    def _log_answer(self, outgoing, frame, text):
        if isinstance(frame, framing.CallResult):
            kind, payload = messagelog.CALLRESULT, results.redacted_response(outgoing.action, frame.payload)
            text = text if payload is frame.payload else None  # the frame's text only if no secret was masked
        else:
            kind, payload, text = messagelog.CALLERROR, messagelog.error_payload(frame.code, frame.description, frame.details), None
        messagelog.record(self.session.cp.id, messagelog.IN, kind, frame.unique_id, outgoing.action, payload, text)

    def _result_outcome(self, outgoing, payload):
        try:
            if not isinstance(payload, dict):
                raise errors.FormationViolation("the answer payload is not a JSON object")
            validation.validate(outgoing.action, payload, response=True)
        except errors.CallError as exc:
            outcome = {"status": "invalid", "error_code": exc.code, "error": exc.description, "response": payload}
            return outcome, "Error", f"invalid answer: {exc.description}"
        return {"status": "answered", "response": payload}, "Response", payload

    async def _timed_out(self, outgoing):
        if self.in_flight is not outgoing:
            return
        self.in_flight = None
        metrics.call_ended(outgoing.action, "timeout")
        await self._record(outgoing, "Error", f"timeout: no answer within {outgoing.timeout:g} s")
        await self._finish(outgoing, {"status": "timeout", "error": f"no answer within {outgoing.timeout:g} s"})
        await self._send_next()

    async def close(self):
        """The socket closed: everything in flight or queued ends as offline."""
        self.closed = True
        pending = ([self.in_flight] if self.in_flight else []) + list(self.queue)
        if self.in_flight:
            metrics.call_ended(self.in_flight.action, "offline")
        self.in_flight = None
        self.queue.clear()
        for outgoing in pending:
            if outgoing.timer:
                outgoing.timer.cancel()
            await self._record(outgoing, "Error", "offline: the charger disconnected")
            await self._finish(outgoing, {"status": "offline", "error": "the charger disconnected before answering"})

    def _record(self, outgoing, leaf, value):
        cp, session = self.session.cp, self.session

        def run(work):
            work.set(cp, f"Commands.{outgoing.action}.{leaf}", value)
            if leaf == "Request":
                work.set(cp, f"Commands.{outgoing.action}.Error", "")
            elif leaf == "Response":
                results.apply(work, session, outgoing.action, outgoing.payload, value)

        return asyncio.get_running_loop().create_task(get_recorder().submit(run))

    async def _finish(self, outgoing, outcome):
        metrics.command(outgoing.action, outcome["status"])
        if not outgoing.reply_channel:
            if outcome["status"] != "answered":
                log.warning("%s: %s ended %s", self.session.client_id, outgoing.action, outcome["status"])
            return
        message = {"type": "ocpp.reply", "correlation_id": outgoing.correlation_id, **outcome}
        try:
            await get_channel_layer().send(outgoing.reply_channel, message)
        except Exception:
            log.exception("could not deliver the outcome of %s to its caller", outgoing.action)
