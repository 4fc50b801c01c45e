"""Retention (datapoints/retention.py): old samples folded into per-minute rollups with the right
numbers, in batches, across batch and run boundaries; legacy rows judged by the charger's time;
Metering.* history and old rollups pruned; two pruners never fold the same rows (PostgreSQL);
`manage.py metering_prune` prints its progress."""
import io
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from datapoints import retention
from datapoints.charge_points import find_charge_point
from datapoints.models import ElementChange, MeterRollup, MeterSample
from datapoints.writes import ref, write_elements

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=dt_timezone.utc)
OLD = NOW - timedelta(days=100)  # older than the default 90 days
MINUTE = OLD.replace(second=0, microsecond=0)


def _cp(client_id="ret-1"):
    call_command("dp_create", client_id, "--status", "Accepted", stdout=io.StringIO())
    return find_charge_point(client_id)


def _sample(cp, at, value, measurand="Power.Active.Import", unit="kW", phase="", connector_id=1, received=True, timestamp=None, number=True):
    return MeterSample(
        charge_point=cp, connector_id=connector_id, timestamp=timestamp if timestamp is not None else at.isoformat().replace("+00:00", "Z"),
        measurand=measurand, phase=phase, unit=unit, value=str(value), value_number=float(value) if number else None,
        received_at=at if received else None,
    )


def _rollups():
    return {
        (r.connector_id, r.minute, r.measurand, r.phase, r.unit): (r.count, r.minimum, r.maximum, round(r.mean, 6), r.last)
        for r in MeterRollup.objects.all()
    }


def test_old_samples_become_per_minute_rollups_with_the_right_numbers():
    cp = _cp()
    rows = [
        _sample(cp, MINUTE + timedelta(seconds=5), 7.0),
        _sample(cp, MINUTE + timedelta(seconds=35), 11.0),
        _sample(cp, MINUTE + timedelta(seconds=50), 3.0),  # the last in its minute
        _sample(cp, MINUTE + timedelta(seconds=20), 16.0, "Current.Import", "A", "L1"),
        _sample(cp, MINUTE + timedelta(seconds=20), 15.0, "Current.Import", "A", "L2"),
        _sample(cp, MINUTE + timedelta(minutes=1, seconds=1), 9.0),  # the next minute
        _sample(cp, MINUTE + timedelta(seconds=10), 2.0, connector_id=2),
        _sample(cp, MINUTE + timedelta(seconds=12), "sig", "Energy.Active.Import.Register", "Wh", number=False),  # SignedData: no number
        _sample(cp, NOW - timedelta(days=10), 5.0),  # young: kept raw
    ]
    MeterSample.objects.bulk_create(rows)
    report = retention.prune(now=NOW)
    assert _rollups() == {
        (1, MINUTE, "Power.Active.Import", "", "kW"): (3, 3.0, 11.0, 7.0, 3.0),
        (1, MINUTE, "Current.Import", "L1", "A"): (1, 16.0, 16.0, 16.0, 16.0),
        (1, MINUTE, "Current.Import", "L2", "A"): (1, 15.0, 15.0, 15.0, 15.0),
        (1, MINUTE + timedelta(minutes=1), "Power.Active.Import", "", "kW"): (1, 9.0, 9.0, 9.0, 9.0),
        (2, MINUTE, "Power.Active.Import", "", "kW"): (1, 2.0, 2.0, 2.0, 2.0),
    }
    assert (report["deleted"], report["rolled_up"], report["rollups"]) == (8, 7, 5)
    assert list(MeterSample.objects.values_list("value_number", flat=True)) == [5.0]


def test_a_minute_cut_across_batches_and_runs_is_merged():
    cp = _cp()
    values = [4.0, 8.0, 6.0, 2.0, 10.0, 0.0, 12.0]
    MeterSample.objects.bulk_create([_sample(cp, MINUTE + timedelta(seconds=i), v) for i, v in enumerate(values)])
    progress = []
    report = retention.prune(now=NOW, batch=3, progress=progress.append)  # batches of 3, 3 and 1
    assert _rollups() == {(1, MINUTE, "Power.Active.Import", "", "kW"): (7, 0.0, 12.0, 6.0, 12.0)}
    assert report["deleted"] == 7 and report["rollups"] == 3  # written once, merged twice
    assert [p for p in progress if p.startswith("samples:")] == [
        "samples: 3 deleted, 3 rolled up into 1 rollup writes",
        "samples: 6 deleted, 6 rolled up into 2 rollup writes",
        "samples: 7 deleted, 7 rolled up into 3 rollup writes",
    ]
    # A later run with more rows of the same minute (they arrived late) merges again.
    MeterSample.objects.bulk_create([_sample(cp, MINUTE + timedelta(seconds=59), 20.0)])
    retention.prune(now=NOW)
    assert _rollups() == {(1, MINUTE, "Power.Active.Import", "", "kW"): (8, 0.0, 20.0, 7.75, 20.0)}


