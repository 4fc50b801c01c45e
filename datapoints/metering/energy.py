"""Getting a connector's energy right, on the quirks real chargers have. Pure bookkeeping on a
JSON-able state (kept in the connector's `Metering.Tracking` element), no database.

Register (lifetime, kWh, after Config.EnergyUnitOverride):
  - it only rises. A reading below the last one is held back: if the next reading rises again it was
    a glitch (a lone 0 in a rising register) and is dropped; if the next one is low too, the meter
    was reset and the difference is carried as an offset, so the corrected register keeps rising.
  - corrected = raw + offset. Only positive deltas of the corrected register feed Today/Week/Month,
    so resets, restarts and missing samples neither lose nor double count energy.
  - a charger that reports only Energy.Active.Import.Interval gets a register summed from its intervals.

Session (a transaction on the connector): energy = corrected register - the session's base. The base
is decided per transaction on its first in-transaction register reading r (meterStart m):
  - m <= r <= m + plausible       -> meterStart: the register counts the lifetime, base m
  - r < m, r small               -> per_session: the charger counts per session (a restart at 0,
                                      no reset alarm), base 0
  - m ~ 0, r > m + plausible      -> register: meterStart is 0 beside a lifetime register, base the
                                      idle register before the session (else r)
  where plausible = 1 kWh + 400 kW over the time since the start. A Transaction.Begin reading of 0
  is never used (chargers send it beside the real register).
The final figure: a Transaction.End register reading in StopTransaction's transactionData, else
meterStop - the base; never negative (clamped to 0 and flagged).
"""
from dataclasses import dataclass, field

from django.utils.dateparse import parse_datetime

from . import calendar

TOLERANCE = 0.01  # kWh: rounding between meterStart (Wh) and readings in kWh
MAX_KW = 400.0  # no connector delivers more: what a session can plausibly have counted
UNIT_SUSPECT_CONFIRMATIONS = 2  # intervals in a row ~1000x too slow before the flag is raised


@dataclass
class Step:
    """What one register reading did."""

    delta: float = 0.0  # kWh added to the corrected register (>= 0)
    accepted: bool = True  # False: held back as a possible glitch
    events: list = field(default_factory=list)  # "glitch", "meter_reset", "restart"


def new_state():
    return {"raw": None, "offset": 0.0, "drop": None, "at": None, "booked": None, "power": None, "suspect": 0, "buckets": {}, "totals": {}, "tx": None}


def corrected(state):
    return None if state["raw"] is None else state["raw"] + state["offset"]


# --- the register ---------------------------------------------------------------------------------
def register_reading(state, raw, restart=False, at=None):
    """Feed one raw register value (kWh) read at `at` (epoch seconds). `restart`: the charger is known
    to count from 0 now."""
    last = state["raw"]
    if last is None:
        state["raw"], state["drop"] = raw, None
        return Step()
    if restart:
        state["offset"] += last  # the counter restarted at 0: what it counted before is kept
        state["raw"], state["drop"] = raw, None
        return Step(max(raw, 0.0), events=["restart"])
    if raw >= last - TOLERANCE:
        rise = max(raw - last, 0.0)
        if rise > plausible_kwh(_hours(state["at"], at)):  # no meter counts that fast: another scale
            return rebase(state, raw)
        events = ["glitch"] if state["drop"] is not None else []
        state["raw"], state["drop"] = max(raw, last), None
        return Step(rise, events=events)
    if state["drop"] is None:
        state["drop"] = raw
        return Step(accepted=False)
    base = min(state["drop"], raw)  # a lasting drop: the meter was reset (to about `base`)
    state["offset"] += last - base
    state["raw"], state["drop"] = raw, None
    return Step(raw - base, events=["meter_reset"])


def rebase(state, raw):
    """Take `raw` as the register's new scale, with no energy counted: the corrected register goes on."""
    state["offset"] += state["raw"] - raw
    state["raw"], state["drop"] = raw, None
    return Step(events=["jump"])


def plausible_kwh(hours):
    """The most energy a connector can have counted in `hours` (None: unknown, an hour)."""
    return 1.0 + MAX_KW * (1.0 if hours is None else hours)


def epoch(value):
    """Epoch seconds of a stored time (a number; ISO text from trackings written before); None stays None."""
    if value is None or isinstance(value, (int, float)):
        return value
    parsed = parse_datetime(value)
    return parsed.timestamp() if parsed is not None and parsed.tzinfo is not None else None


def _hours(since, at):
    """Hours from `since` to `at` (epoch seconds); None when either is unknown."""
    since = epoch(since)
    if since is None or at is None:
        return None
    return max((at - since) / 3600, 0.0)


def interval_reading(state, interval):
    """A charger that reports only Energy.Active.Import.Interval: its register is the running sum."""
    state["raw"] = (state["raw"] or 0.0) + max(interval, 0.0)
    return Step(max(interval, 0.0))


# --- time buckets ---------------------------------------------------------------------------------
def book(state, delta, at, tz):
    """Add a positive delta to Today/Week/Month of the bucket `at` falls in: a new bucket restarts at
    0, a bucket that has already passed is left alone (keys compare in time order as text)."""
    current = calendar.keys(at, tz)
    for bucket in calendar.BUCKETS:
        stored = state["buckets"].get(bucket)
        if stored is not None and current[bucket] < stored:
            continue
        if stored != current[bucket]:
            state["buckets"][bucket] = current[bucket]
            state["totals"][bucket] = 0.0
        state["totals"][bucket] += delta


