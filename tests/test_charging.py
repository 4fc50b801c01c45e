"""Charging control (datapoints/charging/): Config.MaxCurrent applied as charging profiles to
scripted chargers built on the `ocpp` package's ChargePoint (it validates every SetChargingProfile
against the 1.6 schema), through a real Daphne; the fallback ladder, the remembered method, ids
replaced not cleared, reconnects, chargers that take watts only, and a site limit shared between
charging connectors. On the Redis pass a Celery worker runs the site re-division."""
import asyncio
import io
import os

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from ocpp.exceptions import NotSupportedError
from ocpp.routing import on
from ocpp.v16 import call, call_result

from datapoints import sites
from datapoints.charging.apply import BOOT_CHECK_DELAY
from datapoints.commands import send_command_async
from datapoints.models import Datapoint, Site

from .chargers import CommandCharger, connected_library_charger, create_charge_point, dp_get, eventually
from .conftest import _settle, start_celery, stop_process

pytestmark = pytest.mark.django_db(transaction=True)
ON_REDIS = bool(os.environ.get("REDIS_URL"))
CP_MAX = {"purpose": "ChargePointMaxProfile", "kind": "Absolute", "stackLevel": 5, "unit": "A"}
TS = "2026-11-21T10:00:00Z"


class ProfileCharger(CommandCharger):
    """Answers GetConfiguration from `config` and SetChargingProfile by `accepts(request)`;
    keeps the profiles it holds by chargingProfileId, as a real charger does."""

    config = {"ChargingScheduleAllowedChargingRateUnit": "Current", "ChargeProfileMaxStackLevel": "5"}

    def __init__(self, client_id, connection):
        super().__init__(client_id, connection)
        self.profiles = {}

    def accepts(self, connector_id, profile):
        return True

    @on("GetConfiguration")
    def on_GetConfiguration(self, key=None, **_kwargs):
        self.received.append(("GetConfiguration", {"key": key}))
        known = [{"key": k, "readonly": True, "value": v} for k, v in self.config.items() if not key or k in key]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=[k for k in key or [] if k not in self.config])

    @on("SetChargingProfile")
    def on_SetChargingProfile(self, connector_id, cs_charging_profiles, **_kwargs):
        self.received.append(("SetChargingProfile", {"connector_id": connector_id, **cs_charging_profiles}))
        if not self.accepts(connector_id, cs_charging_profiles):
            return call_result.SetChargingProfile(status="Rejected")
        self.profiles[cs_charging_profiles["charging_profile_id"]] = (connector_id, cs_charging_profiles)
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_ClearChargingProfile(self, id=None, **_kwargs):  # noqa: A002 - the OCPP field's name
        self.received.append(("ClearChargingProfile", {"id": id}))
        return call_result.ClearChargingProfile(status="Accepted" if self.profiles.pop(id, None) else "Unknown")

    def sent(self, action):
        return [request for name, request in self.received if name == action]

    def limits(self):
        """[(purpose, kind, stack level, unit, limit)] of every SetChargingProfile received."""
        return [(p["charging_profile_purpose"], p["charging_profile_kind"], p["stack_level"], p["charging_schedule"]["charging_rate_unit"], p["charging_schedule"]["charging_schedule_period"][0]["limit"]) for p in self.sent("SetChargingProfile")]


class NoChargePointMax(ProfileCharger):
    """CALLERROR NotSupported for ChargePointMaxProfile; takes TxDefaultProfile (e.g. many AC wallboxes)."""

    @on("SetChargingProfile")
    def on_SetChargingProfile(self, connector_id, cs_charging_profiles, **kwargs):
        if cs_charging_profiles["charging_profile_purpose"] == "ChargePointMaxProfile":
            self.received.append(("SetChargingProfile", {"connector_id": connector_id, **cs_charging_profiles}))
            raise NotSupportedError(description="ChargePointMaxProfile not supported")
        return ProfileCharger.on_SetChargingProfile(self, connector_id, cs_charging_profiles, **kwargs)