def test_rows_without_received_at_are_judged_by_the_charger_time_or_left_alone():
    cp = _cp()
    MeterSample.objects.bulk_create([
        _sample(cp, MINUTE, 1.0, received=False),  # old by its own time: rolled up
        _sample(cp, MINUTE, 2.0, received=False, timestamp=(MINUTE + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")),  # the same minute, written with an offset
        _sample(cp, NOW - timedelta(days=1), 3.0, received=False),  # young by its own time: kept
        _sample(cp, MINUTE, 4.0, received=False, timestamp="yesterday"),  # unreadable: kept
    ])
    report = retention.prune(now=NOW)
    assert _rollups() == {(1, MINUTE, "Power.Active.Import", "", "kW"): (2, 1.0, 2.0, 1.5, 2.0)}
    assert sorted(MeterSample.objects.values_list("value_number", flat=True)) == [3.0, 4.0]
    assert report["kept"] == 1


def test_metering_history_and_old_rollups_are_pruned_and_the_command_prints_progress():
    cp = _cp()
    dp = ref(cp)
    for when, value in ((NOW - timedelta(days=95), 1.0), (NOW - timedelta(days=5), 2.0)):
        write_elements([(dp, "Metering.Power.Active.Import", value), (dp, "Config.Description", f"d{value}")], when)
    MeterRollup.objects.bulk_create([
        MeterRollup(charge_point=cp, connector_id=1, minute=NOW - timedelta(days=800), measurand="Voltage", unit="V", count=1, minimum=1, maximum=1, mean=1, last=1),
        MeterRollup(charge_point=cp, connector_id=1, minute=NOW - timedelta(days=700), measurand="Voltage", unit="V", count=1, minimum=2, maximum=2, mean=2, last=2),
    ])
    MeterSample.objects.bulk_create([_sample(cp, OLD + timedelta(seconds=i), i) for i in range(5)])
    out = io.StringIO()
    call_command("metering_prune", "--batch", "2", stdout=out)
    text = out.getvalue()
    assert "samples: 2 deleted" in text and "samples: 5 deleted" in text
    assert "Metering.* history: 1 deleted" in text and "rollups: 1 deleted" in text
    assert text.strip().splitlines()[-1] == "done: changes 1, deleted 5, rolled_up 5, rollups 3, rollups_deleted 1"
    history = sorted(ElementChange.objects.filter(datapoint=cp, path__in=["Metering.Power.Active.Import", "Config.Description"]).values_list("path", "value"))
    assert history == [("Config.Description", "d1.0"), ("Config.Description", "d2.0"), ("Metering.Power.Active.Import", 2.0)]
    # the 700-day rollup stays; the 800-day one went; the five samples became one (0..4)
    assert list(MeterRollup.objects.order_by("minute").values_list("count", "last")) == [(1, 2.0), (5, 4.0)]


def test_the_command_refuses_bad_numbers():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch must be 1 or more"):
        call_command("metering_prune", "--batch", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--days and --rollup-days must be 0 or more"):
        call_command("metering_prune", "--days", "-1", stdout=io.StringIO())


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the advisory lock is PostgreSQL's")
def test_a_second_pruner_stops_while_one_holds_the_lock():
    cp = _cp()
    MeterSample.objects.bulk_create([_sample(cp, OLD + timedelta(seconds=i), i) for i in range(4)])
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                assert retention._locked()
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        progress = []
        report = retention.prune(now=NOW, progress=progress.append)
        assert report["deleted"] == 0 and "another process is pruning; stopped" in progress
        assert MeterSample.objects.count() == 4
    finally:
        release.set()
        holder.join(10)
    assert retention.prune(now=NOW)["deleted"] == 4


def test_celery_beat_runs_the_prune_and_the_offline_check(settings):
    from datapoints import tasks

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["datapoints.tasks.prune_meter_samples"] == 3600.0
    assert schedule["datapoints.tasks.check_offline_alarms"] == 60.0
    cp = _cp()
    MeterSample.objects.bulk_create([_sample(cp, timezone.now() - timedelta(days=settings.OCPP_SAMPLE_DAYS + 1), 1.0)])
    assert tasks.prune_meter_samples()["deleted"] == 1  # the task as the worker runs it, with the settings' days
    assert tasks.check_offline_alarms() == (0, 0)
