"""Alarms (datapoints/alarms.py): a connector Faulted comes and goes through a real Daphne with the
`ocpp` package's client, also across a reconnect; the offline alarm from the periodic check; a
failing request hook; the mirror elements a change hook reacts to; idempotence; acknowledgement."""
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from ocpp.v16 import call

from datapoints import alarms
from datapoints.charge_points import find_charge_point
from datapoints.models import Alarm, AuditEntry
from datapoints.recorder import Recorder, Work
from datapoints.writes import ref, write_elements

from .chargers import RawCharger, connected_library_charger, create_charge_point, dp_get, eventually
from .test_hooks import _authorize, _hooked

pytestmark = pytest.mark.django_db(transaction=True)


def _alarms(**filters):
    return list(Alarm.objects.filter(**filters).order_by("id").values("connector_id", "kind", "went_at", "text", "detail"))


async def _status(cp, connector_id, status, error_code="NoError", **extra):
    await cp.call(call.StatusNotification(connector_id=connector_id, error_code=error_code, status=status, **extra), suppress=False)


async def test_faulted_comes_once_and_goes_also_after_a_reconnect(server):
    name = await create_charge_point("alarm-1", "Accepted")
    async with connected_library_charger(server, "alarm-1") as cp:
        await cp.boot()
        await _status(cp, 1, "Available")
        await _status(cp, 1, "Faulted", "GroundFailure", info="RCD tripped")
        await _status(cp, 2, "Charging")
        await _status(cp, 1, "Faulted", "GroundFailure")  # still faulted: the same alarm
        rows = await sync_to_async(_alarms)()
        assert [(r["connector_id"], r["kind"], r["went_at"]) for r in rows] == [(1, "faulted", None)]
        assert rows[0]["text"] == "connector 1 Faulted: GroundFailure (RCD tripped)"
        assert rows[0]["detail"]["errorCode"] == "GroundFailure" and rows[0]["detail"]["info"] == "RCD tripped"
        assert await dp_get(f"{name}-1.Alarms.Active") == ["faulted"]
        assert await dp_get(f"{name}-1.Alarms.Count") == 1
        assert await dp_get(f"{name}.Alarms.Active") == ["faulted"]
        assert await dp_get(f"{name}.Alarms.Count") == 1
        assert await dp_get(f"{name}-2.Alarms.Active") is None  # connector 2 never had an alarm
    # A new connection knows the alarm from the handshake: its next status ends it.
    async with connected_library_charger(server, "alarm-1") as cp:
        await cp.boot()
        await _status(cp, 1, "Available")
        rows = await sync_to_async(_alarms)()
        assert len(rows) == 1 and rows[0]["went_at"] is not None
        assert await dp_get(f"{name}-1.Alarms.Active") == []
        assert await dp_get(f"{name}.Alarms.Count") == 0
        await _status(cp, 1, "Faulted", "HighTemperature")  # a new fault is a new alarm
    rows = await sync_to_async(_alarms)()
    assert [(r["kind"], r["went_at"] is None, r["detail"]["errorCode"]) for r in rows] == [("faulted", False, "GroundFailure"), ("faulted", True, "HighTemperature")]


async def test_offline_alarm_comes_by_the_periodic_check_and_goes_when_the_charger_connects(server, settings):
    settings.OCPP_OFFLINE_ALARM_MINUTES = 10
    name = await create_charge_point("alarm-off", "Accepted")
    await create_charge_point("alarm-short", "Accepted")
    for client_id in ("alarm-off", "alarm-short"):
        async with connected_library_charger(server, client_id) as cp:
            await cp.boot()
    await eventually(lambda: _reads(f"{name}.State.Connected", False))
    now = timezone.now()
    long_ago = now - timedelta(minutes=11)
    await sync_to_async(_disconnected_since)("alarm-off", long_ago)
    await sync_to_async(_disconnected_since)("alarm-short", now - timedelta(minutes=9))
    # (The test server's own periodic check may run at any moment too: the state is what counts.)
    await sync_to_async(alarms.check_offline)(now)
    assert await sync_to_async(alarms.check_offline)(now) == (0, 0)  # one alarm, however often it runs
    (alarm,) = await sync_to_async(list)(Alarm.objects.select_related("charge_point"))
    assert (alarm.charge_point.client_id, alarm.kind, alarm.connector_id, alarm.went_at) == ("alarm-off", "offline", 0, None)
    assert alarm.came_at == long_ago + timedelta(minutes=10)  # when it became true, not when it was seen
    assert await dp_get(f"{name}.Alarms.Active") == ["offline"]
    async with connected_library_charger(server, "alarm-off") as cp:
        await cp.boot()
        await alarm.arefresh_from_db()
        assert alarm.went_at is not None and alarm.went_at >= now
        assert await dp_get(f"{name}.Alarms.Active") == []


