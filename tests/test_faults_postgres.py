"""PostgreSQL restarted under a node behind the generated nginx (a cluster of the test's own: initdb
and pg_ctl in a temporary directory): calls made while it is down are answered CALLERROR
InternalError ("not stored") or, once it is back, answered right and stored once, never a wrong
answer; /readyz says 503 meanwhile; the node recovers by itself. PostgreSQL pass only."""
import asyncio
import os
import time
from datetime import datetime, timezone

import psycopg
import pytest

from .faults import PrivatePostgres, close_fleet, fleet, serving
from .test_nginx import get

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="PostgreSQL restarts are drilled in make test's PostgreSQL pass"),
]
FLEET = 10
OUTAGE = 5  # seconds


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    yield server
    server.remove()


@pytest.fixture(params=[1, 0], ids=["psycopg-pool", "persistent-connection"])
def cluster(request, transactional_db, tmp_path, postgres):
    yield from serving(tmp_path, ["a"], env={"DATABASE_URL": postgres.url, "DATABASE_POOL": request.param, "OCPP_CHANNEL_PREFIX": "fltpg"})


def start_payload(i):
    return {"connectorId": 1, "idTag": f"PG{i}", "meterStart": i, "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}


async def until_stored(charger, payload, answers):
    """StartTransaction again and again (a charger retries a CALLERROR) until it is answered."""
    while True:
        answer = await charger.call("StartTransaction", payload)
        answers.append(answer)
        if answer[0] == 3:
            return answer[2]["transactionId"]
        await asyncio.sleep(0.3)


def rows(url):
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        return conn.execute("SELECT t.id, d.client_id, t.id_tag FROM datapoints_transaction t JOIN datapoints_datapoint d ON d.id = t.charge_point_id").fetchall()


async def test_postgres_restart_answers_internal_error_or_right_and_recovers_by_itself(cluster, postgres):
    chargers = await fleet(cluster, [f"pg-{i:02}" for i in range(FLEET)])
    assert (await asyncio.to_thread(get, cluster.http + "/readyz"))[0] == 200
    postgres.stop()
    down = time.monotonic()
    answers = [[] for _ in chargers]
    payloads = [start_payload(i) for i in range(FLEET)]
    tries = [asyncio.create_task(until_stored(c, p, a)) for c, p, a in zip(chargers, payloads, answers)]
    status, body = await asyncio.to_thread(get, cluster.http + "/readyz")
    assert status == 503 and "unreachable" in body, body
    await asyncio.sleep(max(0, OUTAGE - (time.monotonic() - down)))
    postgres.start()
    back = time.monotonic()
    tx_ids = await asyncio.wait_for(asyncio.gather(*tries), 60)
    recovered = time.monotonic() - back
    while (await asyncio.to_thread(get, cluster.http + "/readyz"))[0] != 200:
        assert time.monotonic() - back < 30
        await asyncio.sleep(0.2)
    flat = [a for each in answers for a in each]
    errors = [a for a in flat if a[0] == 4]
    assert errors and all(a[2] == "InternalError" for a in errors), {a[2] for a in errors}  # nothing but "not stored"
    stored = await asyncio.to_thread(rows, postgres.url)
    assert sorted(stored) == sorted((t, c.client_id, f"PG{i}") for i, (t, c) in enumerate(zip(tx_ids, chargers)))  # right, and once
    print(f"\nPostgreSQL down {OUTAGE} s ({'pool' if 'pool' in os.environ.get('PYTEST_CURRENT_TEST', '') else 'persistent'}): {len(errors)} CALLERROR InternalError, {len(flat) - len(errors)} answered after; 0 wrong, 0 lost, 0 duplicated; every charger answered {recovered:.1f} s after PostgreSQL was back; chargers reconnected: {sum(c.connections - 1 for c in chargers)}")
    await close_fleet(chargers)
