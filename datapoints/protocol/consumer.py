"""The websocket consumer at /ocpp/<ClientId>: it frames, validates and dispatches; the rules
live in handshake.py, dispatch.py, handlers.py and outbox.py.

Channel-layer messages it takes (from any process, through the address book):
  ocpp.command  {action, payload, reply_channel, correlation_id, timeout, recorded}  -> a CALL to
                the charger (datapoints/commands.py sends these)
  cp.config     {path, value}  -> an operator changed a Config element
  cp.takeover   {epoch}        -> a newer connection with the same ClientId won: close
"""
import asyncio
import logging
import time
import weakref

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from django.conf import settings

from ocpp_dp.proxy import CLIENT_CERT, CLIENT_VERIFY, came_over_tls

from .. import alarms, messagelog, metrics, retention
from ..addresses import address_book, new_epoch
from ..charging import apply as charging
from ..charge_points import element_values
from ..commands import send_command_async
from ..connections import disconnected_writes, ensure_sweeper
from ..hook_runner import ensure_cache_refresher
from ..recorder import get_recorder
from . import dispatch, framing, handshake
from .outbox import Outbox, Outgoing

log = logging.getLogger(__name__)
SUBPROTOCOL = "ocpp1.6"
REFUSALS = {400: "bad_subprotocol_400", 401: "unauthorized_401", 403: "profile_not_met_403", 404: "unknown_404", 429: "throttled_429", 503: "db_unavailable_503"}


