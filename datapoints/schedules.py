"""Scheduled commands: a ScheduledCommand names what to send and to whom; a django-celery-beat
PeriodicTask says when (a ClockedSchedule for one time, a CrontabSchedule for a cron); Celery beat
fires `datapoints.tasks.run_scheduled_command`, and a worker sends the command to every target at
once and keeps a ScheduledRun with one ScheduledOutcome per charger.
"""
import json
import zoneinfo
from datetime import timezone as dt_timezone

from celery.schedules import crontab
from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from . import access, audit
from .commands import CommandRefused, check_command, refuse_unstorable, run_sync, send_to_many
from .models import ScheduledCommand, ScheduledOutcome, ScheduledRun

TASK = "datapoints.tasks.run_scheduled_command"
NOW = "{now}"  # in a payload: replaced by the time of each run (ISO 8601, UTC), e.g. startSchedule


class ScheduleError(ValueError):
    """What was wrong, said so that the operator knows what to type instead."""


CRON_FORMAT = "a cron has 5 fields, 'minute hour day-of-month month day-of-week' (e.g. '0 16 * * *': every day at 16:00)"
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def parse_cron(text):
    """{CrontabSchedule field: value} of a 5-field cron, checked the way Celery beat will read it."""
    fields = (text or "").split()
    if len(fields) != 5:
        raise ScheduleError(f"{CRON_FORMAT}; got {text!r}")
    parsed = dict(zip(CRON_FIELDS, fields))
    try:
        crontab(**parsed)
    except ValueError as exc:
        raise ScheduleError(f"bad cron {text!r}: {exc} ({CRON_FORMAT})") from None
    return parsed


def check_timing(at=None, cron=None, future_after=None):
    """Exactly one of a time and a cron; with `future_after` (now), the time must be later."""
    if (at is None) == (not cron):
        raise ScheduleError("give a time or a cron, not both" if at is not None else "give a time (one run) or a cron (runs again and again)")
    if cron:
        parse_cron(cron)
    elif future_after is not None and at <= future_after:
        raise ScheduleError(f"{_local(at):%Y-%m-%d %H:%M} ({settings.TIME_ZONE}) has passed; choose a later time")


def check_payload(action, payload):
    """CommandRefused unless `payload` is a valid `action` once its "{now}" strings are filled in
    (checked for NUL, 64 bits and nesting first: render walks it recursively)."""
    refuse_unstorable(payload)
    check_command(action, render(payload, timezone.now()))


def check_name(name, exclude=None):
    """`exclude`: the primary key of the schedule being changed (it may keep its name)."""
    if not name:
        raise ScheduleError("give the schedule a name")
    if ScheduledCommand.objects.filter(name=name).exclude(pk=exclude).exists():
        raise ScheduleError(f"a schedule named {name!r} exists; choose another name")


def check_new(name, action, payload, charge_points=(), all_accepted=False, at=None, cron=None):
    """Everything a schedule must satisfy before it is stored (CommandRefused for the payload)."""
    check_payload(action, payload)
    check_timing(at, cron)
    if not all_accepted and not charge_points:
        raise ScheduleError("name the charge points, or choose every accepted one")
    check_name(name)


@transaction.atomic
def create_schedule(name, action, payload, charge_points=(), all_accepted=False, at=None, cron=None, timeout=30):
    """Create a ScheduledCommand and its PeriodicTask; `at` (aware datetime) or `cron` (5 fields)."""
    check_new(name, action, payload, charge_points, all_accepted, at, cron)
    command = ScheduledCommand.objects.create(name=name, action=action, payload=payload, all_accepted=all_accepted, timeout=timeout)
    command.charge_points.set(charge_points)
    set_timing(command, at=at, cron=cron)
    return command


