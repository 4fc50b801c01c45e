"""Request hooks: answers changed by a hook, follow-up commands after the answer, and every failure
falling back to the built-in answer within OCPP_HOOK_TIMEOUT, recorded in Requests.<A>.HookError.
The SQLite pass runs hooks in the server's thread pool; the Redis pass in a real Celery worker."""
import inspect
import os
import time

import pytest

from datapoints import hook_examples

from .chargers import CommandCharger, RawCharger, connected_library_charger, create_charge_point, dp_get, eventually
from .conftest import ROOT, _settle, start_celery, stop_process

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 2.0  # the deadline under test; generous so a loaded CI machine does not turn hook answers into fallbacks
ON_REDIS = bool(os.environ.get("REDIS_URL"))


def _hooked(modules):
    """A fixture: a server (and, on Redis, a Celery worker) with these hook modules."""

    @pytest.fixture
    def fixture(servers, transactional_db, settings, tmp_path):
        env = {"OCPP_HOOK_MODULES": modules, "OCPP_HOOK_TIMEOUT": TIMEOUT, "OCPP_AUTO_CREATE_CHARGE_POINTS": 1, "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted"}
        srv = servers(**env)
        settings.OCPP_LOCAL_API_URL = srv.http
        worker = None
        if ON_REDIS:
            worker = start_celery(tmp_path, "worker", "--concurrency", "2", "--without-gossip", "--without-mingle", ready="ready.", env={k: str(v) for k, v in env.items()})
        yield srv
        if worker:
            stop_process(worker)
        _settle()

    return fixture


hooked = _hooked("tests.hooks_for_tests")
examples = _hooked("datapoints.hook_examples")