class StackLevelZeroOnly(ProfileCharger):
    def accepts(self, connector_id, profile):
        return profile["stack_level"] == 0


class WattsOnly(ProfileCharger):
    config = {"ChargingScheduleAllowedChargingRateUnit": "Power", "ChargeProfileMaxStackLevel": "3"}

    def accepts(self, connector_id, profile):
        return profile["charging_schedule"]["charging_rate_unit"] == "W"


class TxProfileOnly(ProfileCharger):
    """Takes a limit only for a running transaction (some DC chargers and older firmwares)."""

    def accepts(self, connector_id, profile):
        return profile["charging_profile_purpose"] == "TxProfile"


class RejectsAll(ProfileCharger):
    def accepts(self, connector_id, profile):
        return False


dp_set = sync_to_async(lambda path, value: call_command("dp_set", path, value, stdout=io.StringIO()))


async def _booted(cp, connectors=1):
    """Boot, report the connectors, and wait until the server's after-boot check has run."""
    assert (await cp.boot()).status == "Accepted"
    for connector_id in range(1, connectors + 1):
        await cp.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status="Available"), suppress=False)
    await asyncio.sleep(BOOT_CHECK_DELAY + 0.3)


async def _applied(name, amps):
    await eventually(lambda: _equals(dp_get(f"{name}.State.MaxCurrent"), amps), timeout=10)
    return await dp_get(f"{name}.State.MaxCurrentError"), await dp_get(f"{name}.State.MaxCurrentMethod")


async def _equals(value, expected):
    return (await value) == expected


async def test_accepting_charger_gets_a_charge_point_max_profile_replaced_by_id(server):
    name = await create_charge_point("mc-all", "Accepted")
    async with connected_library_charger(server, "mc-all", charger_class=ProfileCharger) as cp:
        await _booted(cp)
        assert cp.received == []  # no limit set: a boot sends nothing
        await dp_set(f"{name}.Config.MaxCurrent", "16")
        assert await _applied(name, 16.0) == ("", CP_MAX)
        assert cp.sent("GetConfiguration") == [{"key": ["ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel"]}]
        (profile,) = cp.sent("SetChargingProfile")
        assert profile["connector_id"] == 0 and profile["charging_profile_id"] == 9001
        assert cp.limits() == [("ChargePointMaxProfile", "Absolute", 5, "A", 16)]
        assert await eventually(lambda: dp_get(f"{name}.Configuration.ChargeProfileMaxStackLevel")) == "5"

        await dp_set(f"{name}.Config.MaxCurrent", "20.5")
        assert await _applied(name, 20.5) == ("", CP_MAX)
        assert len(cp.sent("GetConfiguration")) == 1  # known now: not asked again
        assert [p["charging_profile_id"] for p in cp.sent("SetChargingProfile")] == [9001, 9001]  # replaced by id
        assert cp.sent("ClearChargingProfile") == []  # never cleared first
        assert list(cp.profiles) == [9001]

        await dp_set(f"{name}.Config.MaxCurrent", "")  # empty: no limit
        await _applied(name, None)
        assert cp.sent("ClearChargingProfile") == [{"id": 9001}]
        assert cp.profiles == {}
        assert await dp_get(f"{name}.State.MaxCurrentError") == ""