@transaction.atomic
def set_timing(command, at=None, cron=None, enabled=None):
    """Create or update the command's PeriodicTask: its name, its time (a ClockedSchedule, one run)
    or cron (a CrontabSchedule in TIME_ZONE), and with `enabled` given, paused or active."""
    check_timing(at, cron)
    task = command.periodic_task
    if task is None:
        # A task left behind by a schedule deleted without this module would block the name.
        PeriodicTask.objects.filter(name=_task_name(command), scheduledcommand__isnull=True).delete()
        task = PeriodicTask(task=TASK)
    old_clocked = task.clocked
    task.name = _task_name(command)
    task.kwargs = json.dumps({"scheduled_command_id": command.id})
    if at is not None:
        if task.clocked is None or task.clocked.clocked_time != at:
            task.clocked = ClockedSchedule.objects.create(clocked_time=at)
            task.total_run_count = 0  # a one-off that ran is due again at its new time
        task.crontab, task.one_off = None, True
    else:
        task.crontab, _ = CrontabSchedule.objects.get_or_create(timezone=settings.CELERY_TIMEZONE, **parse_cron(cron))
        task.clocked, task.one_off = None, False
    if enabled is not None:
        task.enabled = enabled
    task.save()
    _drop_unused_clock(old_clocked, task)
    if command.periodic_task_id != task.id:
        command.periodic_task = task
        command.save(update_fields=["periodic_task"])
    return task


def pause_schedule(command):
    """Stop the schedule from firing (PeriodicTask.enabled off); it keeps its runs."""
    task = _task(command)
    if not task.enabled:
        raise ScheduleError(f"{command.name!r} is paused already")
    task.enabled = False
    task.save()
    return task


def resume_schedule(command, now=None):
    """Let a paused schedule fire again. A one-time schedule whose time has passed would fire at
    once, so it is refused: give it a new time instead."""
    task = _task(command)
    if task.enabled:
        raise ScheduleError(f"{command.name!r} is active already")
    if task.clocked is not None and task.clocked.clocked_time <= (now or timezone.now()):
        raise ScheduleError(
            f"the one time of {command.name!r}, {_local(task.clocked.clocked_time):%Y-%m-%d %H:%M} ({settings.TIME_ZONE}), has passed; "
            "make a new schedule (or give this one a new time in the admin)"
        )
    task.enabled = True
    task.save()
    return task


@transaction.atomic
def delete_schedule(command):
    """Delete the schedule with its runs, its PeriodicTask and (one time) its ClockedSchedule."""
    task = command.periodic_task
    command.delete()
    if task is not None:
        clocked = task.clocked
        task.delete()
        _drop_unused_clock(clocked)


def timing(command):
    """{"kind": "once"|"cron"|None, "at": datetime in TIME_ZONE, "cron": text, "text": for people}."""
    task = command.periodic_task
    if task is not None and task.clocked is not None:
        at = _local(task.clocked.clocked_time)
        return {"kind": "once", "at": at, "cron": "", "text": f"once at {at:%Y-%m-%d %H:%M} ({settings.TIME_ZONE})"}
    if task is not None and task.crontab is not None:
        cron = " ".join(getattr(task.crontab, name) for name in CRON_FIELDS)
        return {"kind": "cron", "at": None, "cron": cron, "text": f"cron {cron} ({task.crontab.timezone})"}
    return {"kind": None, "at": None, "cron": "", "text": "not scheduled"}


def state(command, now=None, ran=None):
    """"active", "paused", "unscheduled" (no PeriodicTask), or for a one-time schedule past its
    time and disabled: "done" (it ran) or "missed" (it was paused at its time). `ran`: whether the
    command has runs, when the caller knows."""
    task = command.periodic_task
    if task is None or (task.clocked is None and task.crontab is None):
        return "unscheduled"
    if task.enabled:
        return "active"
    if task.clocked is not None and task.clocked.clocked_time <= (now or timezone.now()):
        return "done" if (command.runs.exists() if ran is None else ran) else "missed"
    return "paused"


