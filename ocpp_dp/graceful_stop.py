"""A graceful stop of a Daphne node on SIGTERM (systemd's stop, a rolling restart).

What Daphne 4.2 does by itself: Twisted's SIGTERM handler stops the reactor, Daphne cancels every
application instance and the sockets are dropped without a close frame. Chargers see 1006
(abnormal closure), their consumers never run `websocket_disconnect` (the address record and
State.Connected wait for the lease to expire), and queued commands are lost to a timeout.

Here, SIGTERM instead:
1. marks the node draining (`/readyz` answers 503: a balancer that probes it sends nothing new);
2. stops listening, so nginx's next connection attempt is refused at once and goes to another
   node (`proxy_next_upstream error`, see docs/deployment.md);
3. closes every websocket with 1001 (going away): its consumer ends as on any close (queued
   commands answered `offline`, the address record released, State.Connected written false
   unless the charger is already back on another node), and the charger reconnects through
   nginx to a live node;
4. stops the reactor once every socket's application has finished, or after STOP_SECONDS,
   whichever comes first (a peer that never answers the close frame is dropped by autobahn's
   close-handshake timeout well before that).
A second SIGTERM stops at once. Installed from ocpp_dp/asgi.py, only when Daphne is the server.
"""
import logging
import signal
import sys
import time

log = logging.getLogger(__name__)
STOP_SECONDS = 5.0  # the longest a stop waits for its sockets (systemd's TimeoutStopSec is 30 s)
GOING_AWAY = 1001
_ports = []  # the listening ports Daphne opened
_server = None
_stopping = False


def install():
    if "daphne.server" not in sys.modules:  # not running under Daphne
        return
    from daphne.server import Server

    if getattr(Server, "_ocpp_graceful_stop", False):
        return
    original_run, original_listen_success = Server.run, Server.listen_success

    def run(self):
        global _server
        _server = self
        if self.signal_handlers:
            from twisted.internet import reactor

            reactor.callWhenRunning(_take_sigterm)  # after Twisted installed its own handlers
        return original_run(self)

    def listen_success(self, port):
        _ports.append(port)
        return original_listen_success(self, port)

    Server.run, Server.listen_success = run, listen_success
    Server._ocpp_graceful_stop = True


def _take_sigterm():
    from twisted.internet import reactor

    signal.signal(signal.SIGTERM, lambda _number, _frame: reactor.callFromThread(begin))


def begin():
    """Start the graceful stop (in the reactor thread)."""
    global _stopping
    from twisted.internet import reactor

    if _stopping:
        log.warning("second SIGTERM: stopping now")
        return reactor.stop()
    _stopping = True
    from datapoints.health import start_draining

    start_draining()
    for port in _ports:
        port.stopListening()
    closed = _close_websockets()
    log.warning("graceful stop: not accepting any more; closing %d websocket(s) with %d (going away)", closed, GOING_AWAY)
    reactor._asyncioEventloop.create_task(_finish(time.monotonic() + STOP_SECONDS))


def _close_websockets():
    """Close every open websocket with 1001; drop those still in their handshake. Returns how
    many it closed."""
    from daphne.ws_protocol import WebSocketProtocol

    closed = 0
    for protocol in list(_server.connections):
        if not isinstance(protocol, WebSocketProtocol):
            continue
        if protocol.state == WebSocketProtocol.STATE_OPEN:
            # Not serverClose/sendClose: autobahn lets applications send only 1000 and 3000-4999;
            # 1001 is the server's own code, sent by its lower-level frame call.
            protocol.sendCloseFrame(code=GOING_AWAY, reasonUtf8=b"server stopping", isReply=False)
            closed += 1
        elif protocol.state == WebSocketProtocol.STATE_CONNECTING:
            protocol.dropConnection(abort=True)
    return closed


def _websocket_applications():
    from daphne.ws_protocol import WebSocketProtocol

    return [
        details["application_instance"]
        for protocol, details in list(_server.connections.items())
        if isinstance(protocol, WebSocketProtocol) and "application_instance" in details and not details["application_instance"].done()
    ]


def _awaiting(coroutine):
    """Where a coroutine waits: its await chain, outermost first."""
    chain = []
    while coroutine is not None and getattr(coroutine, "cr_frame", None) is not None:
        frame = coroutine.cr_frame
        chain.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})")
        coroutine = coroutine.cr_await
    return chain


async def _finish(deadline):
    """Wait for the websockets' applications to end (their disconnect handled and written), close
    any socket that was accepted meanwhile, then stop the reactor (Daphne ends the rest)."""
    import asyncio

    from twisted.internet import reactor

    started = time.monotonic()
    while (pending := _websocket_applications()) and time.monotonic() < deadline:
        await asyncio.wait(pending, timeout=min(0.2, max(0.01, deadline - time.monotonic())))
        _close_websockets()  # a handshake that was being decided when the stop began
    if pending:
        log.warning("graceful stop: %d websocket(s) still open after %.0f s; stopping anyway", len(pending), STOP_SECONDS)
        for protocol, details in list(_server.connections.items()):
            if details.get("application_instance") in pending:  # say where each one waits
                where = " <- ".join(reversed(_awaiting(details["application_instance"].get_coro())))
                log.warning("graceful stop: %s still open (socket state %s), waiting in %s", getattr(protocol, "path", b"?").decode(), protocol.state, where or "?")
    log.warning("graceful stop: sockets closed in %.2f s; stopping", time.monotonic() - started)
    # Reap the finished applications now: Daphne's own kill_all_applications raises KeyError on a
    # connection whose application it reaped but which is still open (so the rest are not killed).
    _server.application_checker()
    reactor.stop()
