"""Auto-create, Pending, approval by dp_set, Accepted; unknown chargers; subprotocols."""
import asyncio

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.management import call_command
from ocpp.exceptions import SecurityError
from ocpp.v16 import call

from datapoints.models import Datapoint, UnknownChargePoint

from .chargers import RawCharger, connected_library_charger, create_charge_point, dp_get, eventually

pytestmark = pytest.mark.django_db(transaction=True)
dp_set = sync_to_async(lambda path, value: call_command("dp_set", path, value))


async def dp_name(client_id):
    return (await Datapoint.objects.aget(client_id=client_id)).name


async def test_auto_create_pending_then_approved_by_dp_set(server):
    async with connected_library_charger(server, "flow-pending") as cp:
        first = await cp.boot()
        assert first.status == "Pending"
        assert first.interval == 60  # the retry interval, not the heartbeat interval
        name = await dp_name("flow-pending")
        assert name.startswith("_ChargePoint") and len(name) == len("_ChargePoint0001")
        assert await dp_get(f"{name}.ClientId") == "flow-pending"
        assert await dp_get(f"{name}.Config.RegistrationStatus") == "Pending"
        assert await dp_get(f"{name}.State.Connected") is True
        assert await dp_get(f"{name}.Common.ConnState") == "Connected"

        with pytest.raises(SecurityError):
            await cp.call(call.Heartbeat(), suppress=False)
        assert await dp_get(f"{name}.Requests.Heartbeat.Request") is None  # refused calls are not stored

        await dp_set(f"{name}.Config.RegistrationStatus", "Accepted")
        await eventually(cp.triggered.is_set)  # TriggerMessage(BootNotification) arrived, charger re-booted
        assert cp.boot_results[-1].status == "Accepted"
        assert cp.boot_results[-1].interval == 300
        assert await dp_get(f"{name}.State.RegistrationStatus") == "Accepted"
        assert await dp_get(f"{name}.Common.ConnState") == "Registered"
        assert await dp_get(f"{name}.Commands.TriggerMessage.Response") == {"status": "Accepted"}
        heartbeat = await cp.call(call.Heartbeat(), suppress=False)
        assert heartbeat.current_time.endswith("Z")
    async def disconnected():
        return await dp_get(f"{name}.State.Connected") is False

    await eventually(disconnected)
    assert await dp_get(f"{name}.Common.ConnState") == "Disconnected"


async def test_unknown_charger_refused_with_404_and_recorded(closed_server):
    for attempt in (1, 2):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(closed_server.ws("stranger-7"), subprotocols=["ocpp1.6"])
        assert refused.value.response.status_code == 404
        row = await UnknownChargePoint.objects.aget(client_id="stranger-7")
        assert row.attempts == attempt
        assert row.remote_address == "127.0.0.1"
    assert not await Datapoint.objects.filter(client_id="stranger-7").aexists()


async def test_created_charger_is_served_when_auto_create_is_off(closed_server):
    await create_charge_point("known-1", "Accepted")
    charger = await RawCharger.connect(closed_server, "known-1")
    answer = await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert answer[2]["status"] == "Accepted"
    await charger.close()


@pytest.mark.parametrize("client_id", ["a%2Fb", "x" * 49])
async def test_bad_client_ids_are_refused(server, client_id):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws(client_id), subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 404


async def test_percent_encoded_client_id_is_decoded(server):
    charger = await RawCharger.connect(server, "bay%203")
    await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    await charger.close()
    assert await Datapoint.objects.filter(client_id="bay 3").aexists()


async def test_no_subprotocol_is_served_as_16(server):
    charger = await RawCharger.connect(server, "no-proto", subprotocols=())
    assert charger.ws.subprotocol is None
    answer = await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert answer[0] == 3 and answer[2]["status"] == "Pending"
    await charger.close()
    assert "offered no subprotocol" in server.logs()


async def test_only_ocpp201_offered_is_refused(server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws("v201-only"), subprotocols=["ocpp2.0.1"])
    assert refused.value.response.status_code == 400


async def test_second_connection_takes_over(server):
    first = await RawCharger.connect(server, "twice")
    await first.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    second = await RawCharger.connect(server, "twice")
    await eventually(lambda: first.ws.close_code is not None or first.ws.state.name == "CLOSED")
    answer = await second.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert answer[0] == 3
    name = await dp_name("twice")
    assert await dp_get(f"{name}.State.Connected") is True  # the old socket's close did not clear it
    assert await dp_get(f"{name}.State.ReconnectCount") == 1
    await second.close()


async def test_a_boot_answers_what_operators_wrote_while_it_was_connected(closed_server):
    """Boots soon after the handshake answer from what it read (no query per boot in a storm);
    operators' writes in the meantime must still count."""
    from datapoints.paths import set_value

    name = await create_charge_point("REG-LIVE", "Accepted")
    charger = await RawCharger.connect(closed_server, "REG-LIVE")
    boot = {"chargePointVendor": "v", "chargePointModel": "m"}
    assert (await charger.call("BootNotification", boot, "1"))[2]["status"] == "Accepted"
    await sync_to_async(set_value)(f"{name}.Config.RegistrationStatus", "Rejected")
    await asyncio.sleep(0.2)  # the write reaches the connection as cp.config
    assert (await charger.call("BootNotification", boot, "2"))[2]["status"] == "Rejected"
    await sync_to_async(set_value)(f"{name}.Config.HeartbeatInterval", 33)
    await sync_to_async(set_value)(f"{name}.Config.RegistrationStatus", "Accepted")
    await asyncio.sleep(0.2)
    answer = (await charger.call("BootNotification", boot, "3"))[2]
    assert answer["status"] == "Accepted" and answer["interval"] == 33
    await charger.close()
