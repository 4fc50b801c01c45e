"""MeterValues, StartTransaction and StopTransaction -> the Metering.* elements and the session's
energy on its Transaction. Runs in the recorder's database thread, inside the batch transaction.

A connection keeps its charger's metering in memory (`ChargerMeter`, loaded once on first use:
the connectors' `Metering.Tracking`, Config.EnergyUnitOverride and the site's time zone) and writes
the tracking back at a session's start and stop, after an anomaly, and otherwise at most once a
minute, so a restart or another node carries on where it stopped. A tracking a minute old is
safe: the next reading's delta from its older register value covers the readings in between.
Elements are written only when their value changes (per connection), to keep history rows and
change events to what moved.
"""
import copy
import functools
import logging

from django.db import DatabaseError

from .. import alarms
from ..charge_points import element_values
from ..models import Datapoint, Element, Transaction
from . import calendar, energy
from .parse import read

log = logging.getLogger(__name__)

REGISTER = "Energy.Active.Import.Register"
INTERVAL = "Energy.Active.Import.Interval"
# measurand -> connector element of its total (the register and the intervals are handled apart)
INSTANT = {
    "Power.Active.Import": "Metering.Power.Active.Import",
    "Power.Offered": "Metering.Power.Offered",
    "Current.Import": "Metering.Current.Import",
    "Current.Offered": "Metering.Current.Offered",
    "Voltage": "Metering.Voltage",
    "Frequency": "Metering.Frequency",
    "Power.Factor": "Metering.Power.Factor",
    "SoC": "Metering.SoC",
    "Temperature": "Metering.Temperature",
}
TRANSACTION_SAVE_SECONDS = 60  # a running transaction's energy_kwh is saved at most this often (and at its stop)
TRACKING_SAVE_SECONDS = 60  # a connector's Metering.Tracking likewise (and at once after anything unusual)
# Energy figures are written when they moved by at least this much (or at a session's start and
# stop, exactly): a charger reporting many times a second must not cost a write per telegram.
ENERGY_DEADBAND = 0.01  # kWh
BUCKET_ELEMENTS = {"day": "Metering.Energy.Today", "week": "Metering.Energy.Week", "month": "Metering.Energy.Month"}


def rounded(value):
    return round(value, 4)


class ChargerMeter:
    """The metering of one connected charger: its connectors' states and what was last written."""

    def __init__(self, cp):
        self.cp = cp
        rows = Element.objects.filter(datapoint__charge_point_id=cp.id, path="Metering.Tracking").values_list("datapoint__connector_id", "value")
        self.states = {cid: {**energy.new_state(), **value} for cid, value in rows if isinstance(value, dict)}
        config = element_values(cp.id, ["Config.EnergyUnitOverride", "Metering.SkippedValues"])
        self.override = config.get("Config.EnergyUnitOverride") or ""
        self.skipped = config.get("Metering.SkippedValues") or 0
        zone_name = Datapoint.objects.filter(pk=cp.id).values_list("site__time_zone", flat=True).first()
        self.tz = calendar.zone(zone_name)
        self.written = {}  # (datapoint id, path) -> value last written on this connection
        self.main_power = None  # connector 0's own power reading
        self.tx_saved_at = {}  # transaction id -> server time its energy was last saved
        self.tracking_saved_at = {}  # connector id -> server time its Metering.Tracking was last written

    def state(self, connector_id):
        state = self.states.get(connector_id)
        if state is None:
            state = self.states[connector_id] = {**energy.new_state(), "override": self.override}
        return state

    def forget(self, *datapoints):
        """Write these datapoints' next values whatever was written before (a session's exact end)."""
        ids = {dp.id for dp in datapoints}
        self.written = {key: value for key, value in self.written.items() if key[0] not in ids}

    def kwh(self, value, labelled):
        """A normalised energy value with Config.EnergyUnitOverride applied."""
        return value * override_factor(self.override, labelled)

    def follow_override(self, state, labelled):
        """Config.EnergyUnitOverride changed since the connector's figures were read: rescale them
        (by the ratio for the register's unit; meterStart is taken to share it). True if it did."""
        before = state.get("override", "")
        if before == self.override:
            return False
        energy.rescale(state, override_factor(self.override, labelled) / override_factor(before, labelled))
        state["override"] = self.override
        state["suspect"] = 0
        state["unusual"] = True
        return True

    def write(self, work, dp, path, value, deadband=0.0):
        """Write unless the value is the one last written, or (energy) within `deadband` of it.
        True if it wrote."""
        key = (dp.id, path)
        if key in self.written:
            last = self.written[key]
            if last == value or (deadband and isinstance(last, float) and abs(value - last) < deadband):
                return False
        self.written[key] = value
        work.set(dp, path, value)
        return True