async def test_refused_charge_point_max_falls_back_to_tx_default_remembered_and_applied_on_reconnect(server):
    name = await create_charge_point("mc-txdefault", "Accepted")
    tx_default = {"purpose": "TxDefaultProfile", "kind": "Absolute", "stackLevel": 5, "unit": "A"}
    async with connected_library_charger(server, "mc-txdefault", charger_class=NoChargePointMax) as cp:
        await _booted(cp)
        await dp_set(f"{name}.Config.MaxCurrent", "16")
        assert await _applied(name, 16.0) == ("", tx_default)
        assert cp.limits() == [
            ("ChargePointMaxProfile", "Absolute", 5, "A", 16),
            ("ChargePointMaxProfile", "Absolute", 0, "A", 16),
            ("ChargePointMaxProfile", "Relative", 5, "A", 16),
            ("TxDefaultProfile", "Absolute", 5, "A", 16),
        ]
        assert cp.sent("SetChargingProfile")[2].get("charging_schedule", {}).get("start_schedule") is None  # Relative: no start
        await dp_set(f"{name}.Config.MaxCurrent", "10")
        assert await _applied(name, 10.0) == ("", tx_default)
        assert cp.limits()[4:] == [("TxDefaultProfile", "Absolute", 5, "A", 10)]  # the remembered method first
        assert [p["charging_profile_id"] for p in cp.sent("SetChargingProfile")[3:]] == [9002, 9002]
    await eventually(lambda: _equals(dp_get(f"{name}.State.Connected"), False))
    async with connected_library_charger(server, "mc-txdefault", charger_class=NoChargePointMax) as cp:
        await _booted(cp, connectors=0)
        await eventually(lambda: cp.sent("SetChargingProfile"), timeout=10)  # applied after the Accepted boot
        assert cp.limits() == [("TxDefaultProfile", "Absolute", 5, "A", 10)]
        assert cp.sent("GetConfiguration") == []  # still known
        assert list(cp.profiles) == [9002]


async def test_charger_taking_stack_level_zero_only(server):
    name = await create_charge_point("mc-level0", "Accepted")
    async with connected_library_charger(server, "mc-level0", charger_class=StackLevelZeroOnly) as cp:
        await _booted(cp)
        await dp_set(f"{name}.Config.MaxCurrent", "25")
        assert await _applied(name, 25.0) == ("", {**CP_MAX, "stackLevel": 0})
        assert cp.limits() == [("ChargePointMaxProfile", "Absolute", 5, "A", 25), ("ChargePointMaxProfile", "Absolute", 0, "A", 25)]


async def test_charger_taking_watts_gets_amps_converted_with_measured_voltage_and_phases(server):
    name = await create_charge_point("mc-watts", "Accepted")
    async with connected_library_charger(server, "mc-watts", charger_class=WattsOnly) as cp:
        await _booted(cp)
        # A single-phase charger measuring 240 V: current on L1 only.
        sampled = [
            {"value": "240.0", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
            {"value": "6.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        ]
        await cp.call(call.MeterValues(connector_id=1, meter_value=[{"timestamp": TS, "sampled_value": sampled}]), suppress=False)
        assert await eventually(lambda: dp_get(f"{name}-1.Metering.Voltage")) == 240.0
        await dp_set(f"{name}.Config.MaxCurrent", "16")
        error, method = await _applied(name, 16.0)
        assert (error, method) == ("", {**CP_MAX, "stackLevel": 3, "unit": "W"})
        assert cp.limits() == [("ChargePointMaxProfile", "Absolute", 3, "W", 3840)]  # 16 A x 240 V x 1 phase


async def test_watts_default_to_230_volts_and_three_phases(server):
    name = await create_charge_point("mc-watts-default", "Accepted")
    async with connected_library_charger(server, "mc-watts-default", charger_class=WattsOnly) as cp:
        await _booted(cp)
        await dp_set(f"{name}.Config.MaxCurrent", "10")
        await _applied(name, 10.0)
        assert cp.limits() == [("ChargePointMaxProfile", "Absolute", 3, "W", 6900)]  # 10 A x 230 V x 3


async def test_charger_taking_only_tx_profiles_gets_one_per_transaction(server_with_worker):
    server = server_with_worker  # the re-application after a start runs where the site re-division does (Celery with Redis)
    name = await create_charge_point("mc-tx", "Accepted")
    tx_method = {"purpose": "TxProfile", "kind": "Absolute", "stackLevel": 5, "unit": "A"}
    async with connected_library_charger(server, "mc-tx", charger_class=TxProfileOnly) as cp:
        await _booted(cp)
        await dp_set(f"{name}.Config.MaxCurrent", "16")
        assert "refused every charging profile tried" in await eventually(lambda: dp_get(f"{name}.State.MaxCurrentError"), timeout=10)
        tx_id = (await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=TS), suppress=False)).transaction_id
        assert await _applied(name, 16.0) == ("", tx_method)  # applied again after the start
        profile = cp.sent("SetChargingProfile")[-1]
        assert (profile["connector_id"], profile["charging_profile_id"], profile["transaction_id"]) == (1, 9101, tx_id)
        await cp.call(call.StopTransaction(meter_stop=100, timestamp="2026-11-21T11:00:00Z", transaction_id=tx_id), suppress=False)
        assert (await eventually(lambda: dp_get(f"{name}.State.MaxCurrentError"), timeout=10)).startswith("16 A waits for a transaction")
        tx_id = (await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=100, timestamp="2026-11-21T12:00:00Z"), suppress=False)).transaction_id
        await eventually(lambda: _equals(dp_get(f"{name}.State.MaxCurrentError"), ""), timeout=10)
        assert cp.sent("SetChargingProfile")[-1]["transaction_id"] == tx_id
        assert cp.limits()[-1] == ("TxProfile", "Absolute", 5, "A", 16)


