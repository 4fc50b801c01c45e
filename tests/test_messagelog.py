"""The OCPP message log: every frame in and out, in order, from a real Daphne; nothing with
OCPP_MESSAGE_LOG_DAYS=0; secrets masked; frames PostgreSQL cannot take as JSON still stored;
retention (prune, its command and task) and search()."""
import asyncio
import io
import json
import logging
from collections import deque
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from datapoints import charge_points, messagelog
from datapoints.commands import send_command_async
from datapoints.models import MessageLogEntry
from datapoints.recorder import Recorder, Work

from .chargers import CommandCharger, RawCharger, connected_library_charger, create_charge_point, dp_get, eventually
from .conftest import _serving

pytestmark = pytest.mark.django_db(transaction=True)
BOOT = {"chargePointVendor": "v", "chargePointModel": "m"}


@pytest.fixture
def server_without_log(servers, transactional_db, settings):
    yield from _serving(servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=1, OCPP_NEW_CHARGE_POINT_STATUS="Pending", OCPP_MESSAGE_LOG_DAYS=0)


@sync_to_async
def logged(name):
    """(direction, message_type, unique_id, action, payload) of a charger's rows, oldest first."""
    rows = MessageLogEntry.objects.filter(charge_point__name=name).order_by("at", "id")
    return [(r.direction, r.message_type, r.unique_id, r.action, r.payload) for r in rows]


def parsed(rows):
    return [(d, k, u, a, json.loads(p) if k else p) for d, k, u, a, p in rows]


async def answer_next_call(charger, answer):
    """Take the next CALL the server sends the raw charger and answer it with `answer(unique_id)`."""
    frame = await charger.recv()
    assert frame[0] == 2
    await charger.send(answer(frame[1]))
    return frame


async def test_a_whole_exchange_is_logged_in_order(server):
    name = await create_charge_point("log-all", "Accepted")
    charger = await RawCharger.connect(server, "log-all")
    try:
        boot = await charger.call("BootNotification", BOOT, "b1")
        heartbeat = await charger.call("Heartbeat", {}, "h1")
        command = asyncio.create_task(send_command_async(name, "Reset", {"type": "Soft"}, timeout=5))
        reset = await answer_next_call(charger, lambda uid: [3, uid, {"status": "Accepted"}])
        assert (await command).status == "answered"
        command = asyncio.create_task(send_command_async(name, "ClearCache", {}, timeout=5))
        clear = await answer_next_call(charger, lambda uid: [4, uid, "NotSupported", "no cache here", {"why": "none"}])
        assert (await command).status == "error"
        unknown = await charger.call("FlyToTheMoon", {"speed": 1}, "u1")
        await charger.send("not json at all")
        await charger.no_answer(0.2)
        await charger.send([7, "e1", "Heartbeat", {}])
        broken = await charger.recv()
        await charger.send([3, "never-asked", {}])
        await charger.no_answer(0.2)
    finally:
        await charger.close()
    rows = await eventually(lambda: _complete(name, 14), timeout=10)
    expected = [
        ("in", 2, "b1", "BootNotification", BOOT),
        ("out", 3, "b1", "BootNotification", boot[2]),
        ("in", 2, "h1", "Heartbeat", {}),
        ("out", 3, "h1", "Heartbeat", heartbeat[2]),
        ("out", 2, reset[1], "Reset", {"type": "Soft"}),
        ("in", 3, reset[1], "Reset", {"status": "Accepted"}),
        ("out", 2, clear[1], "ClearCache", {}),
        ("in", 4, clear[1], "ClearCache", {"errorCode": "NotSupported", "errorDescription": "no cache here", "errorDetails": {"why": "none"}}),
        ("in", 2, "u1", "FlyToTheMoon", {"speed": 1}),
        ("out", 4, "u1", "FlyToTheMoon", {"errorCode": "NotImplemented", "errorDescription": unknown[3], "errorDetails": unknown[4]}),
        ("in", 0, "", "", "not json at all"),
        ("in", 0, "e1", "", json.dumps([7, "e1", "Heartbeat", {}])),
        ("out", 4, "e1", "", {"errorCode": broken[2], "errorDescription": broken[3], "errorDetails": broken[4]}),
        ("in", 0, "never-asked", "", json.dumps([3, "never-asked", {}])),
    ]
    assert parsed(rows) == expected
    assert boot[2]["status"] == "Accepted" and set(heartbeat[2]) == {"currentTime"}
    assert unknown[2] == "NotImplemented" and broken[2] == "FormationViolation"


