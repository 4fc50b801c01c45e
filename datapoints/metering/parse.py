"""One meterValue of a MeterValues (or StopTransaction transactionData) -> normalised quantities.

Every field of every sampledValue is read, with the OCPP 1.6 defaults where it is left out:
measurand Energy.Active.Import.Register, context Sample.Periodic, format Raw, location Outlet, unit
Wh for energy and the base unit for the rest (a bare 7200 for power is watts).

  units      Wh->kWh, W->kW, varh->kvarh, var->kvar, VA->kVA, Celsius/Celcius/Fahrenheit/K->°C,
             Percent, A, V, Hertz; compared case-insensitively
  phases     power and energy: the sum over L1-L3 (N left out); current: the mean of the phases that
             carry it; voltage: the mean of L-N (L-L divided by √3); a value without a phase is the
             total; a lone phase value is taken as the total. Per-phase values are kept too.
  skipped    empty values, SignedData and non-numeric values are counted, never read as 0
  contexts   several readings of one measurand: Transaction.End > Sample.Periodic > Sample.Clock >
             the others > Transaction.Begin (a Begin reading never overrides a periodic one)
  locations  Outlet > Inlet > Cable > Body > EV for the same measurand
"""
import math
from dataclasses import dataclass, field

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
CONTEXT_RANK = {"Transaction.End": 5, "Sample.Periodic": 4, "Sample.Clock": 3, "Trigger": 2, "Interruption.End": 2, "Interruption.Begin": 2, "Other": 2, "Transaction.Begin": 1}
LOCATION_RANK = {"Outlet": 5, "Inlet": 4, "Cable": 3, "Body": 2, "EV": 1}
SUMMED = ("Energy.", "Power.Active.", "Power.Reactive.", "Power.Offered")
AVERAGED = ("Current.", "Voltage", "Frequency", "Power.Factor", "Temperature", "SoC", "RPM")
LINE_TO_NEUTRAL = {"L1": "L1", "L2": "L2", "L3": "L3", "L1-N": "L1", "L2-N": "L2", "L3-N": "L3"}
LINE_TO_LINE = {"L1-L2": "L1", "L2-L3": "L2", "L3-L1": "L3"}


class Unreadable(ValueError):
    """A sampledValue that carries no number (empty, SignedData, not numeric, infinite)."""


@dataclass
class Quantity:
    value: float  # the total, in the normalised unit
    unit: str
    phases: dict = field(default_factory=dict)  # "L1".."L3" -> value, when the charger sent phases
    context: str = "Sample.Periodic"
    location: str = "Outlet"
    labelled: str = ""  # the unit as the charger labelled it (lower case, default filled in): "wh", "kwh", ...


@dataclass
class Reading:
    timestamp: str
    quantities: dict = field(default_factory=dict)  # measurand -> Quantity
    skipped: int = 0  # sampledValues that carried no usable number


def base_unit(measurand):
    if measurand.startswith("Energy.Reactive"):
        return "varh"
    if measurand.startswith("Energy."):
        return "Wh"
    if measurand.startswith("Power.Reactive"):
        return "var"
    if measurand.startswith("Power.Factor"):
        return ""
    if measurand.startswith("Power."):
        return "W"
    if measurand.startswith("Current."):
        return "A"
    if measurand == "Voltage":
        return "V"
    if measurand == "Frequency":
        return "Hertz"
    if measurand == "Temperature":
        return "Celsius"
    if measurand == "SoC":
        return "Percent"
    return ""


