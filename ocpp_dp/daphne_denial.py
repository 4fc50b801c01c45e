"""Teach Daphne the ASGI "websocket denial response" extension.

Daphne 4.2 answers every refused websocket handshake with HTTP 403. OCPP deployments need the
real reason on the wire: 404 for an unknown charger, 401 (with WWW-Authenticate) for a wrong
password, 429 when throttled. The ASGI spec defines `websocket.http.response.start` / `.body`
for this; Daphne does not implement it, so we add it to its protocol class here. Applied once,
from ocpp_dp/asgi.py, only when Daphne is the server. See docs/decisions/0001-daphne-denial.md.
"""
import logging

log = logging.getLogger(__name__)


def install():
    try:
        from autobahn.websocket.types import ConnectionDeny
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not running under Daphne
        return
    if getattr(WebSocketProtocol, "_ocpp_denial_installed", False):
        return
    original_handle_reply = WebSocketProtocol.handle_reply
    original_fail_handshake = WebSocketProtocol.failHandshake

    def handle_reply(self, message):
        kind = message.get("type")
        if kind == "websocket.http.response.start" and self.state == self.STATE_CONNECTING:
            self._denial = (int(message["status"]), [(k.decode("latin1"), v.decode("latin1")) for k, v in message.get("headers", [])])
            return
        if kind == "websocket.http.response.body" and getattr(self, "_denial", None):
            if message.get("more_body"):
                return
            status, _headers = self._denial
            reason = message.get("body", b"").decode("utf-8", "replace").strip() or "Denied"
            if hasattr(self, "handshake_deferred"):
                self.handshake_deferred.errback(ConnectionDeny(code=status, reason=reason))
                del self.handshake_deferred
                self.server.protocol_disconnected(self)
            return
        return original_handle_reply(self, message)

    def fail_handshake(self, reason, code=400, responseHeaders=None):
        denial = getattr(self, "_denial", None)
        if denial and responseHeaders is None:
            responseHeaders = [(k, v) for k, v in denial[1] if k.lower() != "content-type"]
        return original_fail_handshake(self, reason, code, responseHeaders)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol.failHandshake = fail_handshake
    WebSocketProtocol._ocpp_denial_installed = True
