"""Derived metering through a real Daphne: the frames real chargers send (the `ocpp` package's
schema-validating client), and the Metering.* elements and the Transaction's energy read back.

Chargers: three phases, one phase, only the register, only intervals, only Transaction.End, kWh units,
a Begin reading of 0, a lone 0 in a rising register, a meter reset mid-session, per-session registers,
meterStart 0 beside a lifetime register, the 1000x Wh quirk and its override, sessions crossing
midnight and a month boundary in the site's time zone.
"""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from datapoints import sites
from datapoints.models import Alarm, Datapoint, Site, Transaction
from datapoints.paths import set_value

from .chargers import connected_library_charger, create_charge_point, dp_get
from .conftest import _serving

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(servers, transactional_db, settings):
    """A server that books readings by the charger's clock however far it is from today, so these
    fixed timestamps mean the same whatever day the suite runs."""
    yield from _serving(servers, settings, OCPP_CHARGER_CLOCK_TRUST_HOURS=10**6)


def sv(value, measurand="Energy.Active.Import.Register", unit=None, **extra):
    sample = {"value": str(value), "measurand": measurand, **extra}
    if unit is not None:
        sample["unit"] = unit
    return sample


def mv(timestamp, *samples):
    return [{"timestamp": timestamp, "sampledValue": list(samples)}]


async def start(cp, meter_start, timestamp, connector=1, tag="TAG-1"):
    answer = await cp.call(call.StartTransaction(connector_id=connector, id_tag=tag, meter_start=meter_start, timestamp=timestamp), suppress=False)
    return answer.transaction_id


async def meter(cp, tx_id, timestamp, *samples, connector=1):
    await cp.call(call.MeterValues(connector_id=connector, transaction_id=tx_id, meter_value=mv(timestamp, *samples)), suppress=False)


async def stop(cp, tx_id, meter_stop, timestamp, data=None):
    kwargs = {"transaction_data": data} if data else {}
    await cp.call(call.StopTransaction(meter_stop=meter_stop, timestamp=timestamp, transaction_id=tx_id, reason="EVDisconnected", **kwargs), suppress=False)


async def values(name, *paths):
    return {path: await dp_get(f"{name}.{path}") for path in paths}


def near(expected, tolerance=1e-3):
    return pytest.approx(expected, abs=tolerance)


