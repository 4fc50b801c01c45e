"""A full boot-to-stop session through the `ocpp` package's schema-validating client, replays,
and every element it writes read back by path."""
import pytest
from ocpp.v16 import call

from datapoints.models import IdTag, MeterSample, Transaction

from .chargers import RawCharger, connected_library_charger, create_charge_point, dp_get

pytestmark = pytest.mark.django_db(transaction=True)
TS = "2026-11-21T10:00:00Z"


def sample(value, measurand="Energy.Active.Import.Register", unit="Wh", **extra):
    return {"value": value, "measurand": measurand, "unit": unit, **extra}


async def test_full_session_reads_back_by_path(server):
    name = await create_charge_point("session-1", "Accepted")
    await IdTag.objects.acreate(id_tag="RFID-OK", status="Accepted", parent_id_tag="FLEET")
    async with connected_library_charger(server, "session-1") as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted"
        await cp.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"), suppress=False)
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", info="cable in", vendor_id="go-e"), suppress=False)
        auth = await cp.call(call.Authorize(id_tag="RFID-OK"), suppress=False)
        assert auth.id_tag_info == {"status": "Accepted", "parent_id_tag": "FLEET"}
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="RFID-OK", meter_start=1000, timestamp=TS), suppress=False)
        tx_id = start.transaction_id
        assert isinstance(tx_id, int) and tx_id > 0
        meter = [{"timestamp": "2026-11-21T10:01:00Z", "sampledValue": [sample("1500"), sample("7.4", "Power.Active.Import", "kW"), sample("230.1", "Voltage", "V", phase="L1-N")]}]
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=meter), suppress=False)
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing"), suppress=False)
        end_data = [{"timestamp": "2026-11-21T10:30:00Z", "sampledValue": [sample("4200", context="Transaction.End")]}]
        stop = await cp.call(call.StopTransaction(meter_stop=4200, timestamp="2026-11-21T10:30:00Z", transaction_id=tx_id, reason="EVDisconnected", id_tag="RFID-OK", transaction_data=end_data), suppress=False)
        assert stop.id_tag_info["status"] == "Accepted"
        await cp.call(call.Heartbeat(), suppress=False)
        await cp.call(call.DataTransfer(vendor_id="go-e", message_id="x", data="{}"), suppress=False)
        await cp.call(call.FirmwareStatusNotification(status="Installed"), suppress=False)
        await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"), suppress=False)

    expected = {
        f"{name}.ClientId": "session-1",
        f"{name}.DeviceInfo.chargePointVendor": "go-e",
        f"{name}.DeviceInfo.chargePointModel": "go-eCharger_V4",
        f"{name}.DeviceInfo.chargePointSerialNumber": "237512",
        f"{name}.DeviceInfo.firmwareVersion": "59.4",
        f"{name}.DeviceInfo.iccid": "",
        f"{name}.State.RegistrationStatus": "Accepted",
        f"{name}.Status.status": "Available",
        f"{name}.Status.connectorId": 0,
        f"{name}.State.NumberOfConnectors": 1,
        f"{name}.State.FirmwareStatusNotification": "Installed",
        f"{name}.State.DiagnosticsStatusNotification": "Uploaded",
        f"{name}.State.DataTransfer": {"vendorId": "go-e", "messageId": "x", "data": "{}"},
        f"{name}.Requests.DataTransfer.Response": {"status": "UnknownVendorId"},
        f"{name}.Requests.Authorize.Request": {"idTag": "RFID-OK"},
        f"{name}-1.ConnectorId": 1,
        f"{name}-1.Status.status": "Finishing",
        f"{name}-1.Status.errorCode": "NoError",
        f"{name}-1.Status.info": "",
        f"{name}-1.Transaction.CurrentTransactionId": 0,
        f"{name}-1.Transaction.Start.idTag": "RFID-OK",
        f"{name}-1.Transaction.Start.meterStart": 1000,
        f"{name}-1.Transaction.Start.timestamp": TS,
        f"{name}-1.Transaction.Start.transactionId": tx_id,
        f"{name}-1.Transaction.Stop.meterStop": 4200,
        f"{name}-1.Transaction.Stop.reason": "EVDisconnected",
        f"{name}-1.Transaction.Stop.transactionId": tx_id,
        f"{name}-1.Transaction.Stop.transactionData": end_data,
        f"{name}-1.MeterValues": meter,
    }
    actual = {path: await dp_get(path) for path in expected}
    assert actual == expected
    assert (await dp_get(f"{name}.State.LastHeartbeat")).startswith("20")

    tx = await Transaction.objects.aget(pk=tx_id)
    assert (tx.meter_start, tx.meter_stop, tx.stop_reason, tx.connector_id) == (1000, 4200, "EVDisconnected", 1)
    rows = [row async for row in MeterSample.objects.filter(transaction_id=tx_id).order_by("id").values("measurand", "phase", "unit", "value", "value_number", "context")]
    assert rows == [
        {"measurand": "Energy.Active.Import.Register", "phase": "", "unit": "Wh", "value": "1500", "value_number": 1500.0, "context": "Sample.Periodic"},
        {"measurand": "Power.Active.Import", "phase": "", "unit": "kW", "value": "7.4", "value_number": 7.4, "context": "Sample.Periodic"},
        {"measurand": "Voltage", "phase": "L1-N", "unit": "V", "value": "230.1", "value_number": 230.1, "context": "Sample.Periodic"},
        {"measurand": "Energy.Active.Import.Register", "phase": "", "unit": "Wh", "value": "4200", "value_number": 4200.0, "context": "Transaction.End"},
    ]


