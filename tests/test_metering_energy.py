"""datapoints/metering/energy.py's bookkeeping alone, for the cases a session through Daphne does
not reach cheaply: a jump in scale, a bucket that has passed, a rescale by the unit override."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from datapoints.metering import energy

UTC = timezone.utc


def at(text):
    return datetime.fromisoformat(text).timestamp()


def test_a_rise_no_meter_could_count_is_rebased_not_booked():
    state = energy.new_state()
    energy.register_reading(state, 5.0)
    state["at"] = at("2026-11-21T10:00:00+00:00")
    step = energy.register_reading(state, 5000.0, at=at("2026-11-21T10:01:00+00:00"))  # 5 MWh in a minute
    assert (step.delta, step.events) == (0.0, ["jump"])
    assert energy.corrected(state) == 5.0  # the corrected register goes on from where it was
    step = energy.register_reading(state, 5000.5, at=at("2026-11-21T10:02:00+00:00"))
    assert step.delta == 0.5 and energy.corrected(state) == 5.5


def test_a_reading_of_a_passed_bucket_leaves_the_current_one_alone():
    state, berlin = energy.new_state(), ZoneInfo("Europe/Berlin")
    energy.book(state, 2.0, at("2026-11-02T08:00:00+00:00"), berlin)
    energy.book(state, 1.0, at("2026-11-01T08:00:00+00:00"), berlin)  # a day (and ISO week) that has passed
    assert state["totals"] == {"day": 2.0, "week": 2.0, "month": 3.0}  # ... but still this month
    assert energy.totals_at(state, at("2026-11-03T08:00:00+00:00"), berlin) == {"day": 0.0, "week": 2.0, "month": 3.0}


def test_rescale_turns_every_figure_into_the_corrected_unit():
    state = energy.new_state()
    energy.register_reading(state, 12.0)
    energy.start_session(state, 7, 12.0, "2026-11-21T10:00:00Z")
    energy.session_reading(state, 12.0012, at("2026-11-21T10:10:00+00:00"))
    energy.book(state, 0.0012, at("2026-11-21T10:10:00+00:00"), UTC)
    energy.rescale(state, 1000.0)
    assert round(energy.corrected(state), 6) == 12001.2
    assert round(state["tx"]["energy"], 6) == 1.2 and round(state["totals"]["day"], 6) == 1.2


def test_meter_stop_below_meter_start_without_readings_is_clamped_not_per_session():
    state = energy.new_state()
    energy.start_session(state, 1, 50.0, "2026-11-21T10:00:00Z")
    assert energy.final_energy(state, 49.0, at("2026-11-21T10:30:00+00:00")) == 0.0
    assert state["tx"]["flags"] == ["negative_clamped"]