class ChargePointConsumer(AsyncConsumer):
    session = None
    outbox = None
    epoch = None
    # This connection's place in ocpp_connected_chargers: released once, at the disconnect or, if the
    # consumer died before accepting (the connected writes failed), when it is collected.
    counted = None

    async def dispatch(self, message):
        # Channels >= 4.2 calls aclose_old_connections() (a thread hop) before every message; at
        # fleet rates that halves throughput. The recorder checks its connection instead.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- handshake ------------------------------------------------------------------------------
    async def websocket_connect(self, message):
        client_id = self.scope["url_route"]["kwargs"]["client_id"]
        offered = self.scope.get("subprotocols") or []
        if offered and SUBPROTOCOL not in offered:
            log.warning("%r offered %s but not ocpp1.6: refused", client_id, offered)
            return await self._deny(400, f"subprotocol ocpp1.6 required, offered {', '.join(offered)}")
        if not offered:
            log.info("%r offered no subprotocol; serving OCPP 1.6", client_id)
        remote = self._remote_address()
        try:
            decision = await handshake.get_gate().decide(self._handshake_request(client_id, remote))
        except Exception:
            return await self._deny(503, "the central system cannot reach its database; retry later", [("Retry-After", "30")])
        self._forget_headers()
        if decision.status:
            return await self._deny(decision.status, decision.reason, decision.headers)
        self.session = decision.session
        self.outbox = Outbox(self.session, self._send_text)
        self.epoch = new_epoch()
        previous = await address_book().claim(client_id, self.channel_name, self.epoch)
        if previous and previous["epoch"] != self.epoch:
            await self.channel_layer.send(previous["channel"], {"type": "cp.takeover", "epoch": previous["epoch"]})
        # Not awaited: the connect writes share the next group commit with what the charger sends
        # first (its boot, committed in the same batch or after), instead of holding the handshake
        # for a commit of their own; in a reconnect storm that was a second database round per charger.
        get_recorder().submit_nowait(self._connected_writes(decision, remote, SUBPROTOCOL if offered else ""), f"{client_id}: the connect writes", self.session)
        ensure_sweeper()
        ensure_cache_refresher()
        messagelog.ensure_periodic_tasks()
        alarms.ensure_periodic_tasks()
        retention.ensure_periodic_tasks()
        await self.send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL if offered else None})
        metrics.handshake("accepted")

    def _connected_writes(self, decision, remote, subprotocol):
        cp, session = self.session.cp, self.session
        node = settings.OCPP_NODE_NAME or self.channel_name.split("!")[0]
        metrics.charger_connected(node)
        self.counted = weakref.finalize(self, metrics.charger_disconnected, node)
        self.counted.atexit = False  # at exit the process's live files go anyway

        def run(work):
            now = work.now.isoformat()
            work.set(cp, "State.Connected", True)
            work.set(cp, "State.ConnectedSince", now)
            work.set(cp, "State.RemoteAddress", remote)
            work.set(cp, "State.Subprotocol", subprotocol)
            work.set(cp, "State.Node", node)
            work.set(cp, "Common.ConnState", "Registered" if session.accepted else "Connected")
            if not decision.first_connection:
                work.set(cp, "State.ReconnectCount", decision.reconnect_count)
            alarms.on_connected(work, session)

        return run

    async def _deny(self, status, reason, headers=()):
        metrics.handshake(REFUSALS.get(status, f"refused_{status}"))
        body = f"{reason}\n".encode()
        await self.send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")] + [(k.lower().encode(), v.encode()) for k, v in headers],
            }
        )
        await self.send({"type": "websocket.http.response.body", "body": body})

    def _handshake_request(self, client_id, remote):
        verify, certificate = self._header(CLIENT_VERIFY), self._header(CLIENT_CERT)
        return handshake.Request(
            client_id,
            remote,
            self._header(b"authorization"),
            self.scope["url_route"]["kwargs"].get("site"),
            came_over_tls(self.scope),
            (verify, certificate) if verify or certificate else None,
        )

    def _forget_headers(self):
        """The handshake's headers (its Authorization among them) are not needed once it is decided:
        not kept for the connection's lifetime, in memory (about 1 KB per charger) or anywhere."""
        headers = self.scope.get("headers")
        if isinstance(headers, list):
            headers.clear()

    def _header(self, name):
        for key, value in self.scope.get("headers", []):
            if key == name:
                return value.decode("latin1")
        return None

    def _remote_address(self):
        client = self.scope.get("client")
        return str(client[0]) if client else ""

    # --- frames from the charger ----------------------------------------------------------------
    async def websocket_receive(self, message):
        started = time.perf_counter()
        text = message.get("text")
        if text is None:
            return await self._bad_frame("binary frame; OCPP-J uses text frames", message.get("bytes") or b"")
        try:
            frame = framing.parse(text)
        except framing.Unanswerable as exc:
            return await self._bad_frame(str(exc), text)
        except framing.FrameError as exc:
            if messagelog.ENABLED:
                messagelog.record_raw(self.session.cp.id, messagelog.IN, text, exc.unique_id)
            return await self._send_text(dispatch.error_frame(self.session, exc.unique_id, "", exc.error))
        if isinstance(frame, framing.Call):
            if messagelog.ENABLED:
                messagelog.record(self.session.cp.id, messagelog.IN, messagelog.CALL, frame.unique_id, frame.action, frame.payload, text)
            follow_ups = []
            answer = await dispatch.answer(self.session, frame, follow_ups)
            await self._send_text(answer)
            metrics.call_answered(frame.action, answer, started)
            for command in follow_ups:  # a hook's commands go after its answer, never before
                asyncio.get_running_loop().create_task(self._follow_up(command))
            charging.after_boot(self.session, frame.action)
        elif not await self.outbox.resolve(frame, text):
            await self._bad_frame(f"answer to {frame.unique_id!r}, which was never asked or already timed out", text, frame.unique_id)

    async def _follow_up(self, command):
        try:
            await send_command_async(command["charge_point"], command["action"], command["payload"], command.get("timeout"))
        except Exception:
            log.exception("%s: a hook's follow-up %s failed", self.session.client_id, command["action"])

    async def _bad_frame(self, why, text, unique_id=""):
        self.session.bad_frames += 1
        metrics.unanswerable_frame()
        log.warning("%s: unanswerable frame (%s): %.200r", self.session.client_id, why, text)
        cp, path = self.session.cp, "State.BadFrameCount"
        if messagelog.ENABLED:
            messagelog.record_raw(cp.id, messagelog.IN, text, unique_id)

        def run(work):
            stored = element_values(cp.id, [path]).get(path) or 0
            work.set(cp, path, stored + 1)

        await get_recorder().submit(run)

    async def _send_text(self, text):
        await self.send({"type": "websocket.send", "text": text})

    # --- closing --------------------------------------------------------------------------------
    async def websocket_disconnect(self, message):
        if self.counted is not None:
            self.counted()
        if self.session is not None:
            await self.outbox.close()
            if await address_book().release(self.session.client_id, self.epoch):
                await get_recorder().submit(self._disconnected_writes())
        raise StopConsumer()

    def _disconnected_writes(self):
        cp = self.session.cp

        def run(work):
            for write in disconnected_writes(cp, work.now):
                work.set(*write)

        return run

    # --- messages from other processes ----------------------------------------------------------
    async def ocpp_command(self, message):
        outgoing = Outgoing(
            message["action"],
            message["payload"],
            message.get("reply_channel"),
            message.get("correlation_id"),
            message.get("timeout"),
            recorded=message.get("recorded", False),
        )
        await self.outbox.enqueue(outgoing)

    async def cp_config(self, message):
        self.session.config_written(message["path"], message["value"])
        if message["path"] == "Config.SecurityProfile" and (message["value"] or 0) > self.session.security_profile:
            log.info("%s: security profile raised to %s: closing, its next handshake must meet it", self.session.client_id, message["value"])
            return await self.send({"type": "websocket.close", "code": 1000})  # autobahn lets an application send 1000 or 3000-4999 only
        charging.after_config(self.session, message["path"])
        if message["path"] == "Config.EnergyUnitOverride" and self.session.metering is not None:
            self.session.metering.override = message["value"] or ""
        if message["path"] == "Config.RegistrationStatus" and message["value"] == "Accepted" and self.session.registration_status == "Pending":
            log.info("%s accepted while connected: triggering BootNotification", self.session.client_id)
            await self.outbox.enqueue(Outgoing("TriggerMessage", {"requestedMessage": "BootNotification"}))

    async def cp_takeover(self, message):
        if message.get("epoch") == self.epoch:
            log.info("%s connected again elsewhere: closing this connection", self.session.client_id)
            await self.send({"type": "websocket.close", "code": 1000})
            await asyncio.sleep(0)


class NotFoundConsumer(AsyncConsumer):
    """Any other websocket path: 404, with the path chargers should use."""

    async def websocket_connect(self, message):
        await self.send({"type": "websocket.http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await self.send({"type": "websocket.http.response.body", "body": b"OCPP chargers connect to /ocpp/<ClientId>\n"})

    async def websocket_disconnect(self, message):
        raise StopConsumer()
