"""Without Redis every process has its own address book: a sweep may only mark disconnected what
claims to be connected since before the sweeping process started (a crashed or restarted server's
chargers), never a charger another process holds now."""
import os

import pytest
from asgiref.sync import sync_to_async

from datapoints import connections
from datapoints.charge_points import find_charge_point
from datapoints.writes import write_elements

from .chargers import RawCharger, dp_get

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="with Redis the address book is shared (tests/test_nodes.py)"),
]


async def test_a_sweep_without_redis_leaves_other_processes_connections_alone(server):
    charger = await RawCharger.connect(server, "SWEEP-1")  # held by the server, unknown to this process
    # The connect writes share the commit of the charger's first message (they are not awaited).
    await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    name = (await sync_to_async(find_charge_point)("SWEEP-1")).name
    assert await dp_get(f"{name}.State.Connected") is True
    assert name not in await sync_to_async(connections.sweep)()
    assert await dp_get(f"{name}.State.Connected") is True

    @sync_to_async
    def connected_long_ago():
        write_elements([(find_charge_point("SWEEP-1"), "State.ConnectedSince", "2020-01-01T00:00:00+00:00")])

    await connected_long_ago()  # as if a server that is gone had written it
    assert name in await sync_to_async(connections.sweep)()
    assert await dp_get(f"{name}.State.Connected") is False
    await charger.close()


async def test_the_connect_writes_are_committed_before_the_first_answer(server):
    """The handshake does not wait for its own commit (datapoints/recorder.py submit_nowait): the
    connect writes go in the batch of the charger's first message or an earlier one, so once the
    charger has an answer they are stored, for every one of many chargers at once."""
    import asyncio

    async def connect_and_boot(n):
        charger = await RawCharger.connect(server, f"CONN-NOWAIT-{n}")
        await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
        name = (await sync_to_async(find_charge_point)(f"CONN-NOWAIT-{n}")).name
        stored = (await dp_get(f"{name}.State.Connected"), await dp_get(f"{name}.State.ConnectedSince"), await dp_get(f"{name}.State.Node"))
        return charger, stored

    results = await asyncio.gather(*(connect_and_boot(n) for n in range(30)))
    for charger, (connected, since, node) in results:
        assert connected is True and since and node
        await charger.close()