def override_factor(override, labelled):
    """What Config.EnergyUnitOverride multiplies a normalised energy value labelled `labelled` by."""
    if override == "kWh" and labelled == "wh":
        return 1000.0
    if override == "Wh" and labelled == "kwh":
        return 0.001
    return 1.0


def charger_meter(session):
    meter = getattr(session, "metering", None)
    if meter is None:
        meter = session.metering = ChargerMeter(session.cp)
    return meter


def never_fails_the_message(func):
    """A metering bug must not cost the charger its answer or the raw values: it is logged instead.
    Database errors still propagate (the batch transaction is broken and is retried by the recorder)."""

    @functools.wraps(func)
    def guarded(work, session, *args):
        try:
            return func(work, session, *args)
        except DatabaseError:
            raise
        except Exception:
            log.exception("metering failed for %s (%s); the raw values are stored", session.client_id, func.__name__)
            session.metering = None  # reload from what is stored next time
            return None

    return guarded


def anomaly(work, session, connector_id, kind, text, lasting=False, **detail):
    """An energy anomaly: an alarm that comes (and, unless `lasting`, goes at once: an event to
    acknowledge), logged as a warning."""
    log.warning("%s connector %s: %s (%s)", session.client_id, connector_id, text, kind)
    alarms.came(session.cp.id, kind, text, connector_id=connector_id, detail=detail, work=work)
    if not lasting:
        alarms.went(session.cp.id, kind, connector_id=connector_id, work=work)


# --- MeterValues ----------------------------------------------------------------------------------
@never_fails_the_message
def meter_values(work, session, connector_id, transaction_id, meter_values_list):
    meter = charger_meter(session)
    if connector_id == 0:
        return _main_meter(work, session, meter, meter_values_list)
    state = meter.state(connector_id)
    if transaction_id is not None:
        _bind_transaction(state, meter, transaction_id, session.cp.id)
    for meter_value in meter_values_list:
        _reading(work, session, meter, connector_id, state, meter_value)
    _write_connector(work, session, meter, connector_id, state)
    _save_running_transaction(meter, state, work.now)


def _main_meter(work, session, meter, meter_values_list):
    for meter_value in meter_values_list:
        reading = read(meter_value)
        meter.skipped += reading.skipped
        power = reading.quantities.get("Power.Active.Import")
        if power is not None:
            meter.main_power = power.value
    _write_charge_point(work, session, meter)


def _bind_transaction(state, meter, transaction_id, cp_id):
    """Make sure the connector's state follows transaction `transaction_id` (after a restart, say)."""
    if state["tx"] is not None and state["tx"]["id"] == transaction_id:
        return
    tx = Transaction.objects.filter(pk=transaction_id, charge_point_id=cp_id, meter_stop__isnull=True).first()
    if tx is not None:
        _start_session(meter, state, tx)