async def test_charger_rejecting_everything_says_what_was_tried(server):
    name = await create_charge_point("mc-none", "Accepted")
    async with connected_library_charger(server, "mc-none", charger_class=RejectsAll) as cp:
        await _booted(cp)
        await dp_set(f"{name}.Config.MaxCurrent", "16")
        error = await eventually(lambda: dp_get(f"{name}.State.MaxCurrentError"), timeout=10)
        assert error.startswith("16 A not applied; the charger refused every charging profile tried: ChargePointMaxProfile (Absolute, stack level 5, A): Rejected;")
        assert "TxDefaultProfile (Absolute, stack level 0, A): Rejected" in error
        assert "Smart Charging" in error
        assert len(cp.sent("SetChargingProfile")) == 5  # no transaction runs: no TxProfile
        assert await dp_get(f"{name}.State.MaxCurrent") is None
        assert await dp_get(f"{name}.State.MaxCurrentMethod") is None


async def test_offline_charger_gets_it_at_its_next_boot(server):
    name = await create_charge_point("mc-offline", "Accepted")
    await dp_set(f"{name}.Config.MaxCurrent", "12")
    async with connected_library_charger(server, "mc-offline", charger_class=ProfileCharger) as cp:
        await _booted(cp)
        assert await _applied(name, 12.0) == ("", CP_MAX)
        assert cp.limits() == [("ChargePointMaxProfile", "Absolute", 5, "A", 12)]


async def test_asking_two_keys_keeps_what_an_earlier_answer_said_of_the_others(server):
    name = await create_charge_point("mc-keys", "Accepted")

    class WithConnectors(ProfileCharger):
        config = {**ProfileCharger.config, "NumberOfConnectors": "2"}

    async with connected_library_charger(server, "mc-keys", charger_class=WithConnectors) as cp:
        await _booted(cp)
        outcome = await send_command_async(name, "GetConfiguration", {"key": ["NumberOfConnectors", "Bogus"]})
        assert outcome.status == "answered"
        assert await eventually(lambda: dp_get(f"{name}.State.ConfigurationUnknownKeys")) == ["Bogus"]
        await dp_set(f"{name}.Config.MaxCurrent", "16")
        await _applied(name, 16.0)
        readonly = ["ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit", "NumberOfConnectors"]
        assert await eventually(lambda: _equals(dp_get(f"{name}.State.ConfigurationReadOnly"), readonly))
        assert await dp_get(f"{name}.State.ConfigurationUnknownKeys") == ["Bogus"]