def record(user, action, command=None, ok=True, outcome="", detail=None, name=None, targets=None):
    """An audit entry schedule_create/_change/_pause/_resume/_delete for `command` (or, refused
    before there was one, for the schedule `name`). It goes on the site of the targets when they
    are all on one site, so that site's people read it in the audit log; else on no site
    (superusers read it)."""
    if targets is None:
        targets = [] if command is None or command.all_accepted else list(command.charge_points.select_related("site"))
    site = audit.shared_site(targets)
    base = {} if command is None else {"command": command.action, "when": timing(command)["text"]}
    target = name if name is not None else command.name
    return audit.record(user, action, site=site, target=target[:200], detail={**base, **(detail or {})}, ok=ok, outcome=outcome)


class FormChecks:
    """The checks above as field errors, for the panel's and the admin's schedule forms (fields
    `action`, `payload` (a dict once cleaned) and `cron`)."""

    def cron_used(self):
        return True

    @staticmethod
    def field_check(check, value):
        """`value`, or the ScheduleError of check(value) as the field's error."""
        try:
            check(value)
        except ScheduleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def clean_cron(self):
        cron = " ".join(self.cleaned_data["cron"].split())
        return self.field_check(parse_cron, cron) if cron and self.cron_used() else cron

    def check_payload_field(self, data):
        if "action" in data and "payload" in data:
            try:
                check_payload(data["action"], data["payload"])
            except CommandRefused as exc:
                self.add_error("payload", str(exc))


# --- rights: a schedule may target charge points across sites ----------------------------------
def visible_schedules(user):
    """The schedules `user` sees: every one for a superuser; else those on every accepted charge
    point and those with at least one target the user may see (access.visible_charge_points)."""
    if user.is_superuser:
        return ScheduledCommand.objects.all()
    if not user.is_authenticated:
        return ScheduledCommand.objects.none()
    seen = access.visible_charge_points(user).values("id")
    return ScheduledCommand.objects.filter(Q(all_accepted=True) | Q(charge_points__in=seen)).distinct()


def may_create(user):
    return user.is_authenticated and (user.is_superuser or bool(access.operated_site_ids(user)))


def may_change(user, command, operated=None):
    """Superusers; otherwise an operator of every target's site (never "every accepted one").
    `operated`: access.operated_site_ids(user), when the caller has it already."""
    if user.is_superuser:
        return True
    if not user.is_authenticated or command.all_accepted:
        return False
    targets = list(command.charge_points.all())
    return bool(targets) and not _not_operated(user, targets, operated)


def check_targets(user, charge_points, all_accepted):
    """PermissionError unless `user` may point a schedule at these targets."""
    if all_accepted and not user.is_superuser:
        raise PermissionError("only a superuser may schedule a command on every accepted charge point; tick the charge points instead")
    refused = [dp.client_id for dp in _not_operated(user, charge_points)]
    if refused:
        raise PermissionError(f"you may not send commands to {', '.join(refused)}: ask for the operator role on its site")


def _not_operated(user, charge_points, operated=None):
    """Those of `charge_points` the user may not operate (access.can_operate, in one query)."""
    if user.is_superuser:
        return []
    operated = access.operated_site_ids(user) if operated is None else operated
    return [dp for dp in charge_points if dp.site_id is None or dp.site_id not in operated]


def _task(command):
    if command.periodic_task is None:
        raise ScheduleError(f"{command.name!r} has no time or cron; give it one in the admin")
    return command.periodic_task


def _task_name(command):
    return f"ocpp: {command.name}"


def _drop_unused_clock(clocked, task=None):
    """Delete a one-time schedule's ClockedSchedule once no PeriodicTask uses it."""
    if clocked is not None and (task is None or task.clocked_id != clocked.id) and not PeriodicTask.objects.filter(clocked=clocked).exists():
        clocked.delete()


def _local(when):
    return timezone.localtime(when, zoneinfo.ZoneInfo(settings.TIME_ZONE))


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
