"""Building SetChargingProfile / ClearChargingProfile payloads for a current limit.

A method is what a charger was asked to take: {"purpose", "kind", "stackLevel", "unit"}. Each
purpose has a fixed chargingProfileId (a TxProfile one per connector), so sending a profile again
replaces the charger's copy and we never need ClearChargingProfile before a change.
"""
from datetime import datetime, timezone

CP_MAX, TX_DEFAULT, TX = "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"
PROFILE_IDS = {CP_MAX: 9001, TX_DEFAULT: 9002}
TX_PROFILE_BASE_ID = 9100  # + connectorId
DEFAULT_VOLTAGE = 230.0
DEFAULT_PHASES = 3
RATE_UNIT_KEY = "ChargingScheduleAllowedChargingRateUnit"
STACK_LEVEL_KEY = "ChargeProfileMaxStackLevel"
CONFIG_KEYS = (RATE_UNIT_KEY, STACK_LEVEL_KEY)


def profile_id(purpose, connector_id=0):
    return TX_PROFILE_BASE_ID + connector_id if purpose == TX else PROFILE_IDS[purpose]


def rate_unit(allowed):
    """"A" or "W" from ChargingScheduleAllowedChargingRateUnit ("Current", "Power", "Current,Power",
    some firmwares "A" / "W"); amps when the charger takes them or says nothing usable."""
    tokens = {t.strip().lower() for t in str(allowed or "").replace(";", ",").split(",") if t.strip()}
    if tokens and not tokens & {"current", "a"} and tokens & {"power", "w"}:
        return "W"
    return "A"


def max_stack_level(value):
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return 0


def measured_phases(connectors):
    """Phases the charger uses: the most phases (L1..L3) any connector reported a current on,
    else 3. `connectors`: [{path: value}] of each connector's elements."""
    counts = [sum(values.get(f"Metering.Current.Import.L{n}") is not None for n in (1, 2, 3)) for values in connectors]
    return max(counts, default=0) or DEFAULT_PHASES


def measured_voltage(connectors):
    """The mean of the connectors' Metering.Voltage (L-N), else 230 V."""
    volts = [float(v) for values in connectors if (v := values.get("Metering.Voltage")) not in (None, "") and float(v) > 0]
    return sum(volts) / len(volts) if volts else DEFAULT_VOLTAGE


def in_unit(amps, unit, voltage, phases):
    """The schedule limit for `amps` in the charger's unit: amps to 0.1 A, or whole watts
    (amps x voltage x phases)."""
    if unit == "W":
        return int(round(amps * voltage * phases))  # "3840", not "3840.0": some firmwares parse an integer
    return round(amps, 1)


def set_profile(method, limit, connector_id=0, transaction_id=None, now=None):
    """The SetChargingProfile payload for `method` with `limit` (already in the method's unit)."""
    purpose, kind = method["purpose"], method["kind"]
    schedule = {"chargingRateUnit": method["unit"], "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
    if kind == "Absolute":
        now = now or datetime.now(timezone.utc)
        schedule["startSchedule"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    profile = {
        "chargingProfileId": profile_id(purpose, connector_id),
        "stackLevel": method["stackLevel"],
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if purpose == TX:
        profile["transactionId"] = transaction_id
    return {"connectorId": connector_id, "csChargingProfiles": profile}


def clear_profile(purpose, connector_id=0):
    return {"id": profile_id(purpose, connector_id)}


def ladder(top_level, unit, remembered=None, running=False):
    """The methods to try, in order: the remembered one first, then ChargePointMaxProfile on
    connector 0 (Absolute at the charger's top stack level, then at level 0, then Relative),
    TxDefaultProfile (top level, level 0), and TxProfile when a transaction runs."""
    levels = [top_level] + ([0] if top_level else [])
    tried = [(CP_MAX, "Absolute", level) for level in levels] + [(CP_MAX, "Relative", top_level)]
    tried += [(TX_DEFAULT, "Absolute", level) for level in levels]
    if running:
        tried += [(TX, "Absolute", level) for level in levels]
    methods = [{"purpose": p, "kind": k, "stackLevel": s, "unit": unit} for p, k, s in tried]
    if remembered:
        remembered = {**remembered, "unit": unit}
        if remembered["purpose"] != TX or running:
            methods = [remembered] + [m for m in methods if m != remembered]
    return methods


def describe(method):
    return f"{method['purpose']} ({method['kind']}, stack level {method['stackLevel']}, {method['unit']})"
