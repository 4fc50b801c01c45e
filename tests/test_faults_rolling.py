"""A rolling restart behind the generated nginx: each node stopped (SIGTERM: graceful, 1001) and
started again in turn while the chargers keep sending meter values. No charger is sent to a dead
node or refused meanwhile (nginx's upstream has max_fails=0: with nginx's default a node that was
refused once stayed marked down, its websocket trial never ended, and the second node's chargers got
502), none of their messages is lost. Needs Redis (several nodes): make test's PostgreSQL pass."""
import asyncio
import os
import time
from datetime import datetime, timezone

import pytest
from asgiref.sync import sync_to_async

from .faults import all_on, close_fleet, fleet, serving, until, until_all_connected

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="several nodes need the Redis channel layer and address book (make test's PostgreSQL pass)"),
]
FLEET = 40


@pytest.fixture
def cluster(transactional_db, tmp_path):
    yield from serving(tmp_path, ["a", "b"])


async def keep_metering(charger, stop):
    """MeterValues every 0.2 s until `stop`; returns the answers (resent over reconnects)."""
    answers, meter = [], 0
    while not stop.is_set():
        meter += 10
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        answers.append(await charger.call("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": [{"value": str(meter)}]}]}))
        await asyncio.sleep(0.2)
    return answers


@sync_to_async
def stored_samples(client_ids):
    from datapoints.models import MeterSample

    return MeterSample.objects.filter(charge_point__client_id__in=client_ids).count()


async def test_rolling_restart_sends_no_charger_to_a_dead_node_and_refuses_none(cluster):
    chargers = await fleet(cluster, [f"roll-{i:02}" for i in range(FLEET)])
    await until_all_connected(chargers)
    stop = asyncio.Event()
    metering = [asyncio.create_task(keep_metering(c, stop)) for c in chargers]
    steps = []
    for name, other in (("a", "b"), ("b", "a")):
        code, took = cluster.stop(name)
        assert code == 0, code
        moved = await until(all_on(chargers, other), 30)
        steps.append((took, moved))
        cluster.start(name)  # on its port again; nginx sends it new connections at once
    stop.set()
    answers = await asyncio.gather(*metering)
    assert all(a[0] == 3 for each in answers for a in each)  # every meter value answered
    assert await stored_samples([c.client_id for c in chargers]) == sum(len(each) for each in answers)  # and stored once
    assert all(not c.refusals for c in chargers), {c.client_id: c.refusals for c in chargers if c.refusals}
    assert all(c.close_codes and set(c.close_codes) == {1001} for c in chargers)
    assert " 502 " not in cluster.access_log() and " 504 " not in cluster.access_log()
    print("\nrolling restart of 2 nodes, %d chargers: " % FLEET + "; ".join(f"node stopped in {t:.2f} s, its chargers on the other {m:.2f} s later" for t, m in steps))
    await close_fleet(chargers)