async def test_bad_values_are_refused_with_what_to_do(server):
    name = await create_charge_point("mc-bad", "Accepted")
    with pytest.raises(CommandError, match=r"-3 is out of range; give 0 to 5000, or leave it empty for none"):
        await dp_set(f"{name}.Config.MaxCurrent", "-3")
    with pytest.raises(CommandError, match="'sixteen' is not a number; give 0 to 5000"):
        await dp_set(f"{name}.Config.MaxCurrent", "sixteen")
    assert await dp_get(f"{name}.Config.MaxCurrent") is None


# --- the site limit ---------------------------------------------------------------------------------
@pytest.fixture
def server_with_worker(servers, transactional_db, settings, tmp_path):
    """A server and, on Redis, the Celery worker that runs what follows a session start or stop."""
    env = {"OCPP_AUTO_CREATE_CHARGE_POINTS": 1, "OCPP_NEW_CHARGE_POINT_STATUS": "Pending"}
    srv = servers(**env)
    settings.OCPP_LOCAL_API_URL = srv.http
    worker = start_celery(tmp_path, "worker", "--concurrency", "2", "--without-gossip", "--without-mingle", ready="ready.") if ON_REDIS else None
    yield srv
    if worker:
        stop_process(worker)
    _settle()


@sync_to_async
def _site(slug, amps, *names):
    site = sites.create_site(slug)
    site.max_current = amps
    site.save()
    sites.assign(site, list(Datapoint.objects.filter(name__in=names)))
    return site


async def _start(cp, connector_id=1, tag="TAG"):
    await cp.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status="Charging"), suppress=False)
    return (await cp.call(call.StartTransaction(connector_id=connector_id, id_tag=tag, meter_start=0, timestamp=TS), suppress=False)).transaction_id


async def _stop(cp, tx_id, connector_id=1):
    await cp.call(call.StopTransaction(meter_stop=1000, timestamp="2026-11-21T11:00:00Z", transaction_id=tx_id), suppress=False)
    await cp.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status="Available"), suppress=False)


async def _shares(names, shares, applied):
    """Wait until the chargers' site shares and the amps they accepted are these."""
    seen = []

    async def now():
        seen[:] = [[await dp_get(f"{n}.State.MaxCurrentSiteShare") for n in names], [await dp_get(f"{n}.State.MaxCurrent") for n in names]]
        return seen == [shares, applied]

    try:
        await eventually(now, timeout=15)
    except AssertionError:
        raise AssertionError(f"shares and applied amps {seen}, expected {[shares, applied]}") from None


async def test_site_limit_shared_between_charging_connectors_and_redivided(server_with_worker):
    a = await create_charge_point("site-a", "Accepted")
    b = await create_charge_point("site-b", "Accepted")
    await _site("garage", 32, a, b)
    await dp_set(f"{a}.Config.MaxCurrent", "12")
    async with connected_library_charger(server_with_worker, "site-a", charger_class=ProfileCharger) as cp_a, connected_library_charger(server_with_worker, "site-b", charger_class=NoChargePointMax) as cp_b:
        await _booted(cp_a)
        await _booted(cp_b)
        await _applied(a, 12.0)
        tx_a = await _start(cp_a)
        # Only A charges: it may take the whole site but is capped by its own 12 A; B idles at the site's 32 A.
        await _shares([a, b], [12.0, 32.0], [12.0, 32.0])
        tx_b = await _start(cp_b)
        # Both charge: 16 A each, but A is capped at 12 A, so B gets the rest.
        await _shares([a, b], [12.0, 20.0], [12.0, 20.0])
        assert cp_b.limits()[-1] == ("TxDefaultProfile", "Absolute", 5, "A", 20)
        await dp_set(f"{a}.Config.MaxCurrent", "20")  # A's cap rises: the site is shared again
        await _shares([a, b], [16.0, 16.0], [16.0, 16.0])
        await dp_set(f"{a}.Config.MaxCurrent", "12")
        await _shares([a, b], [12.0, 20.0], [12.0, 20.0])
        await _stop(cp_a, tx_a)
        await _shares([a, b], [32.0, 32.0], [12.0, 32.0])
        assert cp_b.limits()[-1] == ("TxDefaultProfile", "Absolute", 5, "A", 32)
        await _stop(cp_b, tx_b)
    assert await dp_get(f"{a}.State.MaxCurrentError") == "" and await dp_get(f"{b}.State.MaxCurrentError") == ""