async def test_replayed_start_gets_same_id_and_replayed_stop_changes_nothing(server):
    name = await create_charge_point("replay-1", "Accepted")
    charger = await RawCharger.connect(server, "replay-1")
    await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    start = {"connectorId": 2, "idTag": "ANY", "meterStart": 5, "timestamp": TS}
    first = await charger.call("StartTransaction", start, "s1")
    again = await charger.call("StartTransaction", start, "s2")
    assert first[2]["transactionId"] == again[2]["transactionId"]
    assert await Transaction.objects.filter(charge_point__name=name).acount() == 1
    other = await charger.call("StartTransaction", {**start, "timestamp": "2026-11-21T11:00:00Z"}, "s3")
    assert other[2]["transactionId"] > first[2]["transactionId"]  # ids from the database sequence

    tx_id = first[2]["transactionId"]
    stop = {"transactionId": tx_id, "meterStop": 50, "timestamp": "2026-11-21T10:10:00Z", "reason": "Local"}
    assert (await charger.call("StopTransaction", stop, "p1"))[0] == 3
    replay = await charger.call("StopTransaction", {**stop, "meterStop": 999, "reason": "Remote"}, "p2")
    assert replay[0] == 3
    tx = await Transaction.objects.aget(pk=tx_id)
    assert (tx.meter_stop, tx.stop_reason) == (50, "Local")
    assert await dp_get(f"{name}-2.Transaction.Stop.meterStop") == 50
    await charger.close()


async def test_unknown_tag_default_and_blocked_and_expired_tags(server):
    await create_charge_point("tags-1", "Accepted")
    await IdTag.objects.acreate(id_tag="BLOCKED", status="Blocked")
    await IdTag.objects.acreate(id_tag="OLD", status="Accepted", expiry_date="2020-01-01T00:00:00Z")
    charger = await RawCharger.connect(server, "tags-1")
    await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert (await charger.call("Authorize", {"idTag": "NEVER-SEEN"}))[2] == {"idTagInfo": {"status": "Accepted"}}
    assert (await charger.call("Authorize", {"idTag": "BLOCKED"}))[2] == {"idTagInfo": {"status": "Blocked"}}
    old = (await charger.call("Authorize", {"idTag": "OLD"}))[2]["idTagInfo"]
    assert old["status"] == "Expired" and old["expiryDate"].startswith("2020-01-01")
    await charger.close()


async def test_security_extension_messages_are_stored(server):
    name = await create_charge_point("sec-1", "Accepted")
    charger = await RawCharger.connect(server, "sec-1")
    await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    event = {"type": "FirmwareUpdated", "timestamp": TS}
    assert (await charger.call("SecurityEventNotification", event))[2] == {}
    assert (await charger.call("LogStatusNotification", {"status": "Uploaded", "requestId": 3}))[2] == {}
    assert (await charger.call("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 4}))[2] == {}
    assert (await charger.call("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}))[2] == {"status": "Rejected"}
    await charger.close()
    assert await dp_get(f"{name}.State.SecurityEventNotification") == event
    assert await dp_get(f"{name}.State.LogStatusNotification") == {"status": "Uploaded", "requestId": 3}
