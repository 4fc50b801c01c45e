"""Redis stopped for 30 s and started again (empty, as a Redis without persistence comes back),
under two nodes behind the generated nginx: the chargers stay connected and are answered
throughout, transactions included; a command across nodes answers at once that it cannot be
delivered (never hangs); after Redis is back, commands reach the chargers again and nothing the
chargers sent is lost. A Redis of the test's own; needs the Redis pass (make test's PostgreSQL pass)."""
import asyncio
import os
import time
from datetime import datetime, timezone

import pytest
from asgiref.sync import sync_to_async

from .faults import PrivateRedis, close_fleet, element_values, fleet, serving, until_all_connected
from .test_nodes import post_command

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis channel layer's outage (make test's PostgreSQL pass)"),
]
FLEET = 20
OUTAGE = 30  # seconds
LEASE = 6  # OCPP_ADDRESS_TTL: records refreshed every 2 s


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def cluster(servers, transactional_db, tmp_path, redis_server):
    servers.stop_all()  # their sweeps, on the suite's Redis, would sweep this cluster's chargers
    yield from serving(tmp_path, ["a", "b"], env={"REDIS_URL": redis_server.url, "OCPP_ADDRESS_TTL": LEASE, "OCPP_CHANNEL_PREFIX": "fltredis"})


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def command(node, client_id):
    started = time.monotonic()
    outcome = await asyncio.to_thread(post_command, node, client_id, "ClearCache", {}, 5)
    return outcome, time.monotonic() - started


async def session(charger, meter):
    """A whole transaction and a heartbeat; returns every answer."""
    answers = [await charger.call("Heartbeat", {})]
    started = await charger.call("StartTransaction", {"connectorId": 1, "idTag": "REDIS", "meterStart": meter, "timestamp": now()})
    tx = started[2]["transactionId"]
    answers += [started, await charger.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": now(), "sampledValue": [{"value": str(meter + 10)}]}]})]
    answers.append(await charger.call("StopTransaction", {"transactionId": tx, "meterStop": meter + 20, "timestamp": now()}))
    return answers


@sync_to_async
def stopped_transactions(client_ids):
    from datapoints.models import Transaction

    return Transaction.objects.filter(charge_point__client_id__in=client_ids, meter_stop__isnull=False).count()


async def test_redis_down_for_30_s_chargers_stay_and_are_answered_commands_degrade_then_recover(cluster, redis_server):
    chargers = await fleet(cluster, [f"redis-{i:02}" for i in range(FLEET)])
    nodes = await until_all_connected(chargers)
    on_a = next(c for c in chargers if nodes[c.client_id] == "a")
    b = cluster.nodes["b"]
    outcome, _ = await command(b, on_a.client_id)  # b -> Redis -> a -> charger
    assert outcome["status"] == "answered", outcome

    redis_server.stop()
    down = time.monotonic()
    during = []
    while time.monotonic() - down < OUTAGE:
        during.append(await asyncio.gather(*(session(c, 1000 * len(during)) for c in chargers)))
        outcome, took = await command(b, on_a.client_id)
        assert outcome["status"] == "offline" and "Redis" in outcome["error"] and took < 3, (outcome, took)  # says so at once
        await asyncio.sleep(1)
    redis_server.start()
    back = time.monotonic()

    assert all(a[0] == 3 for rounds in during for answers in rounds for a in answers)
    assert all(c.connections == 1 and not c.close_codes for c in chargers)  # nobody was dropped
    while (outcome := (await command(b, on_a.client_id))[0])["status"] != "answered":
        assert time.monotonic() - back < LEASE, f"commands did not come back within a lease: {outcome}"
        await asyncio.sleep(0.2)
    recovered = time.monotonic() - back
    assert await stopped_transactions([c.client_id for c in chargers]) == FLEET * len(during)  # nothing lost
    for charger in chargers:  # every charger is reachable again, on either node
        outcome, _ = await command(cluster.nodes["a"], charger.client_id)
        assert outcome["status"] == "answered", (charger.client_id, outcome)
    await asyncio.sleep(max(0, back + LEASE + 2 - time.monotonic()))  # the sweeps run again: nobody swept
    connected = await element_values([c.client_id for c in chargers], "State.Connected")
    assert set(connected.values()) == {True}, connected
    print(f"\nRedis down {OUTAGE} s: {FLEET} chargers answered throughout ({len(during)} rounds), commands back {recovered:.1f} s after Redis")
    await close_fleet(chargers)
