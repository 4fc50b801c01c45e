"""Scheduled commands: a ScheduledCommand names what to send and to whom; a django-celery-beat
PeriodicTask says when (a ClockedSchedule for one time, a CrontabSchedule for a cron); Celery beat
fires `datapoints.tasks.run_scheduled_command`, and a worker sends the command to every target at
once and keeps a ScheduledRun with one ScheduledOutcome per charger.
"""
import json
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from .commands import check_command, run_sync, send_to_many
from .models import ScheduledCommand, ScheduledOutcome, ScheduledRun

TASK = "datapoints.tasks.run_scheduled_command"
NOW = "{now}"  # in a payload: replaced by the time of each run (ISO 8601, UTC), e.g. startSchedule


class ScheduleError(ValueError):
    pass


def parse_cron(text):
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(f"a cron has 5 fields, 'minute hour day-of-month month day-of-week' (e.g. '0 16 * * *'); got {text!r}")
    return dict(zip(("minute", "hour", "day_of_month", "month_of_year", "day_of_week"), fields))


@transaction.atomic
def create_schedule(name, action, payload, charge_points=(), all_accepted=False, at=None, cron=None, timeout=30):
    """Create a ScheduledCommand and its PeriodicTask; `at` (aware datetime) or `cron` (5 fields)."""
    check_command(action, render(payload, timezone.now()))
    if (at is None) == (cron is None):
        raise ScheduleError("give a time (--at) or a cron (--cron), not both")
    if not all_accepted and not charge_points:
        raise ScheduleError("name the charge points, or choose every accepted one (--all)")
    if ScheduledCommand.objects.filter(name=name).exists():
        raise ScheduleError(f"a schedule named {name!r} exists; choose another --name")
    command = ScheduledCommand.objects.create(name=name, action=action, payload=payload, all_accepted=all_accepted, timeout=timeout)
    command.charge_points.set(charge_points)
    task = PeriodicTask(name=f"ocpp: {name}", task=TASK, kwargs=json.dumps({"scheduled_command_id": command.id}))
    if at is not None:
        task.clocked = ClockedSchedule.objects.create(clocked_time=at)
        task.one_off = True
    else:
        try:
            task.crontab, _ = CrontabSchedule.objects.get_or_create(timezone=settings.CELERY_TIMEZONE, **parse_cron(cron))
        except ValueError as exc:
            raise ScheduleError(f"bad cron {cron!r}: {exc}") from None
    task.save()
    command.periodic_task = task
    command.save(update_fields=["periodic_task"])
    return command


def run_scheduled(scheduled_command_id):
    """Send the command to every target now; keep the run and each outcome. Returns the run."""
    command = ScheduledCommand.objects.get(pk=scheduled_command_id)
    targets = list(command.targets())
    run = ScheduledRun.objects.create(command=command, started_at=timezone.now(), targets=len(targets))
    results = run_sync(send_to_many, targets, command.action, render(command.payload, run.started_at), command.timeout)
    ScheduledOutcome.objects.bulk_create(
        ScheduledOutcome(run=run, charge_point=dp, status=outcome.status, response=outcome.response, error=_error_text(outcome)) for dp, outcome in results
    )
    run.answered = sum(1 for _dp, outcome in results if outcome.status == "answered")
    run.finished_at = timezone.now()
    run.save(update_fields=["answered", "finished_at"])
    return run


def render(payload, now):
    """The payload with every "{now}" string replaced by `now`."""
    if payload == NOW:
        return now.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(payload, dict):
        return {key: render(value, now) for key, value in payload.items()}
    if isinstance(payload, list):
        return [render(value, now) for value in payload]
    return payload


def _error_text(outcome):
    if outcome.status == "answered":
        return ""
    return f"{outcome.error_code}: {outcome.error}" if outcome.error_code else outcome.error