@pytest.fixture
def prompt_server(transactional_db, settings, tmp_path):
    """Offline alarms at once (OCPP_OFFLINE_ALARM_MINUTES=0): Daphne's own check runs every second.
    Its own server, stopped after the test: left running, it raised offline alarms on later tests'
    chargers whenever they were disconnected (a clean-clone run failed the readback test on it)."""
    from .conftest import _serving_alone

    yield from _serving_alone(tmp_path, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=1, OCPP_NEW_CHARGE_POINT_STATUS="Accepted", OCPP_OFFLINE_ALARM_MINUTES=0)


async def test_daphnes_own_periodic_check_raises_the_offline_alarm(prompt_server):
    async with connected_library_charger(prompt_server, "alarm-daphne") as cp:
        await cp.boot()
    name = "_ChargePoint0001"
    await eventually(lambda: _reads(f"{name}.Alarms.Active", ["offline"]), timeout=10)
    alarm = await Alarm.objects.aget(kind="offline")
    disconnected = await dp_get(f"{name}.State.DisconnectedSince")
    assert alarm.came_at.isoformat() == disconnected  # the limit is 0: it came when the charger went
    async with connected_library_charger(prompt_server, "alarm-daphne") as cp:
        await cp.boot()
        await eventually(lambda: _reads(f"{name}.Alarms.Active", []))


def test_the_check_interval_follows_the_limit(settings):
    for minutes, seconds in ((0, 1.0), (2, 30.0), (10, 60.0), (240, 60.0)):
        settings.OCPP_OFFLINE_ALARM_MINUTES = minutes
        assert alarms.check_interval() == seconds


async def test_the_periodic_check_ends_an_offline_alarm_the_connection_did_not_know(server):
    name = await create_charge_point("alarm-race", "Accepted")
    async with connected_library_charger(server, "alarm-race") as cp:
        await cp.boot()
        # Came on another process just after this connection's handshake loaded the alarms.
        cp_id = (await sync_to_async(find_charge_point)("alarm-race")).id
        assert await sync_to_async(_came_in_transaction)(cp_id, "offline", "offline since then")
        assert await dp_get(f"{name}.Alarms.Active") == ["offline"]
        await sync_to_async(alarms.check_offline)()
        assert await dp_get(f"{name}.Alarms.Active") == []
        assert await sync_to_async(Alarm.objects.filter(went_at__isnull=False).count)() == 1


def _came_in_transaction(*args, **kwargs):
    with transaction.atomic():
        return alarms.came(*args, **kwargs)


def _disconnected_since(client_id, when):
    cp = find_charge_point(client_id)
    write_elements([(ref(cp), "State.DisconnectedSince", when.isoformat())])


async def _reads(path, value):
    return await dp_get(path) == value


hooked = _hooked("tests.hooks_for_tests,tests.hooks_alarms")