async def test_three_phase_charger_gives_every_derived_value(server):
    name = await create_charge_point("meter-3p", "Accepted")
    async with connected_library_charger(server, "meter-3p") as cp:
        await cp.boot()
        tx = await start(cp, 1000, "2026-11-21T10:00:00Z")
        await meter(
            cp, tx, "2026-11-21T10:01:00Z",
            sv(1500, unit="Wh"),
            *[sv(2400, "Power.Active.Import", "W", phase=p) for p in ("L1", "L2", "L3")],
            sv(10.5, "Current.Import", "A", phase="L1"), sv(10.0, "Current.Import", "A", phase="L2"), sv(9.5, "Current.Import", "A", phase="L3"),
            sv(0.2, "Current.Import", "A", phase="N"),
            sv(400, "Voltage", "V", phase="L1-L2"), sv(231, "Voltage", "V", phase="L1-N"), sv(229, "Voltage", "V", phase="L2-N"), sv(230, "Voltage", "V", phase="L3-N"),
            sv(16, "Current.Offered", "A"), sv(11, "Power.Offered", "kW"), sv(50.02, "Frequency"), sv(0.97, "Power.Factor"),
            sv(63, "SoC", "Percent", location="EV"), sv(31.5, "Temperature", "Celsius", location="Body"),
        )
        await meter(cp, tx, "2026-11-21T10:31:00Z", sv(5100, unit="Wh"), sv(7200, "Power.Active.Import", "W"))
        connector = await values(
            f"{name}-1", "Metering.Power.Active.Import", "Metering.Current.Import", "Metering.Current.Import.L1", "Metering.Current.Import.L2",
            "Metering.Current.Import.L3", "Metering.Voltage", "Metering.Current.Offered", "Metering.Power.Offered", "Metering.Frequency",
            "Metering.Power.Factor", "Metering.SoC", "Metering.Temperature", "Metering.Energy.Active.Import.Register", "Metering.Energy.Session",
            "Metering.Energy.Today", "Metering.Energy.Week", "Metering.Energy.Month", "Metering.Session.Duration",
        )
        assert connector == {
            "Metering.Power.Active.Import": near(7.2),
            "Metering.Current.Import": near(10.0),  # N left out
            "Metering.Current.Import.L1": near(10.5),
            "Metering.Current.Import.L2": near(10.0),
            "Metering.Current.Import.L3": near(9.5),
            "Metering.Voltage": near(230.0),  # L-N wins over L-L
            "Metering.Current.Offered": near(16.0),
            "Metering.Power.Offered": near(11.0),
            "Metering.Frequency": near(50.02),
            "Metering.Power.Factor": near(0.97),
            "Metering.SoC": near(63.0),
            "Metering.Temperature": near(31.5),
            "Metering.Energy.Active.Import.Register": near(5.1),
            "Metering.Energy.Session": near(4.1),
            "Metering.Energy.Today": near(4.1),  # from meterStart: the register's first reading ever
            "Metering.Energy.Week": near(4.1),
            "Metering.Energy.Month": near(4.1),
            "Metering.Session.Duration": 31 * 60,
        }
        charge_point = await values(name, "Metering.Power.Active.Import", "Metering.Energy.Today", "Metering.Energy.Week", "Metering.Energy.Month")
        assert charge_point == {"Metering.Power.Active.Import": near(7.2), "Metering.Energy.Today": near(4.1), "Metering.Energy.Week": near(4.1), "Metering.Energy.Month": near(4.1)}
        running = await Transaction.objects.aget(pk=tx)
        assert running.energy_kwh == near(0.5) and running.start_time.isoformat() == "2026-11-21T10:00:00+00:00"  # saved once a minute
        await stop(cp, tx, 5300, "2026-11-21T10:40:00Z")
    done = await Transaction.objects.aget(pk=tx)
    assert (done.energy_kwh, done.per_session_register, done.energy_flags) == (near(4.3), False, [])
    assert done.stop_time.isoformat() == "2026-11-21T10:40:00+00:00"
    after = await values(f"{name}-1", "Metering.Energy.Session", "Metering.Session.Duration", "Metering.Power.Active.Import", "Metering.Energy.Today", "Metering.Energy.Active.Import.Register")
    assert after == {"Metering.Energy.Session": near(4.3), "Metering.Session.Duration": 40 * 60, "Metering.Power.Active.Import": 0.0, "Metering.Energy.Today": near(4.3), "Metering.Energy.Active.Import.Register": near(5.3)}


async def test_two_connectors_sum_on_the_charge_point_and_sessions_do_not_double_count(server):
    name = await create_charge_point("meter-2c", "Accepted")
    async with connected_library_charger(server, "meter-2c") as cp:
        await cp.boot()
        tx1 = await start(cp, 10_000, "2026-11-21T09:00:00Z", connector=1)
        tx2 = await start(cp, 20_000, "2026-11-21T09:00:00Z", connector=2)
        await meter(cp, tx1, "2026-11-21T09:10:00Z", sv(11_000, unit="Wh"), sv(3.7, "Power.Active.Import", "kW", phase="L1"), connector=1)
        await meter(cp, tx2, "2026-11-21T09:10:00Z", sv(22.5, unit="kWh"), sv(11, "Power.Active.Import", "kW"), connector=2)
        assert await values(name, "Metering.Power.Active.Import", "Metering.Energy.Today") == {"Metering.Power.Active.Import": near(14.7), "Metering.Energy.Today": near(3.5)}
        await stop(cp, tx1, 11_000, "2026-11-21T09:10:00Z")  # meterStop equal to the last reading: nothing more
        tx3 = await start(cp, 11_000, "2026-11-21T09:20:00Z", connector=1)
        await meter(cp, tx3, "2026-11-21T09:30:00Z", sv(11_400, unit="Wh"), connector=1)
        assert await dp_get(f"{name}-1.Metering.Energy.Session") == near(0.4)
        assert await dp_get(f"{name}-1.Metering.Energy.Today") == near(1.4)
        assert await dp_get(f"{name}.Metering.Energy.Today") == near(3.9)
        assert await dp_get(f"{name}.Metering.Power.Active.Import") == near(11.0)  # connector 1 stopped: 0 there