def _reading(work, session, meter, connector_id, state, meter_value):
    """Book one meterValue on the connector's state; returns its parsed Reading."""
    reading = read(meter_value)
    meter.skipped += reading.skipped
    clock = calendar.charger_time(reading.timestamp, work.now)
    at = clock.timestamp()  # durations and rates: the charger's clock
    booked = calendar.booking_time(clock, work.now).timestamp()  # Today/Week/Month: that clock only when believable
    quantities = reading.quantities
    previous_power, previous_at = state["power"], energy.epoch(state["at"])
    if "Power.Active.Import" in quantities:
        state["power"] = quantities["Power.Active.Import"].value
    state.setdefault("values", {})
    for measurand, path in INSTANT.items():
        if measurand in quantities:
            state["values"][path] = rounded(quantities[measurand].value)
    current = quantities.get("Current.Import")
    if current is not None:
        for phase, value in current.phases.items():
            state["values"][f"Metering.Current.Import.{phase}"] = rounded(value)
    step = _energy_step(work, session, meter, connector_id, state, quantities, at)
    if step is not None and (step.events or not step.accepted or (state["tx"] is not None and state["tx"]["readings"] == 1)):
        state["unusual"] = True  # a glitch held back, a reset, a restart, a session's base decided: saved at once
    if step is not None and step.accepted:
        if step.delta > 0:
            energy.book(state, step.delta, booked, meter.tz)
            if state["tx"] is not None:
                state["tx"]["booked_kwh"] = state["tx"].get("booked_kwh", 0.0) + step.delta
            hours = (at - previous_at) / 3600 if previous_at else 0.0
            power = (state["power"] + previous_power) / 2 if previous_power is not None and state["power"] is not None else state["power"]
            if quantities.get(REGISTER) and quantities[REGISTER].labelled == "wh" and not meter.override:
                _check_unit(work, session, meter, connector_id, state, step.delta, power, hours)
        if "meter_reset" in step.events:
            anomaly(work, session, connector_id, "meter_reset", "the energy register dropped and stayed low: a meter reset, carried as an offset", offset_kwh=rounded(state["offset"]))
    if step is None or step.accepted:
        state["at"] = latest(at, state["at"])
        state["booked"] = latest(booked, state["booked"])
    if state["tx"] is not None:
        _flag_negative(work, session, connector_id, state["tx"])
    return reading


def latest(at, stored):
    """The later of `at` and a stored time, in epoch seconds: the times kept never go back."""
    stored = energy.epoch(stored)
    return at if stored is None else max(at, stored)


def _energy_step(work, session, meter, connector_id, state, quantities, at):
    """Feed the register (or the interval) of one reading; the Step, or None without energy."""
    register = quantities.get(REGISTER)
    if register is not None:
        if register.context == "Transaction.Begin" and register.value == 0:
            return None  # a Begin reading of 0 beside the real register: never used
        if meter.follow_override(state, register.labelled):
            corrected_by_operator(work, session, connector_id)
        raw = meter.kwh(register.value, register.labelled)
        if state["tx"] is not None:
            return energy.session_reading(state, raw, at)
        return energy.register_reading(state, raw, at=at)
    interval = quantities.get(INTERVAL)
    if interval is not None:
        step = energy.interval_reading(state, meter.kwh(interval.value, interval.labelled))
        tx = state["tx"]
        if tx is not None:
            tx["kind"] = tx["kind"] or "intervals"
            tx["energy"] += step.delta
            tx["readings"] += 1
        return step
    return None


def corrected_by_operator(work, session, connector_id):
    """An operator set Config.EnergyUnitOverride: the suspicion and its alarm end."""
    work.set(session.cp, "State.EnergyUnitSuspect", False)
    alarms.went(session.cp.id, "energy_unit", connector_id=connector_id, work=work)


def _check_unit(work, session, meter, connector_id, state, delta, power, hours):
    was = state["suspect"] >= energy.UNIT_SUSPECT_CONFIRMATIONS
    if energy.unit_suspect(state, delta, power, hours) and not was:
        state["unusual"] = True
        work.set(session.cp, "State.EnergyUnitSuspect", True)
        if state["tx"] is not None and "unit_suspect" not in state["tx"]["flags"]:
            state["tx"]["flags"].append("unit_suspect")
        anomaly(work, session, connector_id, "energy_unit", "the energy register rises about 1000x too slowly for the measured power: values labelled Wh look like kWh; set Config.EnergyUnitOverride to kWh", lasting=True)