def totals_at(state, at, tz):
    """Today/Week/Month as they stand at `at` (0 for a bucket that has passed)."""
    current = calendar.keys(at, tz)
    return {b: state["totals"].get(b, 0.0) if state["buckets"].get(b) == current[b] else 0.0 for b in calendar.BUCKETS}


# --- sessions -------------------------------------------------------------------------------------
def start_session(state, transaction_id, meter_start_kwh, start_iso):
    state["tx"] = {"id": transaction_id, "meter_start": meter_start_kwh, "start": start_iso, "start_ts": epoch(start_iso), "kind": None, "base_raw": None, "base": None, "energy": 0.0, "readings": 0, "flags": []}


def decide_base(tx, first, idle_register, at):
    """(kind, base in raw kWh) of a session from its first register value `first`."""
    m = tx["meter_start"]
    plausible = plausible_kwh(_hours(tx.get("start_ts", tx["start"]), at))
    if m - TOLERANCE <= first <= m + plausible:
        return "meterStart", m
    if first < m - TOLERANCE and first <= plausible:
        return "per_session", 0.0
    if m <= TOLERANCE and first > m + plausible:
        idle_is_lifetime = idle_register is not None and 0 <= first - idle_register <= plausible
        return "register", idle_register if idle_is_lifetime else first
    return "meterStart", m  # a meter that went backwards: clamped below, and flagged


def session_reading(state, raw, at):
    """Feed a register reading taken during the session; returns the register Step."""
    tx = state["tx"]
    if tx["kind"] is None:
        tx["kind"], tx["base_raw"] = decide_base(tx, raw, state["raw"], at)
        if state["raw"] is None:
            state["raw"] = tx["base_raw"]  # a first reading ever: the register stood at the base at the start
            step = register_reading(state, raw, at=at)
        elif tx["kind"] == "register" and tx["base_raw"] == raw:
            step = rebase(state, raw)  # what came before was on another scale
        else:
            step = register_reading(state, raw, restart=tx["kind"] == "per_session", at=at)
        tx["base"] = tx["base_raw"] + state["offset"]  # the base on the corrected register
        if tx["kind"] != "meterStart":
            tx["flags"].append(tx["kind"])
    else:
        step = register_reading(state, raw, at=at)
    tx["readings"] += 1
    if step.accepted:
        tx["energy"] = _clamped(tx, corrected(state) - tx["base"])
    return step


def _clamped(tx, energy):
    if energy < -TOLERANCE and "negative_clamped" not in tx["flags"]:
        tx["flags"].append("negative_clamped")
    return max(energy, 0.0)


def final_energy(state, meter_stop_kwh, at):
    """The session's final energy from meterStop, when no Transaction.End register reading came."""
    tx = state["tx"]
    if tx["kind"] is None:  # no register reading in the session: decide from meterStop itself
        tx["kind"], tx["base_raw"] = decide_base(tx, meter_stop_kwh, state["raw"], at)
        if tx["kind"] == "per_session":  # a meterStop below meterStart alone is no proof of a per-session counter
            tx["kind"], tx["base_raw"] = "meterStart", tx["meter_start"]
    if tx["kind"] == "intervals" and tx["energy"] > 0:
        return tx["energy"]
    if tx["kind"] == "per_session" and meter_stop_kwh >= tx["meter_start"] - TOLERANCE:
        energy = meter_stop_kwh - tx["meter_start"]  # meterStop on meterStart's (lifetime) scale
    elif tx["base"] is not None:
        energy = meter_stop_kwh + state["offset"] - tx["base"]  # on the corrected register: survives a reset
    else:
        energy = meter_stop_kwh - tx["base_raw"]
    if energy < -TOLERANCE and tx["readings"]:  # meterStop on another scale than the readings: they know better
        return tx["energy"]
    return _clamped(tx, energy)


def rescale(state, factor):
    """Config.EnergyUnitOverride changed: every stored energy figure was read in the wrong unit."""
    for key in ("raw", "offset", "drop"):
        if state[key] is not None:
            state[key] *= factor
    state["totals"] = {bucket: value * factor for bucket, value in state["totals"].items()}
    tx = state["tx"]
    if tx is not None:
        for key in ("meter_start", "base_raw", "base", "energy", "booked_kwh"):
            if tx.get(key) is not None:
                tx[key] *= factor


# --- the 1000x unit quirk -------------------------------------------------------------------------
def unit_suspect(state, delta, power_kw, hours):
    """True once the register has risen ~1000x too slowly for the measured power, intervals in a row."""
    expected = (power_kw or 0.0) * hours
    if expected < 0.05 or delta <= 0:
        return state["suspect"] >= UNIT_SUSPECT_CONFIRMATIONS
    ratio = delta / expected
    state["suspect"] = state["suspect"] + 1 if 1 / 3000 < ratio < 1 / 300 else 0
    return state["suspect"] >= UNIT_SUSPECT_CONFIRMATIONS