async def test_only_transaction_end_readings_and_only_meter_start_stop(server):
    name = await create_charge_point("meter-end", "Accepted")
    async with connected_library_charger(server, "meter-end") as cp:
        await cp.boot()
        tx = await start(cp, 2000, "2026-11-21T08:00:00Z")
        end = mv("2026-11-21T08:45:00Z", sv(2000, context="Transaction.Begin"), sv(9100, context="Transaction.End", unit="Wh"))
        await stop(cp, tx, 9000, "2026-11-21T08:45:00Z", data=end)  # the End reading wins over meterStop
        assert (await Transaction.objects.aget(pk=tx)).energy_kwh == near(7.1)
        tx = await start(cp, 9100, "2026-11-21T09:00:00Z")
        await stop(cp, tx, 12_100, "2026-11-21T09:30:00Z")
        assert (await Transaction.objects.aget(pk=tx)).energy_kwh == near(3.0)
    assert await values(f"{name}-1", "Metering.Energy.Session", "Metering.Energy.Today", "Metering.Session.Duration") == {
        "Metering.Energy.Session": near(3.0), "Metering.Energy.Today": near(10.1), "Metering.Session.Duration": 1800}


async def test_begin_zero_lone_zero_and_meter_reset(server):
    name = await create_charge_point("meter-glitch", "Accepted")
    async with connected_library_charger(server, "meter-glitch") as cp:
        await cp.boot()
        tx = await start(cp, 1_000_000, "2026-11-21T07:00:00Z")
        await meter(cp, tx, "2026-11-21T07:00:05Z", sv(0, context="Transaction.Begin"))  # beside the real register: ignored
        await meter(cp, tx, "2026-11-21T07:10:00Z", sv(1_001_000))
        await meter(cp, tx, "2026-11-21T07:20:00Z", sv(0))  # a lone 0: a glitch
        assert await dp_get(f"{name}-1.Metering.Energy.Active.Import.Register") == near(1001.0)
        await meter(cp, tx, "2026-11-21T07:30:00Z", sv(1_002_000))
        assert await values(f"{name}-1", "Metering.Energy.Session", "Metering.Energy.Today") == {"Metering.Energy.Session": near(2.0), "Metering.Energy.Today": near(2.0)}
        await meter(cp, tx, "2026-11-21T07:40:00Z", sv(100))  # the meter was replaced: a lasting drop
        await meter(cp, tx, "2026-11-21T07:50:00Z", sv(600))
        assert await values(f"{name}-1", "Metering.Energy.Active.Import.Register", "Metering.Energy.Session", "Metering.Energy.Today") == {
            "Metering.Energy.Active.Import.Register": near(1002.5), "Metering.Energy.Session": near(2.5), "Metering.Energy.Today": near(2.5)}
        await stop(cp, tx, 700, "2026-11-21T08:00:00Z")  # meterStop - meterStart is negative: the readings know better
    done = await Transaction.objects.aget(pk=tx)
    assert done.energy_kwh == near(2.6) and done.energy_flags == []  # meterStop after the reset, on the corrected register
    reset = await Alarm.objects.aget(charge_point__name=name, kind="meter_reset")  # an event: came and went, to acknowledge
    assert (reset.connector_id, reset.went_at is not None, reset.acknowledged_at) == (1, True, None)
    assert not await Alarm.objects.filter(charge_point__name=name).exclude(kind="meter_reset").aexists()  # the lone 0 raised none


