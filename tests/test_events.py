"""Every element write is announced after commit on the `dp.changes` group."""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.management import call_command

from datapoints.events import CHANGES_GROUP

pytestmark = pytest.mark.django_db(transaction=True)


async def test_dp_set_publishes_a_change_event():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(CHANGES_GROUP, channel)
    try:
        await sync_to_async(call_command)("dp_create", "ev-1")
        await sync_to_async(call_command)("dp_set", "_ChargePoint0001.Config.Description", "bay 4")
        seen = {}
        while "Config.Description" not in seen:
            message = await asyncio.wait_for(layer.receive(channel), 5)
            assert message["type"] == "dp.changed"
            for path, value, when in message["changes"].get("_ChargePoint0001", []):
                seen[path] = value
                assert when.startswith("20")
        assert seen["Config.Description"] == "bay 4"
        assert seen["ClientId"] == "ev-1"  # the creation was announced too
    finally:
        await layer.group_discard(CHANGES_GROUP, channel)
