"""kill -9 of the node holding 200 chargers in mid-transaction, behind the generated nginx: the
chargers reconnect through nginx to the other node and resend what was never answered
(StopTransactions and StartTransactions in flight when the node died, and a StartTransaction whose
answer they pretend to have lost); every replayed start gets its transaction id back, every stop
is stored once, no transaction is lost or duplicated, and every charger is State.Connected again
within one lease. Needs Redis (the address book across nodes): make test's PostgreSQL pass."""
import asyncio
import os
import signal
import time
from datetime import datetime, timezone

import pytest
from asgiref.sync import sync_to_async

from .faults import all_on, close_fleet, fleet, serving, until, until_all_connected

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="several nodes need the Redis channel layer and address book (make test's PostgreSQL pass)"),
]
FLEET = 200
LEASE = 10  # OCPP_ADDRESS_TTL, seconds (120 by default)


@pytest.fixture
def cluster(transactional_db, tmp_path):
    yield from serving(tmp_path, ["a", "b"], env={"OCPP_ADDRESS_TTL": LEASE}, start=["a"])  # b not started: all land on a


def start(connector, meter=0):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"connectorId": connector, "idTag": "KILL", "meterStart": meter, "timestamp": now}


@sync_to_async
def transactions(client_ids):
    from datapoints.models import Transaction

    return list(Transaction.objects.filter(charge_point__client_id__in=client_ids).values("pk", "charge_point__client_id", "connector_id", "meter_stop"))


async def test_kill_9_of_the_node_holding_200_chargers_mid_transaction(cluster):
    chargers = await fleet(cluster, [f"kill-{i:03}" for i in range(FLEET)])
    assert set((await until_all_connected(chargers, 30)).values()) == {"a"}
    firsts = [start(1) for _ in chargers]
    answers = await asyncio.gather(*(c.call("StartTransaction", s) for c, s in zip(chargers, firsts)))
    first_ids = [a[2]["transactionId"] for a in answers]
    cluster.start("b")
    stopping, starting = chargers[: FLEET // 2], chargers[FLEET // 2 :]
    in_flight = [asyncio.create_task(c.call("StopTransaction", {"transactionId": t, "meterStop": 5000 + i, "timestamp": start(1)["timestamp"]})) for i, (c, t) in enumerate(zip(stopping, first_ids))]
    seconds = [start(2, 100) for _ in starting]
    in_flight += [asyncio.create_task(c.call("StartTransaction", s)) for c, s in zip(starting, seconds)]
    while sum(task.done() for task in in_flight) < len(in_flight) // 4:  # some answered, some being handled, some not read yet
        await asyncio.sleep(0.005)
    answered_before = sum(task.done() for task in in_flight)
    cluster.stop("a", signal.SIGKILL)
    killed = time.monotonic()
    outcomes = await asyncio.wait_for(asyncio.gather(*in_flight), 60)
    await until(all_on(chargers, "b"), 60)
    recovered = time.monotonic() - killed
    # A charger that lost the answer to its first StartTransaction sends it again.
    replays = await asyncio.gather(*(c.call("StartTransaction", s) for c, s in zip(starting[-50:], firsts[-50:])))
    assert [r[2]["transactionId"] for r in replays] == first_ids[-50:]
    assert all(o[0] == 3 for o in outcomes), [o for o in outcomes if o[0] != 3][:3]
    rows = await transactions([c.client_id for c in chargers])
    assert len(rows) == FLEET + len(starting)  # nothing lost, nothing duplicated
    assert len({(r["charge_point__client_id"], r["connector_id"]) for r in rows}) == len(rows)
    by_id = {r["pk"]: r for r in rows}
    assert [by_id[t]["meter_stop"] for t in first_ids[: len(stopping)]] == [5000 + i for i in range(len(stopping))]  # each stop stored
    assert all(by_id[t]["meter_stop"] is None for t in first_ids[len(stopping) :])
    second_ids = [o[2]["transactionId"] for o in outcomes[len(stopping) :]]
    assert all(by_id[t]["connector_id"] == 2 and by_id[t]["charge_point__client_id"] == c.client_id for t, c in zip(second_ids, starting))
    assert all(c.close_codes == [1006] and c.connections == 2 and not c.refusals for c in chargers)
    assert recovered <= LEASE, recovered  # State.Connected true again within one lease
    print(f"\nkill -9 with {FLEET} chargers: {answered_before} of {len(in_flight)} in-flight calls answered before the kill; lost 0, duplicated 0; all connected on b {recovered:.1f} s after the kill")
    await close_fleet(chargers)