async def test_two_connectors_of_one_charger_share_equally(server_with_worker):
    a = await create_charge_point("site-two", "Accepted")
    b = await create_charge_point("site-other", "Accepted")
    await _site("depot", 30, a, b)
    async with connected_library_charger(server_with_worker, "site-two", charger_class=ProfileCharger) as cp_a, connected_library_charger(server_with_worker, "site-other", charger_class=ProfileCharger) as cp_b:
        await _booted(cp_a, connectors=2)
        await _booted(cp_b)
        await _start(cp_a, 1, "T1")
        await _start(cp_a, 2, "T2")
        tx = await _start(cp_b, 1, "T3")
        await _shares([a, b], [20.0, 10.0], [20.0, 10.0])  # 30 A over three charging connectors
        assert cp_a.limits()[-1] == ("ChargePointMaxProfile", "Absolute", 5, "A", 20)
        await _stop(cp_b, tx)
        await _shares([a, b], [30.0, 30.0], [30.0, 30.0])


def _cli(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


async def test_site_limit_from_the_command_line(server_with_worker):
    a = await create_charge_point("site-cli", "Accepted")
    assert await sync_to_async(_cli)("site_create", "yard", "--max-current", "40") == "yard\n"
    await sync_to_async(_cli)("site_assign", "yard", a)
    assert (await Site.objects.aget(slug="yard")).max_current == 40.0
    async with connected_library_charger(server_with_worker, "site-cli", charger_class=ProfileCharger) as cp:
        await _booted(cp)
        out = await sync_to_async(_cli)("site_limit", "yard", "24")
        assert f"{a}: 24 A" in out
        assert await _applied(a, 24.0) == ("", CP_MAX)
        out = await sync_to_async(_cli)("site_limit", "yard", "none")
        assert "no limit" in out
        await _applied(a, None)
        assert cp.sent("ClearChargingProfile") == [{"id": 9001}]
    with pytest.raises(CommandError, match="amps of 0 or more, or none"):
        await sync_to_async(_cli)("site_limit", "yard", "-1")
    with pytest.raises(CommandError, match="no site 'nowhere'"):
        await sync_to_async(_cli)("site_limit", "nowhere", "10")


# --- the rules on their own --------------------------------------------------------------------------
def test_division_is_equal_per_connector_capped_and_what_is_left_goes_to_the_others():
    from datapoints.charging.site_limit import divide

    assert divide(32, {"a": (1, None), "b": (1, None), "idle": (0, None)}) == {"a": 16.0, "b": 16.0}
    assert divide(32, {"a": (2, None), "b": (1, None)}) == {"a": 21.3, "b": 10.6}  # floored: never above the limit
    assert divide(60, {"a": (1, 6), "b": (1, 10), "c": (1, None)}) == {"a": 6, "b": 10, "c": 44.0}
    assert divide(10, {"a": (1, 16), "b": (1, 16)}) == {"a": 5.0, "b": 5.0}
    assert divide(0, {"a": (1, None)}) == {"a": 0.0}


@pytest.mark.parametrize("allowed, unit", [("Current", "A"), ("Current,Power", "A"), ("Power", "W"), ("power", "W"), ("W", "W"), ("", "A"), (None, "A"), ("A,W", "A")])
def test_rate_unit_from_the_configuration_key(allowed, unit):
    from datapoints.charging.profiles import rate_unit

    assert rate_unit(allowed) == unit
