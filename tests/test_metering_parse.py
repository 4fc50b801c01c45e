"""MeterValues parsing (datapoints/metering/parse.py): defaults, units, phases, skipped values and
which reading wins, on the quirks real chargers send."""
import math

import pytest

from datapoints.metering.parse import read


def mv(*samples, timestamp="2026-11-21T10:00:00Z"):
    return {"timestamp": timestamp, "sampledValue": list(samples)}


def test_a_bare_value_is_the_energy_register_in_wh():
    reading = read(mv({"value": "12345"}))
    q = reading.quantities["Energy.Active.Import.Register"]
    assert (q.value, q.unit, q.context, q.location) == (12.345, "kWh", "Sample.Periodic", "Outlet")
    assert reading.timestamp == "2026-11-21T10:00:00Z"


@pytest.mark.parametrize(
    "measurand, value, unit, expected",
    [
        ("Power.Active.Import", "7200", None, (7.2, "kW")),  # a bare power value is watts
        ("Power.Active.Import", "7.2", "kW", (7.2, "kW")),
        ("Power.Active.Import", "7200", "w", (7.2, "kW")),  # units compared case-insensitively
        ("Energy.Reactive.Import.Register", "1500", "varh", (1.5, "kvarh")),
        ("Energy.Active.Import.Register", "3.5", "KWH", (3.5, "kWh")),
        ("Temperature", "98.6", "Fahrenheit", (37.0, "°C")),
        ("Temperature", "300.15", "K", (27.0, "°C")),
        ("Temperature", "31", "Celcius", (31.0, "°C")),  # the 1.6 schema's own spelling
        ("Temperature", "31", None, (31.0, "°C")),
        ("SoC", "80", "Percent", (80.0, "%")),
        ("SoC", "80", None, (80.0, "%")),
        ("Frequency", "50.01", None, (50.01, "Hz")),
        ("Current.Offered", "16", None, (16.0, "A")),
        ("Power.Factor", "0.98", None, (0.98, "")),
    ],
)
def test_units_are_normalised(measurand, value, unit, expected):
    sample = {"value": value, "measurand": measurand}
    if unit:
        sample["unit"] = unit
    q = read(mv(sample)).quantities[measurand]
    assert (round(q.value, 6), q.unit) == expected


def test_power_and_energy_are_summed_over_the_phases_without_n():
    q = read(mv(*({"value": v, "measurand": "Power.Active.Import", "phase": p, "unit": "W"} for p, v in (("L1", "2300"), ("L2", "2200"), ("L3", "2100"), ("N", "40"))))).quantities["Power.Active.Import"]
    assert (round(q.value, 3), q.phases) == (6.6, {"L1": 2.3, "L2": 2.2, "L3": 2.1})


def test_current_is_averaged_over_the_phases_that_carry_it():
    q = read(mv(*({"value": v, "measurand": "Current.Import", "phase": p, "unit": "A"} for p, v in (("L1", "16"), ("L2", "15"), ("N", "1"))))).quantities["Current.Import"]
    assert (q.value, q.phases) == (15.5, {"L1": 16.0, "L2": 15.0})


def test_voltage_line_to_line_is_divided_by_root_three_and_line_to_neutral_wins():
    ll = read(mv(*({"value": "400", "measurand": "Voltage", "phase": p} for p in ("L1-L2", "L2-L3", "L3-L1")))).quantities["Voltage"]
    assert math.isclose(ll.value, 400 / math.sqrt(3))
    both = read(mv({"value": "400", "measurand": "Voltage", "phase": "L1-L2"}, {"value": "231", "measurand": "Voltage", "phase": "L1-N"})).quantities["Voltage"]
    assert both.value == 231.0


def test_a_lone_phase_value_is_the_total_and_an_unphased_value_wins():
    assert read(mv({"value": "3680", "measurand": "Power.Active.Import", "phase": "L2"})).quantities["Power.Active.Import"].value == 3.68
    mixed = read(mv({"value": "11000", "measurand": "Power.Active.Import"}, {"value": "3600", "measurand": "Power.Active.Import", "phase": "L1"}))
    assert mixed.quantities["Power.Active.Import"].value == 11.0


def test_empty_signed_and_non_numeric_values_are_skipped_and_counted_never_zero():
    reading = read(mv(
        {"value": "", "measurand": "Power.Active.Import"},
        {"value": "ab12cd", "format": "SignedData"},
        {"value": "n/a", "measurand": "Voltage"},
        {"value": "NaN", "measurand": "SoC"},
        {"value": "5", "measurand": "Current.Import", "unit": "furlongs"},
    ))
    assert reading.quantities == {} and reading.skipped == 5


def test_transaction_begin_does_not_override_a_periodic_reading_and_end_wins():
    begin_first = read(mv({"value": "0", "context": "Transaction.Begin"}, {"value": "52000", "context": "Sample.Periodic"}))
    assert begin_first.quantities["Energy.Active.Import.Register"].value == 52.0
    periodic_first = read(mv({"value": "52000"}, {"value": "0", "context": "Transaction.Begin"}))
    assert periodic_first.quantities["Energy.Active.Import.Register"].value == 52.0
    end = read(mv({"value": "52000", "context": "Sample.Clock"}, {"value": "53000", "context": "Transaction.End"}, {"value": "52500"}))
    q = end.quantities["Energy.Active.Import.Register"]
    assert (q.value, q.context) == (53.0, "Transaction.End")
    clock = read(mv({"value": "1000", "context": "Sample.Clock"}, {"value": "2000", "context": "Trigger"}))
    assert clock.quantities["Energy.Active.Import.Register"].value == 1.0


def test_outlet_readings_win_over_other_locations_and_malformed_samples_are_counted():
    reading = read(mv({"value": "35", "measurand": "Temperature", "location": "Body"}, {"value": "41", "measurand": "Temperature", "location": "Outlet"}, "junk"))
    assert reading.quantities["Temperature"].value == 41.0 and reading.skipped == 1
    assert read({"sampledValue": None}).quantities == {}
