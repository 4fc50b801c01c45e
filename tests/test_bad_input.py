"""Bad input gets the OCPP-J 1.6 answer (or none without a usable id); the socket stays usable
and nothing already stored changes."""
import pytest
from datapoints.models import Transaction

from .chargers import RawCharger, create_charge_point, dp_get

pytestmark = pytest.mark.django_db(transaction=True)
TS = "2026-11-21T10:00:00Z"
BOOT = {"chargePointVendor": "v", "chargePointModel": "m"}
GOOD_STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}

ANSWERED = [
    # (frame, expected error code)
    ([7, "e1", "Heartbeat", {}], "FormationViolation"),  # wrong message type id
    ([2, "e2", "Heartbeat"], "FormationViolation"),  # a CALL without payload
    ([2, "e3", "Heartbeat", []], "FormationViolation"),  # non-object payload
    ([2, "e4", "Heartbeat", "{}"], "FormationViolation"),
    ([2, "e5", 17, {}], "FormationViolation"),  # action not a string
    ([2, "e6", "FlyToTheMoon", {}], "NotImplemented"),  # unknown action
    ([2, "e7", "RemoteStartTransaction", {"idTag": "x"}], "NotSupported"),  # the CSMS's action
    ([2, "e8", "StatusNotification", {"connectorId": 1, "status": "Charging"}], "OccurenceConstraintViolation"),  # missing field
    ([2, "e9", "StatusNotification", {**GOOD_STATUS, "connectorId": "1"}], "TypeConstraintViolation"),  # wrong type
    ([2, "e10", "StatusNotification", {**GOOD_STATUS, "status": "Dancing"}], "PropertyConstraintViolation"),  # bad enum
    ([2, "e11", "StatusNotification", {**GOOD_STATUS, "info": "x" * 51}], "TypeConstraintViolation"),  # over maxLength
    ([2, "e12", "StatusNotification", {**GOOD_STATUS, "colour": "red"}], "FormationViolation"),  # not in the PDU
    ([2, "e13", "StatusNotification", {**GOOD_STATUS, "connectorId": -1}], "PropertyConstraintViolation"),
    ([2, "e14", "StatusNotification", {**GOOD_STATUS, "connectorId": 999}], "PropertyConstraintViolation"),
    ([2, "e15", "StartTransaction", {"connectorId": 0, "idTag": "T", "meterStart": 0, "timestamp": TS}], "PropertyConstraintViolation"),
    ([2, "e16", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 2**64, "timestamp": TS}], "PropertyConstraintViolation"),
    ([2, "e17", "StartTransaction", {"connectorId": 2**40, "idTag": "T", "meterStart": 1, "timestamp": TS}], "PropertyConstraintViolation"),
    ([2, "e18", "StopTransaction", {"transactionId": 987654, "meterStop": 1, "timestamp": TS}], "PropertyConstraintViolation"),
    ([2, "e19", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 1, "timestamp": "yesterday"}], "TypeConstraintViolation"),
    ([2, "e20", "Heartbeat", {"connectorId": True}], "FormationViolation"),
    ([2, "e21", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 1.5, "timestamp": TS}], "TypeConstraintViolation"),
]

UNANSWERABLE = [
    "not json at all",
    "{\"an\": \"object\"}",
    "[2]",
    "[2, 42, \"Heartbeat\", {}]",  # id not a string
    "[2, \"" + "x" * 37 + "\", \"Heartbeat\", {}]",  # id too long
    "[3, \"never-asked\", {}]",  # CALLRESULT for nothing we asked
    "[4, \"never-asked\", \"GenericError\", \"\", {}]",
    "[2, \"n1\", \"Heartbeat\", {\"x\": NaN}]",
    "[" * 100000,
]


@pytest.fixture
async def charger(server):
    name = await create_charge_point("bad-1", "Accepted")
    charger = await RawCharger.connect(server, "bad-1")
    assert (await charger.call("BootNotification", BOOT))[2]["status"] == "Accepted"
    start = await charger.call("StartTransaction", {"connectorId": 1, "idTag": "GOOD", "meterStart": 100, "timestamp": TS}, "st")
    charger.transaction_id = start[2]["transactionId"]
    assert (await charger.call("StatusNotification", GOOD_STATUS, "sn"))[0] == 3
    charger.name = name
    yield charger
    await charger.close()


async def assert_still_serving_and_intact(charger):
    answer = await charger.call("Heartbeat", {}, "alive")
    assert answer[0] == 3 and answer[1] == "alive"
    assert await dp_get(f"{charger.name}-1.Status.status") == "Charging"
    assert await dp_get(f"{charger.name}-1.Transaction.CurrentTransactionId") == charger.transaction_id
    tx = await Transaction.objects.aget(pk=charger.transaction_id)
    assert (tx.meter_start, tx.meter_stop) == (100, None)


@pytest.mark.parametrize("frame,code", ANSWERED, ids=[f[0][1] if len(f[0]) > 1 else "?" for f in ANSWERED])
async def test_answered_with_the_ocpp_error(charger, frame, code):
    await charger.send(frame)
    answer = await charger.recv()
    assert answer[0] == 4 and answer[1] == frame[1]
    assert answer[2] == code, answer
    assert answer[3]  # a description that says what is wrong
    await assert_still_serving_and_intact(charger)


@pytest.mark.parametrize("text", UNANSWERABLE, ids=range(len(UNANSWERABLE)))
async def test_unanswerable_frames_get_no_answer_and_are_counted(charger, text):
    await charger.send(text)
    await charger.no_answer()
    await assert_still_serving_and_intact(charger)
    assert await dp_get(f"{charger.name}.State.BadFrameCount") == 1


async def test_binary_frame_is_counted(charger):
    await charger.send(b"\x00\x01")
    await charger.no_answer()
    await assert_still_serving_and_intact(charger)
    assert await dp_get(f"{charger.name}.State.BadFrameCount") == 1


async def test_failed_request_is_recorded_on_the_element(charger):
    await charger.send([2, "x", "StopTransaction", {"transactionId": 424242, "meterStop": 1, "timestamp": TS}])
    assert (await charger.recv())[2] == "PropertyConstraintViolation"
    error = await dp_get(f"{charger.name}.Requests.StopTransaction.Error")
    assert error.startswith("PropertyConstraintViolation") and "424242" in error