async def test_a_failing_hook_raises_an_alarm_and_a_change_hook_sees_the_mirror(hooked):
    await create_charge_point("alarm-hook", "Accepted")
    name = "_ChargePoint0001"
    charger = await RawCharger.connect(hooked, "alarm-hook")
    try:
        assert (await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["status"] == "Accepted"

        async def hooked_answer():
            answer, _ = await _authorize(charger, "OK-1")
            return answer[2]["idTagInfo"].get("parentIdTag") == "HOOK"

        await eventually(hooked_answer, timeout=15, interval=0.5)  # the registry reached the server
        await _authorize(charger, "RAISE")
        await eventually(lambda: _reads(f"{name}.Alarms.Active", ["hook_failed"]))
        (alarm,) = await sync_to_async(list)(Alarm.objects.all())
        assert alarm.kind == "hook_failed" and "RuntimeError: the tariff server is down" in alarm.text
        assert alarm.detail == {"action": "Authorize", "hook": "tests.hooks_for_tests.misbehave", "error": "RuntimeError: the tariff server is down"}
        # The change hook (tests/hooks_alarms.py, a worker on Redis) saw [] -> ["hook_failed"].
        seen = await eventually(lambda: _description(name, ["hook_failed"]), timeout=10)
        assert seen == {"old": None, "new": ["hook_failed"]}
        await _authorize(charger, "RAISE")  # failing again: still one alarm
        await _authorize(charger, "OK-2")  # the hook answers again: the alarm goes
        await eventually(lambda: _reads(f"{name}.Alarms.Active", []))
        await alarm.arefresh_from_db()
        assert alarm.went_at is not None
        assert await sync_to_async(Alarm.objects.count)() == 1
        assert await eventually(lambda: _description(name, []), timeout=10) == {"old": ["hook_failed"], "new": []}
    finally:
        await charger.close()


async def _description(name, new):
    text = await dp_get(f"{name}.Config.Description")
    seen = json.loads(text) if text else None
    return seen if seen and seen["new"] == new else None


# --- the domain API, straight ---------------------------------------------------------------------
def _cp(client_id="api-1"):
    from django.core.management import call_command

    call_command("dp_create", client_id, "--status", "Accepted", stdout=__import__("io").StringIO())
    return find_charge_point(client_id)


def test_came_and_went_are_idempotent():
    cp = _cp()
    with transaction.atomic():
        assert alarms.came(cp.id, "meter_reset", "register fell from 900 to 3 kWh", 2, {"from": 900, "to": 3}) is True
        assert alarms.came(cp.id, "meter_reset", "again", 2) is False
        assert alarms.came(cp.id, "meter_reset", "on the charger itself", 0) is True  # another connector: another alarm
    assert [(a.connector_id, a.text) for a in Alarm.objects.order_by("id")] == [(2, "register fell from 900 to 3 kWh"), (0, "on the charger itself")]
    assert cp.values()["Alarms.Count"] == 2 and cp.values()["Alarms.Active"] == ["meter_reset"]
    with transaction.atomic():
        assert alarms.went(cp.id, "meter_reset", 2) is True
        assert alarms.went(cp.id, "meter_reset", 2) is False
        assert alarms.came(cp.id, "meter_reset", "a second reset", 2) is True  # after it went, it may come again
    assert Alarm.objects.filter(kind="meter_reset", connector_id=2).count() == 2
    assert Alarm.objects.filter(went_at__isnull=True).count() == 2
    with pytest.raises(ValueError, match="unknown alarm kind 'fire'"):
        alarms.came(cp.id, "fire", "smoke")


def test_a_common_status_notification_asks_nothing_of_the_alarm_table():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from datapoints.protocol.handlers import HANDLERS
    from datapoints.protocol.handshake import Request, decide_many

    _cp("hot-1")
    (decision,), _changes = decide_many([Request("hot-1", "127.0.0.1")])
    session = decision.session

    def status(value):
        unit = Work(lambda w: HANDLERS["StatusNotification"](w, session, {"connectorId": 1, "errorCode": "NoError", "status": value}))
        with CaptureQueriesContext(connection) as queries:
            Recorder()._commit([unit], timezone.now())
        return [q["sql"] for q in queries if Alarm._meta.db_table in q["sql"]]

    assert status("Available") == [] and status("Charging") == []  # the session knows: no alarm, no query
    assert status("Faulted") != [] and session.alarms == {(1, "faulted")}  # came (known once committed)
    assert status("Faulted") == []  # still faulted: known, nothing asked
    assert status("Available") != [] and session.alarms == set()  # went
    assert status("Available") == []
    assert [(a.kind, a.active) for a in Alarm.objects.all()] == [("faulted", False)]


def test_came_inside_a_recorder_batch_writes_the_mirror_with_the_batch():
    cp = _cp("api-2")
    work = Work(lambda w: alarms.came(cp.id, "energy_negative", "session energy -3 kWh, clamped to 0", 1, work=w))
    outcomes, changes = Recorder()._commit([work], timezone.now())
    assert outcomes == [(True, True)]
    # The connector datapoint does not exist (the charger never named connector 1): only the charge point's mirror.
    assert [(c.datapoint, c.path, c.value) for c in changes] == [(cp.name, "Alarms.Active", ["energy_negative"]), (cp.name, "Alarms.Count", 1)]
    assert Alarm.objects.get().came_at == work.now


def test_acknowledge_keeps_the_first_and_is_audited():
    cp = _cp("api-3")
    user = User.objects.create_user("olga")
    other = User.objects.create_user("piet")
    with transaction.atomic():
        for kind in ("faulted", "offline", "hook_failed"):
            alarms.came(cp.id, kind, kind)
    first = Alarm.objects.get(kind="faulted")
    assert alarms.acknowledge(first, user) is True
    assert alarms.acknowledge(first, other) is False
    first.refresh_from_db()
    assert (first.acknowledged_by, first.acknowledged_by_name, first.active) == (user, "olga", True)  # acknowledged, still active
    assert alarms.acknowledge_all(Alarm.objects.all(), other) == 2
    assert list(Alarm.objects.order_by("kind").values_list("kind", "acknowledged_by_name")) == [("faulted", "olga"), ("hook_failed", "piet"), ("offline", "piet")]
    entries = list(AuditEntry.objects.order_by("id").values_list("username", "action", "target", "outcome"))
    assert entries == [("olga", "alarm_ack", "api-3", "faulted"), ("piet", "alarm_ack", "api-3", "offline, hook_failed")]