async def _charger(server, client_id):
    await create_charge_point(client_id, "Accepted")
    charger = await RawCharger.connect(server, client_id)
    assert (await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["status"] == "Accepted"
    return charger


async def _authorize(charger, tag):
    started = time.perf_counter()
    answer = await charger.call("Authorize", {"idTag": tag}, unique_id=tag, )
    return answer, time.perf_counter() - started


async def test_a_hook_decides_and_failures_fall_back_in_time(hooked):
    charger = await _charger(hooked, "hook-1")
    name = "_ChargePoint0001"
    try:
        # The registry reaches the server within its refresh interval (Redis: published by the worker).
        async def hooked_answer():
            answer, _ = await _authorize(charger, "BLOCK-1")
            return answer[2]["idTagInfo"] == {"status": "Blocked", "parentIdTag": "HOOK"}

        await eventually(hooked_answer, timeout=15, interval=0.5)
        # Recorded just after the answer (the answer does not wait for it).
        await eventually(lambda: _reads(f"{name}.Requests.Authorize.Response", {"idTagInfo": {"status": "Blocked", "parentIdTag": "HOOK"}}))
        for tag, error in [("HANG", "no answer within"), ("RAISE", "RuntimeError: the tariff server is down"), ("NONE", "not a dict"), ("LIST", "not a dict"), ("BAD", "breaks the 1.6 schema")]:
            answer, seconds = await _authorize(charger, tag)
            assert answer[2] == {"idTagInfo": {"status": "Accepted"}}, tag  # the built-in default (unknown tag: Accepted)
            assert seconds < TIMEOUT + 1.0, (tag, seconds)
            if tag == "HANG":
                assert seconds >= TIMEOUT * 0.9
            recorded = await eventually(lambda: _hook_error_containing(name, error))
            assert recorded["hook"] == "tests.hooks_for_tests.misbehave", (tag, recorded)
            if tag == "RAISE":
                assert "Traceback" in recorded["traceback"] and "RuntimeError" in recorded["traceback"]
            if tag == "BAD":
                assert recorded["rejected_answer"] == {"idTagInfo": {"status": "Maybe"}}
        # The charger stayed connected and the hook works again; its error is cleared.
        answer, seconds = await _authorize(charger, "SLOW")
        assert answer[2] == {"idTagInfo": {"status": "Accepted", "parentIdTag": "HOOK"}} and seconds < TIMEOUT
        await eventually(lambda: _reads(f"{name}.Requests.Authorize.HookError", ""))
    finally:
        await charger.close()
    logs = hooked.logs()  # the server logs each failure with its traceback and rejected answer
    assert "RuntimeError: the tariff server is down" in logs and "'Maybe'" in logs


async def test_follow_up_commands_go_after_the_answer(hooked):
    await create_charge_point("hook-2", "Accepted")
    charger = await RawCharger.connect(hooked, "hook-2")
    try:
        assert (await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["status"] == "Accepted"

        async def follow_up_answered():
            await charger.send([2, "f", "Authorize", {"idTag": "FOLLOW"}])
            frames = [await charger.recv()]
            if frames[0][2] != {"idTagInfo": {"status": "Accepted", "parentIdTag": "HOOK"}}:
                return False  # the registry has not reached the server yet
            return frames

        frames = await eventually(follow_up_answered, timeout=15, interval=0.5)
        command = await charger.recv(timeout=5)  # the answer came first, then the command
        assert (frames[0][0], command[0], command[2]) == (3, 2, "GetLocalListVersion")
        await charger.send([3, command[1], {"listVersion": 4}])
        await eventually(lambda: _reads("_ChargePoint0001.State.LocalListVersion", 4))
    finally:
        await charger.close()


async def _reads(path, value):
    return await dp_get(path) == value


async def _hook_error_containing(name, text):
    recorded = await dp_get(f"{name}.Requests.Authorize.HookError")
    return recorded if recorded and text in recorded["error"] else None


async def test_example_hooks_from_the_guide(examples, tmp_path):
    name = await create_charge_point("hook-ex", "Accepted")
    async with connected_library_charger(examples, "hook-ex", charger_class=CommandCharger) as cp:
        await cp.boot()
        from ocpp.v16 import call

        async def allow_list_active():
            answer = await cp.call(call.Authorize(id_tag="RFID-STAFF-01"), suppress=False)
            return answer.id_tag_info == {"status": "Accepted"}

        await eventually(allow_list_active, timeout=15, interval=0.5)
        assert (await cp.call(call.Authorize(id_tag="RFID-STRANGER"), suppress=False)).id_tag_info == {"status": "Invalid"}
        guest = (await cp.call(call.Authorize(id_tag="RFID-GUEST-07"), suppress=False)).id_tag_info
        assert guest == {"status": "Accepted", "expiry_date": "2026-12-31T23:59:59+00:00"}
        tariff = await cp.call(call.DataTransfer(vendor_id="go-e", message_id="getTariff"), suppress=False)
        assert (tariff.status, tariff.data) == ("Accepted", "0.32 EUR/kWh")
        other = await cp.call(call.DataTransfer(vendor_id="acme", message_id="x"), suppress=False)
        assert other.status == "UnknownVendorId"
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"), suppress=False)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="FLEET-9", meter_start=1000, timestamp="2026-11-21T10:00:00Z"), suppress=False)
        await eventually(lambda: cp.received, timeout=5)
        energy = [{"timestamp": "2026-11-21T10:30:00Z", "sampledValue": [{"value": "4500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=energy), suppress=False)
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing"), suppress=False)
        expected = f"Charging finished on {name}-1 (transaction {start.transaction_id}): 3.50 kWh"

        def notified():
            worker_logs = "".join(p.read_text() for p in tmp_path.glob("celery-*.log"))
            return expected in examples.logs() + worker_logs

        await eventually(notified, timeout=10)
    (action, request), = cp.received
    profile = request["cs_charging_profiles"]
    assert action == "SetChargingProfile" and profile["transaction_id"] == start.transaction_id
    assert profile["charging_schedule"]["charging_schedule_period"] == [{"start_period": 0, "limit": 16.0}]
    await eventually(lambda: _reads(f"{name}.Requests.StartTransaction.Response", {"transactionId": start.transaction_id, "idTagInfo": {"status": "Accepted"}}))


def test_the_guide_shows_the_tested_examples():
    guide = (ROOT / "docs/hooks.md").read_text()
    for function in (hook_examples.rfid_allow_list, hook_examples.go_e_tariff, hook_examples.limit_fleet_sessions, hook_examples.charging_finished):
        assert inspect.getsource(function) in guide, function.__name__


def run_hooks_cli(*args):
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    call_command("hooks", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_hooks_check_list_and_try():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from datapoints.models import Datapoint, HookSetting

    with pytest.raises(CommandError, match="2 of 3 hook modules failed"):
        run_hooks_cli("check", "--modules", "datapoints.hook_examples,tests.hooks_broken,tests.hooks_bad_action")
    out, _ = run_hooks_cli("check", "--modules", "datapoints.hook_examples")
    assert "datapoints.hook_examples: ok" in out
    call_command("dp_create", "try-1", "--status", "Accepted", stdout=__import__("io").StringIO())
    dp = Datapoint.objects.get(client_id="try-1")
    HookSetting.objects.create(hook="datapoints.hook_examples.go_e_tariff", charge_point=dp, enabled=False)
    out, _ = run_hooks_cli("list", "--modules", "datapoints.hook_examples")
    assert "Authorize" in out and "datapoints.hook_examples.rfid_allow_list  (on for all)" in out
    assert "datapoints.hook_examples.go_e_tariff  (off for _ChargePoint0001)" in out
    out, _ = run_hooks_cli("try", "DataTransfer", '{"vendorId": "go-e", "messageId": "getTariff"}', "--cp", "try-1", "--modules", "datapoints.hook_examples")
    assert out.strip() == '{"status": "Accepted", "data": "0.32 EUR/kWh"}'
    with pytest.raises(CommandError, match="breaks the 1.6 schema"):
        run_hooks_cli("try", "DataTransfer", '{"messageId": "x"}', "--cp", "try-1", "--modules", "datapoints.hook_examples")


def test_change_hooks_filter_on_old_and_new_values():
    from django.core.management import call_command
    from django.utils import timezone

    from datapoints import change_hooks, hooks
    from datapoints.charge_points import find_charge_point
    from datapoints.writes import write_elements

    seen = []
    call_command("dp_create", "chg-1", "--status", "Accepted", stdout=__import__("io").StringIO())
    cp = find_charge_point("chg-1")
    try:
        @hooks.on_change("_OCPP_1_6_ChargePoint.Status.status", to="Faulted", from_="Charging")
        def faulted_while_charging(dp, old, new):
            seen.append((dp.name, old, new))

        history = []
        for status in ("Charging", "Faulted", "Faulted", "Available", "Faulted"):
            history += write_elements([(cp, "Status.status", status)], timezone.now())
        change_hooks.run([list(change) for change in history])
    finally:
        hooks.CHANGE_HOOKS[:] = [h for h in hooks.CHANGE_HOOKS if h.function is not faulted_while_charging]
    # Charging -> Faulted fires; Faulted again changes nothing; Available -> Faulted is not from Charging.
    assert seen == [(cp.name, "Charging", "Faulted")]


broken = _hooked("tests.hooks_broken,tests.hooks_for_tests")


async def test_a_hook_module_that_does_not_import_leaves_the_others_serving(broken, tmp_path):
    charger = await _charger(broken, "hook-broken")
    try:
        async def hooked_answer():
            answer, _ = await _authorize(charger, "BLOCK-2")
            return answer[2]["idTagInfo"].get("parentIdTag") == "HOOK"

        await eventually(hooked_answer, timeout=15, interval=0.5)  # the module that imports still works
    finally:
        await charger.close()
    logs = broken.logs() + "".join(p.read_text() for p in tmp_path.glob("celery-*.log"))
    assert "hook module tests.hooks_broken not loaded: ModuleNotFoundError: No module named 'no_such_vendor_sdk'" in logs