async def test_per_session_register_is_detected_per_transaction(server):
    name = await create_charge_point("meter-persession", "Accepted")
    async with connected_library_charger(server, "meter-persession") as cp:
        await cp.boot()
        tx = await start(cp, 5_000_000, "2026-11-21T06:00:00Z")  # meterStart: the lifetime register
        await meter(cp, tx, "2026-11-21T06:10:00Z", sv(400))  # ... while the readings count this session
        await meter(cp, tx, "2026-11-21T06:20:00Z", sv(1200))
        assert await dp_get(f"{name}-1.Metering.Energy.Session") == near(1.2)
        await stop(cp, tx, 5_001_300, "2026-11-21T06:25:00Z")  # meterStop on meterStart's scale
        first = await Transaction.objects.aget(pk=tx)
        assert (first.energy_kwh, first.per_session_register) == (near(1.3), True)
        tx = await start(cp, 5_001_300, "2026-11-21T06:30:00Z")  # the next one restarts at 0 again
        await meter(cp, tx, "2026-11-21T06:40:00Z", sv(300))
        await stop(cp, tx, 500, "2026-11-21T06:45:00Z")  # ... and this time meterStop is per session too
        second = await Transaction.objects.aget(pk=tx)
        assert (second.energy_kwh, second.per_session_register) == (near(0.5), True)
        assert await dp_get(f"{name}-1.Metering.Energy.Today") == near(1.8)
        # the same charger now sends a lifetime register in a session: decided per transaction
        tx = await start(cp, 0, "2026-11-21T07:00:00Z")
        await meter(cp, tx, "2026-11-21T07:10:00Z", sv(5_001_800))
        await meter(cp, tx, "2026-11-21T07:20:00Z", sv(5_002_800))
        await stop(cp, tx, 5_003_000, "2026-11-21T07:25:00Z")
        third = await Transaction.objects.aget(pk=tx)
    assert (third.energy_kwh, third.per_session_register, third.energy_flags) == (near(1.2), False, ["register"])


async def test_intervals_only_and_kwh_units(server):
    name = await create_charge_point("meter-interval", "Accepted")
    async with connected_library_charger(server, "meter-interval") as cp:
        await cp.boot()
        tx = await start(cp, 0, "2026-11-21T05:00:00Z")
        for minute in (15, 30, 45):
            await meter(cp, tx, f"2026-11-21T05:{minute}:00Z", sv(0.75, "Energy.Active.Import.Interval", "kWh"))
        assert await values(f"{name}-1", "Metering.Energy.Session", "Metering.Energy.Today") == {"Metering.Energy.Session": near(2.25), "Metering.Energy.Today": near(2.25)}
        await stop(cp, tx, 0, "2026-11-21T05:50:00Z")  # a charger that does not count meterStop at all
    assert (await Transaction.objects.aget(pk=tx)).energy_kwh == near(2.25)


async def test_negative_session_energy_is_clamped_and_flagged(server):
    await create_charge_point("meter-negative", "Accepted")
    async with connected_library_charger(server, "meter-negative") as cp:
        await cp.boot()
        tx = await start(cp, 50_000, "2026-11-21T04:00:00Z")
        await stop(cp, tx, 49_000, "2026-11-21T04:30:00Z")  # no readings: not taken for a per-session counter
    done = await Transaction.objects.aget(pk=tx)
    assert (done.energy_kwh, done.energy_flags) == (0.0, ["negative_clamped"])
    alarm = await Alarm.objects.aget(charge_point__name="_ChargePoint0001", kind="energy_negative")
    assert alarm.detail == {"transaction_id": tx} and "negative" in alarm.text


async def test_kwh_labelled_wh_is_flagged_and_the_override_corrects_it(server):
    name = await create_charge_point("meter-1000x", "Accepted")
    async with connected_library_charger(server, "meter-1000x") as cp:
        await cp.boot()
        tx = await start(cp, 12_000, "2026-11-21T03:00:00Z")  # 12,000 "Wh" that are kWh
        for minute, register in ((10, "12000.0"), (20, "12001.2"), (30, "12002.4"), (40, "12003.6")):
            await meter(cp, tx, f"2026-11-21T03:{minute}:00Z", sv(register, unit="Wh"), sv(7.2, "Power.Active.Import", "kW"))
        assert await dp_get(f"{name}.State.EnergyUnitSuspect") is True
        unit_alarm = await Alarm.objects.aget(charge_point__name=name, kind="energy_unit")
        assert unit_alarm.went_at is None and "EnergyUnitOverride" in unit_alarm.text  # lasts until corrected
        await sync_to_async(set_value)(f"{name}.Config.EnergyUnitOverride", "kWh")
        await asyncio.sleep(0.3)  # the write reaches the connection as cp.config (through Redis on PostgreSQL runs)
        await meter(cp, tx, "2026-11-21T03:50:00Z", sv("12004.8", unit="Wh"), sv(7.2, "Power.Active.Import", "kW"))
        assert await values(f"{name}-1", "Metering.Energy.Session", "Metering.Energy.Active.Import.Register", "Metering.Energy.Today") == {
            "Metering.Energy.Session": near(4.8), "Metering.Energy.Active.Import.Register": near(12004.8), "Metering.Energy.Today": near(4.8)}
        await stop(cp, tx, 12_005, "2026-11-21T03:55:00Z")
    done = await Transaction.objects.aget(pk=tx)
    assert done.energy_kwh == near(5.0) and "unit_suspect" in done.energy_flags
    assert (await Alarm.objects.aget(pk=unit_alarm.pk)).went_at is not None
    assert await dp_get(f"{name}.State.EnergyUnitSuspect") is False