async def _complete(name, at_least):
    rows = await logged(name)
    return rows if len(rows) >= at_least else None


async def test_secrets_are_masked_in_the_log(server):
    name = await create_charge_point("log-secret", "Accepted")
    async with connected_library_charger(server, "log-secret", charger_class=CommandCharger) as cp:
        await cp.boot()
        secret = "0123456789abcdef0123456789abcdef01234567"
        change = await send_command_async(name, "ChangeConfiguration", {"key": "AuthorizationKey", "value": secret}, timeout=5)
        get = await send_command_async(name, "GetConfiguration", {}, timeout=5)
    assert change.status == get.status == "answered"
    assert any(item.get("value") == "not-to-be-stored" for item in get.response["configurationKey"])  # the charger did send it
    rows = await eventually(lambda: _actions(name, {"ChangeConfiguration", "GetConfiguration"}, 4), timeout=10)
    text = " ".join(payload for *_rest, payload in rows)
    assert secret not in text and "not-to-be-stored" not in text
    by_kind = {(d, a): json.loads(p) for d, _k, _u, a, p in rows}
    assert by_kind[("out", "ChangeConfiguration")] == {"key": "AuthorizationKey", "value": "********"}
    keys = {item["key"]: item.get("value") for item in by_kind[("in", "GetConfiguration")]["configurationKey"]}
    assert keys == {"HeartbeatInterval": "300", "NumberOfConnectors": "2", "AuthorizationKey": "********"}


async def _actions(name, actions, count):
    rows = [row for row in await logged(name) if row[3] in actions]
    return rows if len(rows) >= count else None


async def test_nothing_is_logged_when_the_log_is_off(server_without_log):
    name = await create_charge_point("log-off", "Accepted")
    charger = await RawCharger.connect(server_without_log, "log-off")
    try:
        assert (await charger.call("BootNotification", BOOT, "b1"))[2]["status"] == "Accepted"
        assert (await charger.call("Heartbeat", {}, "h1"))[0] == 3
        await charger.send("not json at all")
        await charger.no_answer(0.2)
    finally:
        await charger.close()
    # The server did store the traffic (the bad frame's count is written in the batch after it) ...
    assert await eventually(lambda: dp_get(f"{name}.State.BadFrameCount")) == 1
    assert await dp_get(f"{name}.Requests.Heartbeat.Request") == {}
    await asyncio.sleep(messagelog.FLUSH_INTERVAL * 2)  # ... and an idle flush would have come by now
    assert await logged(name) == []
    assert await MessageLogEntry.objects.filter(charge_point__name=name).acount() == 0


async def test_an_idle_server_flushes_the_last_answer(server):
    name = await create_charge_point("log-idle", "Accepted")
    charger = await RawCharger.connect(server, "log-idle")
    try:
        assert (await charger.call("BootNotification", BOOT, "b1"))[0] == 3
        # The answer is logged after its batch committed; with no traffic after it, the periodic
        # flush stores it within about a second.
        rows = await eventually(lambda: _complete(name, 2), timeout=3)
    finally:
        await charger.close()
    assert [(d, k, u) for d, k, u, _a, _p in rows] == [("in", 2, "b1"), ("out", 3, "b1")]


# --- storing: what PostgreSQL cannot take as JSON, the buffer's cap, a failed batch ---------------
def _charge_point(client_id="log-unit"):
    return charge_points.create_charge_point(client_id, "Accepted")


def _store_buffer():
    with transaction.atomic():
        messagelog.rows(messagelog.drain()).insert()