def _flag_negative(work, session, connector_id, tx):
    if "negative_clamped" in tx["flags"] and not tx.get("negative_reported"):
        tx["negative_reported"] = True
        anomaly(work, session, connector_id, "energy_negative", f"session energy of transaction {tx['id']} came out negative: clamped to 0", transaction_id=tx["id"])


# --- writing the elements -------------------------------------------------------------------------
def _write_connector(work, session, meter, connector_id, state):
    """The connector's changed figures; the charger's sums when one of them moved."""
    connector = session.connector(connector_id)
    moved = False
    for path, value in state.get("values", {}).items():
        moved |= meter.write(work, connector, path, value)
    register = energy.corrected(state)
    if register is not None:
        moved |= meter.write(work, connector, "Metering.Energy.Active.Import.Register", rounded(register), ENERGY_DEADBAND)
    tx = state["tx"]
    if tx is not None:
        meter.write(work, connector, "Metering.Energy.Session", rounded(tx["energy"]), ENERGY_DEADBAND)
        duration = _seconds(tx, energy.epoch(state["at"]))
        if duration is not None:
            meter.write(work, connector, "Metering.Session.Duration", duration)
    moved |= _write_buckets(work, meter, connector, state)
    _save_tracking(work, meter, connector, connector_id, state)
    if moved or meter.written.get((session.cp.id, "Metering.SkippedValues")) != meter.skipped:
        _write_charge_point(work, session, meter)


def _save_tracking(work, meter, connector, connector_id, state, now=False):
    saved = meter.tracking_saved_at.get(connector_id)
    unusual = state.pop("unusual", False)
    if not (now or unusual) and saved is not None and (work.now - saved).total_seconds() < TRACKING_SAVE_SECONDS:
        return
    meter.tracking_saved_at[connector_id] = work.now
    work.set(connector, "Metering.Tracking", copy.deepcopy(state))


def _write_buckets(work, meter, dp, state):
    at = energy.epoch(state["booked"]) or work.now.timestamp()
    wrote = False
    for bucket, value in energy.totals_at(state, at, meter.tz).items():
        wrote |= meter.write(work, dp, BUCKET_ELEMENTS[bucket], rounded(value), ENERGY_DEADBAND)
    return wrote


def _write_charge_point(work, session, meter):
    powers = [s["power"] for cid, s in meter.states.items() if cid and s["power"] is not None]
    power = sum(powers) if powers else meter.main_power
    if power is not None:
        meter.write(work, session.cp, "Metering.Power.Active.Import", rounded(power))
    totals = {bucket: 0.0 for bucket in BUCKET_ELEMENTS}
    times = [energy.epoch(s["booked"]) for cid, s in meter.states.items() if cid and s["booked"]]
    now = max(times) if times else work.now.timestamp()  # the charger's own "now", as its connectors are booked
    for cid, state in meter.states.items():
        if cid:
            for bucket, value in energy.totals_at(state, now, meter.tz).items():
                totals[bucket] += value
    for bucket, value in totals.items():
        meter.write(work, session.cp, BUCKET_ELEMENTS[bucket], rounded(value), ENERGY_DEADBAND)
    meter.write(work, session.cp, "Metering.SkippedValues", meter.skipped)


def _seconds(tx, end):
    """Whole seconds from the session's start to `end` (epoch seconds), by the charger's clock."""
    start = energy.epoch(tx.get("start_ts", tx["start"]))  # trackings older than start_ts hold the text
    if start is None or end is None:
        return None
    return max(int(end - start), 0)


def _save_running_transaction(meter, state, now):
    tx = state["tx"]
    if tx is None:
        return
    saved = meter.tx_saved_at.get(tx["id"])
    if saved is not None and (now - saved).total_seconds() < TRANSACTION_SAVE_SECONDS:
        return
    meter.tx_saved_at[tx["id"]] = now
    Transaction.objects.filter(pk=tx["id"]).update(
        energy_kwh=rounded(tx["energy"]), last_register_kwh=_register_or_none(state), per_session_register=_per_session(tx), energy_flags=tx["flags"]
    )


