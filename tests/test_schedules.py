"""Scheduled commands: the ocpp_schedule CLI, the stored timing, and a run with its outcomes.
(Celery beat and a worker firing a schedule: tests/test_nodes.py, on Redis.)"""
import asyncio
import io
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from datapoints.models import AuditEntry, ScheduledCommand
from datapoints.schedules import run_scheduled

from .chargers import CommandCharger, connected_library_charger, create_charge_point, dp_get

pytestmark = pytest.mark.django_db(transaction=True)
# The peak-hours rule (README): at 16:00 every day, at most 8 A for two hours on every accepted charger.
PEAK = (
    '{"connectorId": 0, "csChargingProfiles": {"chargingProfileId": 1600, "stackLevel": 1, '
    '"chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Absolute", '
    '"chargingSchedule": {"startSchedule": "{now}", "duration": 7200, "chargingRateUnit": "A", '
    '"chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}]}}}'
)


def schedule(*args):
    out = io.StringIO()
    call_command("ocpp_schedule", *args, stdout=out)
    return out.getvalue().strip()


def test_peak_hours_example_is_a_daily_cron_on_every_accepted_charger():
    printed = schedule("--all", "SetChargingProfile", PEAK, "--cron", "0 16 * * *", "--name", "peak hours")
    assert printed.startswith("scheduled 'peak hours'")
    command = ScheduledCommand.objects.get(name="peak hours")
    assert command.all_accepted and command.action == "SetChargingProfile"
    task = PeriodicTask.objects.get(pk=command.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "16", "*")
    assert task.task == "datapoints.tasks.run_scheduled_command" and task.enabled and not task.one_off


def test_one_time_schedule_and_errors():
    call_command("dp_create", "sched-1", "--status", "Accepted", stdout=io.StringIO())
    schedule("sched-1", "Reset", '{"type": "Soft"}', "--at", "2036-11-22T03:00:00+00:00", "--name", "night reset")
    task = ScheduledCommand.objects.get(name="night reset").periodic_task
    assert task.one_off and task.clocked.clocked_time.isoformat() == "2036-11-22T03:00:00+00:00"
    with pytest.raises(CommandError, match="not both"):
        schedule("sched-1", "Reset", '{"type": "Soft"}', "--at", "2036-11-22T03:00:00Z", "--cron", "0 3 * * *")
    with pytest.raises(CommandError, match="a cron has 5 fields"):
        schedule("sched-1", "Reset", '{"type": "Soft"}', "--cron", "0 3 * *")
    with pytest.raises(CommandError, match="schema"):
        schedule("sched-1", "Reset", '{"type": "Now"}', "--cron", "0 3 * * *")
    with pytest.raises(CommandError, match="no charge point"):
        schedule("nobody", "Reset", '{"type": "Soft"}', "--cron", "0 3 * * *")
    with pytest.raises(CommandError, match="has passed"):
        schedule("sched-1", "Reset", '{"type": "Soft"}', "--at", "2020-01-01T03:00:00Z", "--name", "too late")
    with pytest.raises(CommandError, match="exists"):
        schedule("sched-1", "Reset", '{"type": "Soft"}', "--at", "2036-11-22T03:00:00Z", "--name", "night reset")
    assert ScheduledCommand.objects.count() == 1
    audited = list(AuditEntry.objects.filter(action="schedule_create").order_by("at").values_list("ok", flat=True))
    assert audited == [True, False, False, False, False, False]  # the one made, then five refused (an unknown charger is refused before)


async def test_a_run_keeps_each_chargers_outcome(server):
    online = await create_charge_point("sched-on", "Accepted")
    offline = await create_charge_point("sched-off", "Accepted")
    await create_charge_point("sched-pending", "Pending")  # not a target of --all
    await sync_to_async(schedule)("--all", "GetLocalListVersion", "{}", "--cron", "*/5 * * * *", "--name", "lists", "--timeout", "5")
    command = await ScheduledCommand.objects.aget(name="lists")
    async with connected_library_charger(server, "sched-on", charger_class=CommandCharger) as cp:
        await cp.boot()
        run = await asyncio.to_thread(run_scheduled, command.id)
        assert cp.received == [("GetLocalListVersion", {})]
    outcomes = {o.charge_point.name: o async for o in run.outcomes.select_related("charge_point")}
    assert set(outcomes) == {online, offline}
    assert outcomes[online].status == "answered" and outcomes[online].response == {"listVersion": 5}
    assert outcomes[offline].status == "offline" and "not connected" in outcomes[offline].error
    assert (run.targets, run.answered, run.failed) == (2, 1, 1)
    assert await dp_get(f"{online}.State.LocalListVersion") == 5


async def test_peak_hours_run_sends_8_amps_starting_now(server):
    from django.utils import timezone

    name = await create_charge_point("sched-peak", "Accepted")
    await sync_to_async(schedule)("--all", "SetChargingProfile", PEAK, "--cron", "0 16 * * *", "--name", "peak")
    command = await ScheduledCommand.objects.aget(name="peak")
    async with connected_library_charger(server, "sched-peak", charger_class=CommandCharger) as cp:
        await cp.boot()
        before = timezone.now()
        run = await asyncio.to_thread(run_scheduled, command.id)
    (action, request), = cp.received
    schedule_sent = request["cs_charging_profiles"]["charging_schedule"]
    assert action == "SetChargingProfile" and schedule_sent["charging_schedule_period"] == [{"start_period": 0, "limit": 8.0}]
    started = datetime.fromisoformat(schedule_sent["start_schedule"])
    assert before - timedelta(seconds=1) <= started <= timezone.now()
    assert run.answered == 1 and await dp_get(f"{name}.Commands.SetChargingProfile.Response") == {"status": "Accepted"}


def test_a_run_of_a_schedule_deleted_meanwhile_is_skipped():
    from datapoints.tasks import run_scheduled_command

    assert run_scheduled_command.run(987654) == {"targets": 0, "answered": 0, "skipped": "deleted"}