def test_awkward_frames_are_stored():
    cp = _charge_point()
    messagelog.drain()
    messagelog.record(cp.id, "in", 2, "a", "DataTransfer", {"vendorId": "x", "data": "Grüße \u20ac"})
    messagelog.record(cp.id, "in", 2, "b", "DataTransfer", {"vendorId": "x", "data": "nul \x00 here"})
    messagelog.record(cp.id, "in", 2, "c\x00", "DataTransfer", {"vendorId": "x", "data": "lone \ud800 surrogate"})
    messagelog.record(cp.id, "in", 2, "d", "MeterValues", {"value": float("inf")})
    messagelog.record(cp.id, "in", 2, "e" * 80, "A" * 60, {})
    messagelog.record_raw(cp.id, "in", "x" * 10000)
    messagelog.record_raw(cp.id, "in", b"\x00\x01binary")
    messagelog.record(cp.id, "out", 2, "f", "SendLocalList", {"big": "y" * 70000}, json.dumps([2, "f", "SendLocalList", {"big": "y" * 70000}]))
    _store_buffer()
    rows = list(MessageLogEntry.objects.filter(charge_point=cp).order_by("id"))
    assert len(rows) == 8
    assert json.loads(rows[0].payload)["data"] == "Grüße \u20ac"
    assert json.loads(rows[1].payload)["data"] == "nul \x00 here"
    assert rows[2].unique_id == "c\\u0000" and "surrogate" in rows[2].payload
    assert "Infinity" in rows[3].payload
    assert (len(rows[4].unique_id), len(rows[4].action)) == (64, 40)
    assert rows[5].payload.startswith("x" * messagelog.MAX_RAW) and rows[5].payload.endswith("[10000 characters]")
    assert rows[6].payload == repr(b"\x00\x01binary") and rows[6].message_type == 0
    assert rows[7].message_type == 2 and rows[7].action == "SendLocalList" and len(rows[7].payload) < messagelog.MAX_RAW + 100


def test_ordinary_batch_payload_text_is_the_json_of_the_payload():
    cp = _charge_point("log-plain")
    messagelog.drain()
    payload = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-21T10:00:00Z", "sampledValue": [{"value": "7.4", "unit": "kW"}]}]}
    messagelog.record(cp.id, "in", 2, "m1", "MeterValues", payload)
    _store_buffer()
    row = MessageLogEntry.objects.get(charge_point=cp)
    assert row.payload == json.dumps(payload, separators=(",", ":"))  # key order and all, as sent
    assert abs((row.at - timezone.now()).total_seconds()) < 60


