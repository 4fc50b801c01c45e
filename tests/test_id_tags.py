"""Id tags answered to Authorize and StartTransaction through a real Daphne, to the `ocpp` package's
schema-validating client: expiry, a parent that refuses, ConcurrentTx; and the query count."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from ocpp.v16 import call

from datapoints import id_tags
from datapoints.models import IdTag

from .chargers import connected_library_charger, create_charge_point

pytestmark = pytest.mark.django_db(transaction=True)
TS = "2026-11-21T10:00:00Z"


async def _authorize(cp, tag):
    return (await cp.call(call.Authorize(id_tag=tag), suppress=False)).id_tag_info


async def _start(cp, tag, connector=1, timestamp=TS, meter=0):
    return await cp.call(call.StartTransaction(connector_id=connector, id_tag=tag, meter_start=meter, timestamp=timestamp), suppress=False)


async def test_expiry_and_a_refusing_parent_are_answered(server):
    await create_charge_point("tags-exp", "Accepted")
    soon = timezone.now() + timedelta(days=1)
    await IdTag.objects.acreate(id_tag="PAST", expiry_date=timezone.now() - timedelta(minutes=1))
    await IdTag.objects.acreate(id_tag="FUTURE", expiry_date=soon)
    await IdTag.objects.acreate(id_tag="FLEET-BLOCKED", status="Blocked")
    await IdTag.objects.acreate(id_tag="FLEET-OLD", expiry_date=timezone.now() - timedelta(days=1))
    await IdTag.objects.acreate(id_tag="CHILD-B", parent_id_tag="FLEET-BLOCKED")
    await IdTag.objects.acreate(id_tag="CHILD-E", parent_id_tag="FLEET-OLD")
    await IdTag.objects.acreate(id_tag="CHILD-G", parent_id_tag="NOT-A-TAG")
    await IdTag.objects.acreate(id_tag="BLOCKED-CHILD", status="Blocked", parent_id_tag="FLEET-OLD")
    async with connected_library_charger(server, "tags-exp") as cp:
        await cp.boot()
        assert (await _authorize(cp, "PAST"))["status"] == "Expired"
        future = await _authorize(cp, "FUTURE")
        assert future["status"] == "Accepted" and future["expiry_date"].startswith(soon.strftime("%Y-%m-%dT%H:%M:%S"))
        assert await _authorize(cp, "CHILD-B") == {"status": "Blocked", "parent_id_tag": "FLEET-BLOCKED"}
        assert await _authorize(cp, "CHILD-E") == {"status": "Expired", "parent_id_tag": "FLEET-OLD"}
        assert await _authorize(cp, "CHILD-G") == {"status": "Accepted", "parent_id_tag": "NOT-A-TAG"}  # a group name only
        assert (await _authorize(cp, "BLOCKED-CHILD"))["status"] == "Blocked"  # its own status comes first
        start = await _start(cp, "CHILD-B")
        assert start.id_tag_info["status"] == "Blocked" and start.transaction_id > 0  # stored all the same


async def test_concurrent_transactions_per_tag(server):
    await create_charge_point("tags-ctx", "Accepted")
    await IdTag.objects.acreate(id_tag="ONE-AT-A-TIME", max_concurrent_tx=1)
    await IdTag.objects.acreate(id_tag="TWO", max_concurrent_tx=2)
    async with connected_library_charger(server, "tags-ctx") as cp:
        await cp.boot()
        assert (await _authorize(cp, "ONE-AT-A-TIME"))["status"] == "Accepted"
        first = await _start(cp, "ONE-AT-A-TIME", connector=1)
        assert first.id_tag_info["status"] == "Accepted"
        replay = await _start(cp, "ONE-AT-A-TIME", connector=1)  # the same telegram again: the same answer
        assert (replay.transaction_id, replay.id_tag_info["status"]) == (first.transaction_id, "Accepted")
        assert (await _authorize(cp, "ONE-AT-A-TIME"))["status"] == "ConcurrentTx"
        second = await _start(cp, "ONE-AT-A-TIME", connector=2, timestamp="2026-11-21T10:05:00Z")
        assert second.id_tag_info["status"] == "ConcurrentTx"
        await cp.call(call.StopTransaction(meter_stop=10, timestamp="2026-11-21T10:06:00Z", transaction_id=second.transaction_id), suppress=False)
        await cp.call(call.StopTransaction(meter_stop=10, timestamp="2026-11-21T10:07:00Z", transaction_id=first.transaction_id), suppress=False)
        assert (await _authorize(cp, "ONE-AT-A-TIME"))["status"] == "Accepted"  # both closed: free again

        assert (await _start(cp, "TWO", connector=1)).id_tag_info["status"] == "Accepted"
        assert (await _start(cp, "TWO", connector=2)).id_tag_info["status"] == "Accepted"
        assert (await _authorize(cp, "TWO"))["status"] == "ConcurrentTx"


def test_the_answer_costs_one_query(db):
    IdTag.objects.create(id_tag="PARENT", status="Blocked")
    IdTag.objects.create(id_tag="KID", parent_id_tag="PARENT", max_concurrent_tx=3)
    with CaptureQueriesContext(connection) as queries:
        info = id_tags.id_tag_info("KID", timezone.now(), {"charge_point_id": 1, "connector_id": 1, "id_tag": "KID", "started_at": TS, "meter_start": 0})
    assert info == {"status": "Blocked", "parentIdTag": "PARENT"}
    assert len(queries) == 1, [q["sql"] for q in queries]
