"""A graceful stop (SIGTERM, ocpp_dp/graceful_stop.py) of a Daphne node behind the generated nginx
site: the node stops accepting (/readyz 503, its port closed), closes its chargers' sockets with
1001 (going away) within a few seconds and exits; the chargers reconnect through nginx to the
other node. Runs on both databases (without Redis each node has its own address book, which is
enough here: the chargers leave the stopped node before they arrive at the other)."""
import asyncio
import base64
import http.client
import json
import os
import signal
import socket
import time

import pytest

from ocpp_dp.graceful_stop import STOP_SECONDS

from .faults import all_on, close_fleet, fleet, serving, until, until_all_connected

pytestmark = pytest.mark.django_db(transaction=True)
FLEET = 60


@pytest.fixture
def cluster(transactional_db, tmp_path):
    yield from serving(tmp_path, ["a", "b"])


def silent_websocket(port, client_id):
    """A websocket that never reads again after its handshake, so it never answers a close
    frame: the node must not wait for it longer than autobahn's close-handshake timeout."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ocpp/{client_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n".encode()
    )
    assert b" 101 " in sock.recv(4096).split(b"\r\n")[0]
    return sock


def readyz(conn):
    conn.request("GET", "/readyz")
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read())


async def test_sigterm_closes_every_socket_with_1001_and_the_chargers_move_to_the_other_node(cluster):
    everyone = await fleet(cluster, [f"stop-{i:03}" for i in range(FLEET)])
    nodes = await until_all_connected(everyone)
    chargers = [c for c in everyone if nodes[c.client_id] == "a"]
    stayed = [c for c in everyone if nodes[c.client_id] == "b"]
    assert len(chargers) > FLEET / 4 and stayed  # nginx's least_conn spread them
    node_a = cluster.nodes["a"]
    silent = await asyncio.to_thread(silent_websocket, node_a.port, "stop-silent")
    probe = http.client.HTTPConnection("127.0.0.1", node_a.port, timeout=5)  # kept alive: the port will close
    assert (await asyncio.to_thread(readyz, probe))[0] == 200
    process = node_a.process
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    status, body = await asyncio.to_thread(readyz, probe)  # while the silent socket holds the stop
    assert status == 503 and body["checks"]["draining"].startswith("yes"), body
    await until(lambda: asyncio.to_thread(lambda: process.poll() is not None), 10)
    stopped = time.monotonic() - started
    assert process.returncode == 0 and stopped < STOP_SECONDS + 1.5, (process.returncode, stopped)  # bounded, not a kill
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", node_a.port), timeout=2).close()
    moved = await until(all_on(chargers, "b"), 15)
    assert all(c.close_codes == [1001] for c in chargers), {c.client_id: c.close_codes for c in chargers if c.close_codes != [1001]}
    assert all(c.connections == 2 and not c.refusals for c in chargers)  # nginx sent none to the stopped node
    assert all(c.connections == 1 and not c.close_codes for c in stayed)
    answer = await chargers[0].call("Heartbeat", {})
    assert answer[0] == 3 and "currentTime" in answer[2]
    print(f"\ngraceful stop of a node with {len(chargers)} chargers: node exited in {stopped:.2f} s, all on b {moved:.2f} s later")
    silent.close()
    probe.close()
    await close_fleet(everyone)