def test_payload_text_is_cut_from_the_frame_as_the_charger_spelled_it():
    cp = _charge_point("log-cut")
    messagelog.drain()
    payload = {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
    spaced = json.dumps([2, "s1", "StatusNotification", payload])  # Python's ", " and ": "
    compact = '[2,"s2","StatusNotification",{"connectorId":1,"status":"Available","errorCode":"NoError"}] '
    odd = '[2 ,"s3","StatusNotification",{"connectorId":1}]'  # a head spelled otherwise: serialized
    messagelog.record(cp.id, "in", 2, "s1", "StatusNotification", payload, spaced)
    messagelog.record(cp.id, "in", 2, "s2", "StatusNotification", payload, compact)
    messagelog.record(cp.id, "in", 2, "s3", "StatusNotification", {"connectorId": 1}, odd)
    messagelog.record(cp.id, "in", 2, 'q"4', "StatusNotification", {"connectorId": 1}, json.dumps([2, 'q"4', "StatusNotification", {"connectorId": 1}]))
    messagelog.record(cp.id, "out", 3, "s1", "StatusNotification", {}, "[3,\"s1\",{}]")
    messagelog.record(cp.id, "in", 3, "r1", "GetLocalListVersion", {"listVersion": 2}, '[3, "r1", {"listVersion": 2} ]')
    _store_buffer()
    stored = list(MessageLogEntry.objects.filter(charge_point=cp).order_by("id").values_list("payload", flat=True))
    assert stored == [
        json.dumps(payload),
        '{"connectorId":1,"status":"Available","errorCode":"NoError"}',
        '{"connectorId":1}',
        '{"connectorId":1}',
        "{}",
        '{"listVersion": 2}',
    ]


def test_the_buffer_is_capped_and_drops_are_counted(monkeypatch, caplog):
    monkeypatch.setattr(messagelog, "MAX_BUFFER", 3)
    monkeypatch.setattr(messagelog, "_buffer", deque(maxlen=3))
    for i in range(5):
        messagelog.record(1, "in", 2, str(i), "Heartbeat", {})
    with caplog.at_level(logging.WARNING, logger="datapoints.messagelog"):
        rows = messagelog.drain()
    assert [row[4] for row in rows] == ["2", "3", "4"]
    assert "dropped the 2 oldest" in caplog.text
    assert messagelog.drain() == []


def test_a_failed_batch_keeps_its_frames_and_its_good_units():
    cp = _charge_point("log-fail")
    messagelog.drain()
    messagelog.record(cp.id, "in", 2, "ok", "Heartbeat", {})

    def good(work):
        return "stored"

    def broken(work):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    outcomes, _changes = Recorder()._flush([Work(good), Work(broken)])
    assert outcomes[0] == (True, "stored") and outcomes[1][0] is False
    assert list(MessageLogEntry.objects.filter(charge_point=cp).values_list("unique_id", flat=True)) == ["ok"]


# --- retention ------------------------------------------------------------------------------------
def _rows(cp, ages, **fields):
    now = timezone.now()
    MessageLogEntry.objects.bulk_create(
        MessageLogEntry(charge_point=cp, at=now - age, direction="in", message_type=2, unique_id=f"id{i}", action=fields.get("action", "Heartbeat"), payload="{}")
        for i, age in enumerate(ages)
    )


def test_prune_deletes_old_rows_in_batches_and_keeps_new_ones():
    cp = _charge_point("log-prune")
    old = [timedelta(days=d) for d in (30, 9, 8, 7, 7.01)]
    new = [timedelta(days=6, hours=23), timedelta(hours=1), timedelta(0)]
    _rows(cp, old + new)
    assert messagelog.prune(days=7, batch=2) == len(old)
    left = sorted(MessageLogEntry.objects.filter(charge_point=cp).values_list("unique_id", flat=True))
    assert left == sorted(f"id{i}" for i in range(len(old), len(old) + len(new)))
    assert messagelog.prune(days=7) == 0
    assert messagelog.prune(days=0) == len(new)
    assert not MessageLogEntry.objects.exists()


def test_prune_command_and_task(settings):
    from datapoints.tasks import prune_message_log

    cp = _charge_point("log-prune-cli")
    _rows(cp, [timedelta(days=settings.OCPP_MESSAGE_LOG_DAYS + 1)] * 3 + [timedelta(hours=1)])
    out = io.StringIO()
    call_command("messagelog_prune", stdout=out)
    assert out.getvalue().strip() == "3"
    assert MessageLogEntry.objects.count() == 1
    _rows(cp, [timedelta(days=3)])
    assert prune_message_log() == 0
    out = io.StringIO()
    call_command("messagelog_prune", "--days", "2", stdout=out)
    assert out.getvalue().strip() == "1"
    assert settings.CELERY_BEAT_SCHEDULE["prune-message-log"] == {"task": "datapoints.tasks.prune_message_log", "schedule": 3600.0}


# --- search ---------------------------------------------------------------------------------------
def test_search_filters():
    one, two = _charge_point("log-s1"), _charge_point("log-s2")
    now = timezone.now()
    entries = [
        (one, 50, "BootNotification", "b1", '{"chargePointVendor":"Go-E"}'),
        (one, 40, "Heartbeat", "h1", "{}"),
        (one, 30, "MeterValues", "m1", '{"connectorId":1,"value":"7.4"}'),
        (two, 20, "Heartbeat", "abc-123", "{}"),
        (two, 10, "BootNotification", "b2", '{"chargePointVendor":"ABB"}'),
    ]
    MessageLogEntry.objects.bulk_create(
        MessageLogEntry(charge_point=cp, at=now - timedelta(minutes=m), direction="in", message_type=2, unique_id=u, action=a, payload=p) for cp, m, a, u, p in entries
    )

    def ids(**filters):
        return [row.unique_id for row in messagelog.search(**filters)]

    assert ids() == ["b2", "abc-123", "m1", "h1", "b1"]  # newest first
    assert ids(charge_point=one) == ["m1", "h1", "b1"]
    assert ids(charge_point=two.id) == ["b2", "abc-123"]
    assert ids(action="Heartbeat") == ["abc-123", "h1"]
    assert ids(since=now - timedelta(minutes=35)) == ["b2", "abc-123", "m1"]
    assert ids(until=now - timedelta(minutes=35)) == ["h1", "b1"]
    assert ids(since=now - timedelta(minutes=45), until=now - timedelta(minutes=15)) == ["abc-123", "m1", "h1"]
    assert ids(text="go-e") == ["b1"]  # payload, case-insensitive
    assert ids(text="ABC-1") == ["abc-123"]  # the message id
    assert ids(text="chargepointvendor", charge_point=two) == ["b2"]
    assert ids(limit=2) == ["b2", "abc-123"]
    assert ids(action="Heartbeat", charge_point=one, text="nothing like it") == []
    assert all(isinstance(row, MessageLogEntry) for row in messagelog.search(limit=None))