async def test_midnight_and_month_boundary_in_the_site_time_zone(server):
    name = await create_charge_point("meter-midnight", "Accepted")
    site = await Site.objects.acreate(slug="berlin", name="Berlin", time_zone="Europe/Berlin")
    await sync_to_async(sites.assign)(site, [await Datapoint.objects.aget(name=name)])
    async with connected_library_charger(server, "meter-midnight") as cp:
        await cp.boot()
        tx = await start(cp, 100_000, "2026-10-31T22:00:00Z")  # 23:00 in Berlin, Saturday 31 October
        await meter(cp, tx, "2026-10-31T22:50:00Z", sv(103_000))  # 23:50
        assert await values(f"{name}-1", "Metering.Energy.Today", "Metering.Energy.Week", "Metering.Energy.Month") == {
            "Metering.Energy.Today": near(3.0), "Metering.Energy.Week": near(3.0), "Metering.Energy.Month": near(3.0)}
        await meter(cp, tx, "2026-10-31T23:10:00Z", sv(104_500))  # 00:10 on Sunday 1 November: same ISO week
        assert await values(f"{name}-1", "Metering.Energy.Today", "Metering.Energy.Week", "Metering.Energy.Month", "Metering.Energy.Session") == {
            "Metering.Energy.Today": near(1.5), "Metering.Energy.Week": near(4.5), "Metering.Energy.Month": near(1.5), "Metering.Energy.Session": near(4.5)}
        await meter(cp, tx, "2026-11-01T23:30:00Z", sv(110_500))  # 00:30 on Monday 2 November: a new ISO week
        assert await values(f"{name}-1", "Metering.Energy.Today", "Metering.Energy.Week", "Metering.Energy.Month") == {
            "Metering.Energy.Today": near(6.0), "Metering.Energy.Week": near(6.0), "Metering.Energy.Month": near(7.5)}
        await meter(cp, tx, "2026-10-31T23:20:00Z", sv(111_000))  # a late telegram of a passed day: not booked today
        assert await dp_get(f"{name}-1.Metering.Energy.Today") == near(6.0)
        await stop(cp, tx, 111_000, "2026-11-01T23:40:00Z")
    assert (await Transaction.objects.aget(pk=tx)).energy_kwh == near(11.0)


async def test_a_reconnect_carries_on_from_the_stored_tracking(server):
    """A new connection (a restart, another node) loads the connector's Metering.Tracking, which may be
    up to a minute old: the next reading's delta covers what came in between."""
    name = await create_charge_point("meter-reconnect", "Accepted")
    async with connected_library_charger(server, "meter-reconnect") as cp:
        await cp.boot()
        tx = await start(cp, 100_000, "2026-11-21T02:00:00Z")
        for minute, register in ((1, 100_500), (2, 101_000), (3, 101_600)):  # tracking saved at the first only
            await meter(cp, tx, f"2026-11-21T02:0{minute}:00Z", sv(register))
    async with connected_library_charger(server, "meter-reconnect") as cp:
        await meter(cp, tx, "2026-11-21T02:10:00Z", sv(102_000))
        assert await values(f"{name}-1", "Metering.Energy.Session", "Metering.Energy.Today", "Metering.Session.Duration") == {
            "Metering.Energy.Session": near(2.0), "Metering.Energy.Today": near(2.0), "Metering.Session.Duration": 600}
        await stop(cp, tx, 102_300, "2026-11-21T02:15:00Z")
    assert (await Transaction.objects.aget(pk=tx)).energy_kwh == near(2.3)
    assert await dp_get(f"{name}-1.Metering.Energy.Today") == near(2.3)
