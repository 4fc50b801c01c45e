"""Across processes and nodes, through Redis: two Daphne processes, a Celery worker, and this test
process as a third sender. The in-memory layer (the SQLite pass) cannot cross processes, so these
run in `make test`'s Redis pass."""
import asyncio
import io
import os
import signal
import time
import json
import urllib.request

import pytest
import websockets

from datapoints import connections
from datapoints.commands import send_command_async
from datapoints.notify import local_api_token

from .chargers import CommandCharger, answer_json, connected_library_charger, create_charge_point, dp_get, eventually
from .conftest import Server, start_celery, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="crossing processes needs the Redis channel layer (make test's Redis pass)"),
]
NODE = {"OCPP_AUTO_CREATE_CHARGE_POINTS": 1, "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "OCPP_SWEEP_INTERVAL": 1, "OCPP_ADDRESS_TTL": 3}  # short leases: a sweep trusts a missing record a refresh interval after the first claim in a Redis (addresses.settled_sync)


@pytest.fixture
def nodes(servers, transactional_db, settings):
    a, b = servers(OCPP_NODE_NAME="node-a", **NODE), servers(OCPP_NODE_NAME="node-b", **NODE)
    yield a, b
    from .conftest import _settle

    _settle()


def post_command(node, charge_point, action, payload, timeout=5):
    body = json.dumps({"charge_point": charge_point, "action": action, "payload": payload, "timeout": timeout}).encode()
    request = urllib.request.Request(node.http + "/api/local/command", data=body, headers={"X-OCPP-Token": local_api_token(), "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def test_a_command_from_another_process_reaches_the_node_holding_the_charger(nodes):
    a, b = nodes
    name = await create_charge_point("node-cmd", "Accepted")
    async with connected_library_charger(a, "node-cmd", charger_class=CommandCharger) as cp:
        await cp.boot()
        assert await dp_get(f"{name}.State.Node") == "node-a"
        # Issued inside node B: B -> Redis -> A -> charger -> A -> Redis -> B.
        outcome = await asyncio.to_thread(post_command, b, name, "GetLocalListVersion", {})
        assert outcome["status"] == "answered" and outcome["response"] == answer_json("GetLocalListVersion")
        # Issued from this process, a third one.
        outcome = await send_command_async("node-cmd", "Reset", {"type": "Soft"}, timeout=5)
        assert outcome.status == "answered"
        assert [action for action, _ in cp.received] == ["GetLocalListVersion", "Reset"]
    assert await dp_get(f"{name}.Commands.GetLocalListVersion.Response") == {"listVersion": 5}
    assert await dp_get(f"{name}.State.LocalListVersion") == 5


async def test_a_second_connection_on_another_node_takes_over(nodes):
    a, b = nodes
    name = await create_charge_point("node-dup", "Accepted")
    old = await websockets.connect(a.ws("node-dup"), subprotocols=["ocpp1.6"])
    await eventually(lambda: _is(name, "State.Node", "node-a"))
    async with connected_library_charger(b, "node-dup", charger_class=CommandCharger) as cp:
        await cp.boot()
        await asyncio.wait_for(old.wait_closed(), 5)  # node A closed the old socket
        assert await dp_get(f"{name}.State.Node") == "node-b"
        assert await dp_get(f"{name}.State.Connected") is True  # the old socket's close did not clear it
        outcome = await send_command_async(name, "ClearCache", {}, timeout=5)
        assert outcome.status == "answered" and cp.received == [("ClearCache", {})]


async def _is(name, path, value):
    return await dp_get(f"{name}.{path}") == value


async def test_a_dead_node_does_not_leave_chargers_connected(nodes, tmp_path):
    a, _b = nodes
    lease = 2
    doomed = Server({"OCPP_NODE_NAME": "node-doomed", "OCPP_ADDRESS_TTL": str(lease), **{k: str(v) for k, v in NODE.items()}}, tmp_path / "doomed.log")
    try:
        name = await create_charge_point("node-dead", "Accepted")
        charger = await websockets.connect(doomed.ws("node-dead"), subprotocols=["ocpp1.6"])
        await eventually(lambda: _is(name, "State.Node", "node-doomed"))
        # Node A sweeps every second; start its sweeper by connecting a charger there.
        async with connected_library_charger(a, "node-alive") as cp:
            await cp.boot()
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait(5)
            killed = time.monotonic()
            assert await dp_get(f"{name}.State.Connected") is True  # nobody wrote the close
            await eventually(lambda: _is(name, "State.Connected", False), timeout=lease + 5)
            assert time.monotonic() - killed <= lease + 3
            assert await dp_get(f"{name}.Common.ConnState") == "Disconnected"
        offline = await send_command_async(name, "Reset", {"type": "Soft"}, timeout=5)
        assert offline.status == "offline"
        await charger.close()
    finally:
        doomed.stop()


@pytest.fixture
def celery_worker(nodes, tmp_path):
    worker = start_celery(tmp_path, "worker", "--pool", "solo", "--without-gossip", "--without-mingle", ready="ready.")
    yield worker
    stop_process(worker)


@pytest.fixture
def celery_beat(celery_worker, tmp_path):
    beat = start_celery(tmp_path, "beat", "--max-interval", "1", "--pidfile", str(tmp_path / "beat.pid"), ready="beat: Starting")
    yield beat
    stop_process(beat)


async def test_a_celery_task_sends_a_command(nodes, celery_worker):
    from datapoints.tasks import send_command_task

    a, _b = nodes
    name = await create_charge_point("node-celery", "Accepted")
    async with connected_library_charger(a, "node-celery", charger_class=CommandCharger) as cp:
        await cp.boot()
        send_command_task.delay(name, "GetConfiguration", {"key": ["HeartbeatInterval"]}, 5)
        await eventually(lambda: cp.received, timeout=15)
        assert cp.received == [("GetConfiguration", {"key": ["HeartbeatInterval"]})]
        await eventually(lambda: _is(name, "Configuration.HeartbeatInterval", "300"), timeout=10)
    assert await dp_get(f"{name}.Commands.GetConfiguration.Response") == answer_json("GetConfiguration")


async def test_sweep_leaves_live_connections_alone(nodes):
    from asgiref.sync import sync_to_async

    a, _b = nodes
    name = await create_charge_point("node-live", "Accepted")
    async with connected_library_charger(a, "node-live") as cp:
        await cp.boot()
        assert name not in await sync_to_async(connections.sweep)()
        assert await dp_get(f"{name}.State.Connected") is True


async def test_beat_fires_a_scheduled_command_and_the_outcome_is_kept(nodes, celery_beat):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from datapoints.models import ScheduledRun

    a, _b = nodes
    name = await create_charge_point("node-beat", "Accepted")
    async with connected_library_charger(a, "node-beat", charger_class=CommandCharger) as cp:
        await cp.boot()
        at = (timezone.now() + timedelta(seconds=2)).isoformat()
        await asyncio.to_thread(call_command, "ocpp_schedule", name, "Reset", '{"type": "Soft"}', "--at", at, "--name", "soon", stdout=io.StringIO())
        await eventually(lambda: cp.received, timeout=25)
        assert cp.received == [("Reset", {"type": "Soft"})]
        run = await eventually(lambda: ScheduledRun.objects.filter(command__name="soon", finished_at__isnull=False).afirst(), timeout=10)
    assert (run.targets, run.answered) == (1, 1)
    outcome = await run.outcomes.aget()
    assert (outcome.status, outcome.response) == ("answered", {"status": "Accepted"})
    assert (await dp_get(f"{name}.State.LastReset"))["status"] == "Accepted"


async def test_an_answer_slower_than_redis_reads_still_arrives(nodes):
    """redis-py 8 reads with a 5 s timeout by default; channels_redis waits 5 s per BZPOPMIN. Both the
    caller's wait and node A's idle receive loop must outlast it (settings: socket_timeout)."""
    from .chargers import RawCharger

    a, _b = nodes
    name = await create_charge_point("node-slow", "Accepted")
    charger = await RawCharger.connect(a, "node-slow")
    try:
        assert (await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["status"] == "Accepted"
        task = asyncio.create_task(send_command_async(name, "GetLocalListVersion", {}, timeout=15))
        frame = await charger.recv()
        await asyncio.sleep(6.5)
        await charger.send([3, frame[1], {"listVersion": 9}])
        outcome = await task
        assert (outcome.status, outcome.response) == ("answered", {"listVersion": 9})
        assert (await charger.call("Heartbeat", {}, "hb"))[0] == 3  # node A's consumer is alive
    finally:
        await charger.close()