def _register_or_none(state):
    register = energy.corrected(state)
    return None if register is None else rounded(register)


def _per_session(tx):
    return None if tx["kind"] is None else tx["kind"] == "per_session"


def _start_session(meter, state, tx):
    meter.follow_override(state, "wh")
    energy.start_session(state, tx.pk, meter.kwh(tx.meter_start / 1000, "wh"), tx.started_at)


# --- StartTransaction / StopTransaction -----------------------------------------------------------
@never_fails_the_message
def transaction_started(work, session, tx):
    """A new transaction on its connector: the session counters restart."""
    meter = charger_meter(session)
    state = meter.state(tx.connector_id)
    _start_session(meter, state, tx)
    connector = session.connector(tx.connector_id)
    meter.write(work, connector, "Metering.Energy.Session", 0.0)
    meter.write(work, connector, "Metering.Session.Duration", 0)
    _save_tracking(work, meter, connector, tx.connector_id, state, now=True)


@never_fails_the_message
def transaction_stopped(work, session, tx, payload):
    """Set the final energy on `tx` (saved by the caller with `STOP_FIELDS`) and close the session."""
    meter = charger_meter(session)
    state = meter.state(tx.connector_id)
    if state["tx"] is None or state["tx"]["id"] != tx.pk:
        _start_session(meter, state, tx)
    stop_clock = calendar.charger_time(payload["timestamp"], work.now)
    stop_at, stop_booked = stop_clock.timestamp(), calendar.booking_time(stop_clock, work.now).timestamp()
    ended_by_reading = False
    for meter_value in payload.get("transactionData") or []:
        register = _reading(work, session, meter, tx.connector_id, state, meter_value).quantities.get(REGISTER)
        ended_by_reading = ended_by_reading or (register is not None and register.context == "Transaction.End")
    txs = state["tx"]
    meter_stop = meter.kwh(payload["meterStop"] / 1000, "wh")
    final = txs["energy"] if ended_by_reading else energy.final_energy(state, meter_stop, stop_at)
    _book_rest(state, meter, txs, final, meter_stop, stop_booked, ended_by_reading)
    _flag_negative(work, session, tx.connector_id, txs)
    tx.energy_kwh = rounded(final)
    tx.last_register_kwh = _register_or_none(state)
    tx.per_session_register = _per_session(txs)
    tx.energy_flags = txs["flags"]
    connector = session.connector(tx.connector_id)
    meter.write(work, connector, "Metering.Energy.Session", rounded(final))
    meter.write(work, connector, "Metering.Session.Duration", _seconds(txs, stop_at) or 0)
    state["power"] = 0.0
    state.setdefault("values", {})["Metering.Power.Active.Import"] = 0.0
    state["tx"] = None
    meter.tx_saved_at.pop(tx.pk, None)
    state["unusual"] = True  # the session's end is saved at once
    meter.forget(connector, session.cp)  # ... and its figures written exactly
    _write_connector(work, session, meter, tx.connector_id, state)
    return STOP_METERING_FIELDS


STOP_METERING_FIELDS = ["energy_kwh", "last_register_kwh", "per_session_register", "energy_flags"]


def _book_rest(state, meter, txs, final, meter_stop, booked, ended_by_reading):
    """Book what the readings did not: the session's energy beyond what its register deltas booked."""
    if ended_by_reading:
        return
    if txs["kind"] in ("meterStart", "register") and state["raw"] is not None and txs["readings"]:
        step = energy.register_reading(state, meter_stop)  # meterStop is a lifetime register value
        if step.accepted and step.delta > 0:
            energy.book(state, step.delta, booked, meter.tz)
        return
    rest = final - txs.get("booked_kwh", 0.0)
    if rest > 0:
        energy.book(state, rest, booked, meter.tz)
    if txs["kind"] != "per_session" and (state["raw"] is None or meter_stop >= state["raw"]):
        state["raw"] = meter_stop