# unit (lower case) -> (normalised unit, function)
_UNITS = {
    "wh": ("kWh", lambda v: v / 1000),
    "kwh": ("kWh", lambda v: v),
    "varh": ("kvarh", lambda v: v / 1000),
    "kvarh": ("kvarh", lambda v: v),
    "w": ("kW", lambda v: v / 1000),
    "kw": ("kW", lambda v: v),
    "var": ("kvar", lambda v: v / 1000),
    "kvar": ("kvar", lambda v: v),
    "va": ("kVA", lambda v: v / 1000),
    "kva": ("kVA", lambda v: v),
    "a": ("A", lambda v: v),
    "v": ("V", lambda v: v),
    "hertz": ("Hz", lambda v: v),
    "hz": ("Hz", lambda v: v),
    "percent": ("%", lambda v: v),
    "%": ("%", lambda v: v),
    "celsius": ("°C", lambda v: v),
    "celcius": ("°C", lambda v: v),  # the 1.6 schema's own spelling
    "fahrenheit": ("°C", lambda v: (v - 32) * 5 / 9),
    "k": ("°C", lambda v: v - 273.15),
    "": ("", lambda v: v),
}


def normalised(value, unit):
    """(value, unit) in the units the Metering elements use; ValueError for an unknown unit."""
    try:
        name, convert = _UNITS[(unit or "").strip().lower()]
    except KeyError:
        raise ValueError(f"unknown unit {unit!r}") from None
    return convert(value), name


def number(sample):
    """The numeric value of a sampledValue; Unreadable if it has none."""
    if (sample.get("format") or "Raw") == "SignedData":
        raise Unreadable("signed data")
    text = str(sample.get("value", "")).strip()
    if not text:
        raise Unreadable("empty value")
    try:
        value = float(text)
    except ValueError:
        raise Unreadable(f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise Unreadable(f"not a finite number: {text[:40]!r}")
    return value


def _rank(sample):
    return (CONTEXT_RANK.get(sample.get("context") or "Sample.Periodic", 2), LOCATION_RANK.get(sample.get("location") or "Outlet", 0))


def _total(measurand, unphased, phases):
    """The total of a measurand from its unphased value and its per-phase values."""
    if unphased is not None:
        return unphased
    if len(phases) == 1:
        return next(iter(phases.values()))
    if measurand.startswith(SUMMED):
        return sum(phases.values())
    return sum(phases.values()) / len(phases)


def read(meter_value):
    """A Reading of one meterValue ({timestamp, sampledValue: [...]})."""
    reading = Reading(str(meter_value.get("timestamp", "")))
    chosen = {}  # measurand -> (rank, context, location, [samples of that rank])
    for sample in meter_value.get("sampledValue") or []:
        if not isinstance(sample, dict):
            reading.skipped += 1
            continue
        measurand = sample.get("measurand") or DEFAULT_MEASURAND
        rank = _rank(sample)
        best = chosen.get(measurand)
        if best is None or rank > best[0]:
            chosen[measurand] = (rank, [sample])
        elif rank == best[0]:
            best[1].append(sample)
    for measurand, (_rank_, samples) in chosen.items():
        quantity, skipped = _quantity(measurand, samples)
        reading.skipped += skipped
        if quantity is not None:
            reading.quantities[measurand] = quantity
    return reading


def _quantity(measurand, samples):
    """(Quantity or None, how many samples were skipped) from samples of one rank."""
    unphased, phases, skipped, unit, labelled = None, {}, 0, "", ""
    for sample in samples:
        label = sample.get("unit") or base_unit(measurand)
        try:
            value, unit = normalised(number(sample), label)
            labelled = labelled or label.strip().lower()
        except (Unreadable, ValueError):
            skipped += 1
            continue
        phase = sample.get("phase") or ""
        if not phase:
            unphased = value
        elif phase == "N":
            continue  # the neutral: neither summed nor averaged
        elif measurand == "Voltage" and phase in LINE_TO_LINE:
            phases.setdefault(LINE_TO_LINE[phase], value / math.sqrt(3))
        elif phase in LINE_TO_NEUTRAL:
            phases[LINE_TO_NEUTRAL[phase]] = value
        else:
            skipped += 1
    if unphased is None and not phases:
        return None, skipped
    first = samples[0]
    total = _total(measurand, unphased, phases)
    return Quantity(total, unit, phases, first.get("context") or "Sample.Periodic", first.get("location") or "Outlet", labelled), skipped
