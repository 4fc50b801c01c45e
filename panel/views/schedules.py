"""Scheduled commands at /schedules/: the list, a new schedule, pause, resume, delete, and one
schedule's page with its runs and each charger's outcome. The logic is in datapoints/schedules.py.

Rights: a schedule may target charge points across sites. Anyone logged in sees the schedules with
a target they may see (and those on every accepted charge point); a target they may not see is
counted, never named. Creating needs the operator role on the targets' sites; "every accepted
charge point" is for superusers. Pausing, resuming and deleting need the operator role on every
target's site (superusers: any schedule). Every change, and every refused one, goes to the audit log.
"""
import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from datapoints import access, schedules
from datapoints.command_examples import EXAMPLES
from datapoints.commands import CommandRefused
from datapoints.elements import CSMS_ACTIONS
from datapoints.models import ScheduledCommand, ScheduledRun
from datapoints.periods import range_validator
from datapoints.protocol.results import redacted

from .common import forbidden

RUNS_PER_PAGE = 20
TARGETS_SHOWN = 8  # more targets than this fold away on the list
DEFAULT_ACTION = "Reset"
STATE_TEXT = {
    "active": "active",
    "paused": "paused",
    "done": "done (its one run is over)",
    "missed": "not run (paused at its time)",
    "unscheduled": "no time or cron",
}
OUTCOME_TEXT = {
    "answered": "answered",
    "error": "CALLERROR",
    "invalid": "invalid answer",
    "timeout": "timeout",
    "offline": "offline",
    "refused": "not sent",
}


def example(action):
    """(what the command does, its example payload as indented JSON text)."""
    description, payload = EXAMPLES.get(action, ("", {}))
    return description, json.dumps(payload, indent=2)


class ScheduleForm(schedules.FormChecks, forms.Form):
    name = forms.CharField(max_length=ScheduledCommand._meta.get_field("name").max_length, help_text="e.g. peak hours, night reset")
    action = forms.ChoiceField(label="Command", choices=[(a, a) for a in CSMS_ACTIONS], initial=DEFAULT_ACTION)
    payload = forms.CharField(
        label="Payload (JSON)",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono", "spellcheck": "false"}),
        help_text='A string "{now}" becomes the time of each run (e.g. a charging profile\'s startSchedule).',
    )
    targets = forms.MultipleChoiceField(label="Charge points", required=False, widget=forms.CheckboxSelectMultiple)
    all_accepted = forms.BooleanField(label="every accepted charge point (at the time of each run)", required=False)
    when = forms.ChoiceField(label="When", choices=[("once", "one time"), ("cron", "on a cron")], initial="cron", widget=forms.RadioSelect)
    at = forms.DateTimeField(label="Time", required=False, validators=[range_validator], widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    cron = forms.CharField(label="Cron", required=False, widget=forms.TextInput(attrs={"placeholder": "0 16 * * *", "class": "mono", "spellcheck": "false"}))
    timeout = forms.FloatField(label="Timeout (s)", initial=30, min_value=1, max_value=300, help_text="seconds each charger has to answer")

    def __init__(self, *args, user, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.charge_points = {dp.client_id: dp for dp in targets}
        self.fields["targets"].choices = [(dp.client_id, dp) for dp in targets]
        if not user.is_superuser:
            del self.fields["all_accepted"]
        zone = settings.TIME_ZONE
        self.fields["at"].label = f"Time ({zone})"
        self.fields["cron"].label = f"Cron ({zone})"
        self.fields["cron"].help_text = "5 fields: minute hour day-of-month month day-of-week; e.g. 0 16 * * * is every day at 16:00, */15 * * * 1-5 every quarter hour on weekdays"

    def clean_name(self):
        return self.field_check(schedules.check_name, self.cleaned_data["name"].strip())

    def clean_payload(self):
        text = self.cleaned_data["payload"]
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"not JSON: {exc}. Write a JSON object, e.g. {{\"type\": \"Soft\"}}") from None
        if not isinstance(payload, dict):
            raise forms.ValidationError(f"the payload must be a JSON object {{…}}, not {type(payload).__name__}")
        return payload

    def clean_targets(self):
        return [self.charge_points[client_id] for client_id in self.cleaned_data["targets"]]

    def cron_used(self):
        return self.data.get("when") == "cron"

    def clean(self):
        data = super().clean()
        self.check_payload_field(data)
        if data.get("when") == "once":
            if data.get("at") is None:
                if "at" not in self.errors:
                    self.add_error("at", "choose the date and time of the one run")
            else:
                try:
                    schedules.check_timing(at=data["at"], future_after=timezone.now())
                except schedules.ScheduleError as exc:
                    self.add_error("at", str(exc))
        elif data.get("when") == "cron" and not data.get("cron") and "cron" not in self.errors:
            self.add_error("cron", f"write a cron: {schedules.CRON_FORMAT}")
        if data.get("all_accepted"):
            data["targets"] = []  # every accepted one: the ticks do not count
        elif not data.get("targets") and "targets" not in self.errors:
            self.add_error("targets", "tick at least one charge point" + (", or every accepted charge point" if "all_accepted" in self.fields else ""))
        return data

    def timing(self):
        """{"at": …} or {"cron": …} of the valid form."""
        if self.cleaned_data["when"] == "once":
            return {"at": self.cleaned_data["at"]}
        return {"cron": self.cleaned_data["cron"]}


# --- what a user sees of a schedule ---------------------------------------------------------------
class Shown:
    """A ScheduledCommand as one user sees it: the targets they may see by name, the rest counted."""

    def __init__(self, command, user, visible_ids, operated_ids):
        self.command = command
        self.timing = schedules.timing(command)
        targets = [] if command.all_accepted else list(command.charge_points.all())
        self.targets = sorted((dp for dp in targets if visible_ids is None or dp.id in visible_ids), key=lambda dp: dp.client_id)
        self.hidden = len(targets) - len(self.targets)
        self.state = schedules.state(command, ran=command.last_started is not None)
        self.state_text = STATE_TEXT[self.state]
        self.may_change = schedules.may_change(user, command, operated_ids)

    @property
    def targets_first(self):
        return self.targets[:TARGETS_SHOWN]

    @property
    def targets_more(self):
        return self.targets[TARGETS_SHOWN:]


def _seen(user):
    """(ids of the charge points the user may see, or None for all; ids of the sites they operate)."""
    if user.is_superuser:
        return None, None
    return set(access.visible_charge_points(user).values_list("id", flat=True)), access.operated_site_ids(user)


def _commands(user):
    runs = ScheduledRun.objects.filter(command=OuterRef("pk")).order_by("-started_at")
    return (
        schedules.visible_schedules(user)
        .select_related("periodic_task__crontab", "periodic_task__clocked")
        .prefetch_related("charge_points")
        .annotate(
            last_started=Subquery(runs.values("started_at")[:1]),
            last_answered=Subquery(runs.values("answered")[:1]),
            last_targets=Subquery(runs.values("targets")[:1]),
        )
    )


def _visible_command(request, pk):
    """The schedule, if the user may see it (404 otherwise: it does not exist for them)."""
    command = _commands(request.user).filter(pk=pk).first()
    if command is None:
        raise Http404("no such schedule")
    return Shown(command, request.user, *_seen(request.user))


def _audit(request, action, command, **kwargs):
    schedules.record(request.user, action, command, **kwargs)


# --- the pages ------------------------------------------------------------------------------------
@login_required
def schedule_list(request):
    user = request.user
    seen = _seen(user)
    rows = [Shown(command, user, *seen) for command in _commands(user)]
    return render(request, "panel/schedules.html", {"rows": rows, "may_create": schedules.may_create(user), "zone": settings.TIME_ZONE})


@login_required
def schedule_page(request, pk):
    shown = _visible_command(request, pk)
    visible_ids, _operated = _seen(request.user)
    runs = Paginator(shown.command.runs.prefetch_related("outcomes__charge_point"), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    shown_runs = []
    for run in runs:
        outcomes = list(run.outcomes.all())
        seen = [o for o in outcomes if visible_ids is None or o.charge_point_id in visible_ids]
        shown_runs.append({"run": run, "outcomes": seen, "hidden": len(outcomes) - len(seen)})
    context = {
        "s": shown,
        "payload": json.dumps(shown.command.payload, indent=2),
        "runs": runs,
        "shown_runs": shown_runs,
        "outcome_text": OUTCOME_TEXT,
        "zone": settings.TIME_ZONE,
    }
    return render(request, "panel/schedules_schedule.html", context)


@login_required
def schedule_example(request):
    """The payload text area with the chosen command's example (htmx, when Command changes)."""
    action = request.GET.get("action", DEFAULT_ACTION)
    if action not in CSMS_ACTIONS:
        raise Http404(f"no command {action!r}")
    form = _form(request.user)
    description, payload = example(action)
    form.initial.update(action=action, payload=payload)
    return render(request, "panel/schedules_payload.html", {"form": form, "description": description})


def _targets(user):
    """The charge points the user may schedule commands on (by ClientId)."""
    charge_points = access.visible_charge_points(user).select_related("site").order_by("client_id")
    if not user.is_superuser:
        charge_points = charge_points.filter(site_id__in=access.operated_site_ids(user))
    return list(charge_points)


def _form(user, data=None):
    _description, payload = example(DEFAULT_ACTION)
    return ScheduleForm(data, user=user, targets=_targets(user), initial={"payload": payload})


def _render_form(request, form, status=200, refusal=""):
    action = form["action"].value() or DEFAULT_ACTION
    context = {"form": form, "description": EXAMPLES.get(action, ("",))[0], "refusal": refusal, "zone": settings.TIME_ZONE}
    return render(request, "panel/schedules_new.html", context, status=status)


@login_required
def schedule_create(request):
    user = request.user
    if not schedules.may_create(user):
        return forbidden(request, "Making schedules needs the operator role on a site; you may watch the schedules.")
    if request.method != "POST":
        return _render_form(request, _form(user))
    form = _form(user, request.POST)
    name = request.POST.get("name", "").strip()
    refusal, status = _refused_targets(user, request.POST)
    if refusal:
        _audit(request, "schedule_create", None, ok=False, outcome=refusal, detail={"command": request.POST.get("action", "")}, name=name)
        return _render_form(request, form, status, refusal)
    if form.is_valid():
        data = form.cleaned_data
        try:
            command = schedules.create_schedule(
                data["name"], data["action"], data["payload"], data["targets"], data.get("all_accepted", False), timeout=data["timeout"], **form.timing()
            )
        except (schedules.ScheduleError, CommandRefused) as exc:
            form.add_error(None, str(exc))
        else:
            whom = "every accepted charge point" if command.all_accepted else ", ".join(dp.client_id for dp in data["targets"])
            detail = {"payload": redacted(command.action, command.payload), "targets": whom, "timeout": command.timeout}
            _audit(request, "schedule_create", command, detail=detail, outcome="created")
            messages.success(request, f"Scheduled {command.name!r}: {command.action} on {whom}, {schedules.timing(command)['text']}.")
            return redirect("panel:schedule", pk=command.pk)
    errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
    _audit(request, "schedule_create", None, ok=False, outcome=_errors_text(form), detail={"command": request.POST.get("action", ""), "errors": errors}, name=name)
    return _render_form(request, form, 400)


def _refused_targets(user, data):
    """(why, HTTP status) when the posted targets include one the user may not schedule on."""
    if data.get("all_accepted") and not user.is_superuser:
        return "Only a superuser may schedule a command on every accepted charge point; tick the charge points instead.", 403
    asked = set(data.getlist("targets"))
    if not asked:
        return "", 200
    visible = {dp.client_id: dp for dp in access.visible_charge_points(user).filter(client_id__in=asked)}
    unknown = sorted(asked - set(visible))
    if unknown:  # unknown, or on a site without a right: the same answer, no name confirmed
        return f"No such charge point: {', '.join(unknown)}. Nothing was scheduled.", 404
    try:
        schedules.check_targets(user, list(visible.values()), False)
    except PermissionError as exc:
        return f"Not scheduled: {exc}.", 403
    return "", 200


def _errors_text(form):
    return "; ".join(f"{form.fields[f].label if f in form.fields else 'form'}: {' '.join(errs)}" for f, errs in form.errors.items())


def _changeable(request, pk, action):
    """(the schedule, None), or (None, a 403 response) when the user may not change it (a POST
    refused is recorded in the audit log)."""
    shown = _visible_command(request, pk)
    if shown.may_change:
        return shown, None
    if shown.command.all_accepted:
        why = "only a superuser may change a schedule on every accepted charge point"
    else:
        why = "you may change a schedule only when you are an operator of the sites of all its charge points"
    if request.method == "POST":
        _audit(request, action, shown.command, ok=False, outcome=f"refused: {why}")
    return None, forbidden(request, f"{shown.command.name}: {why}.")


def _switch(request, pk, action, change, done):
    shown, refused = _changeable(request, pk, action)
    if refused:
        return refused
    command = shown.command
    try:
        change(command)
    except schedules.ScheduleError as exc:
        _audit(request, action, command, ok=False, outcome=str(exc))
        messages.error(request, f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    else:
        _audit(request, action, command, outcome=done)
        messages.success(request, f"{command.name!r} is {done}.")
    if request.POST.get("back") == "list":
        return redirect("panel:schedule-list")
    return redirect("panel:schedule", pk=command.pk)


@login_required
@require_POST
def schedule_pause(request, pk):
    return _switch(request, pk, "schedule_pause", schedules.pause_schedule, "paused: it does not run until resumed")


@login_required
@require_POST
def schedule_resume(request, pk):
    return _switch(request, pk, "schedule_resume", schedules.resume_schedule, "active again")


@login_required
def schedule_delete(request, pk):
    """GET: the confirmation; POST: delete the schedule, its runs and its PeriodicTask."""
    shown, refused = _changeable(request, pk, "schedule_delete")
    if refused:
        return refused
    command = shown.command
    if request.method != "POST":
        return render(request, "panel/schedules_delete.html", {"s": shown, "runs": command.runs.count()})
    runs = command.runs.count()
    detail = {"payload": redacted(command.action, command.payload), "runs": runs}
    _audit(request, "schedule_delete", command, detail=detail, outcome=f"deleted with {runs} run(s)")
    schedules.delete_schedule(command)
    messages.success(request, f"{command.name!r} deleted, with its {runs} run(s); it will not run again.")
    return redirect("panel:schedule-list")


urlpatterns = [
    path("schedules/", schedule_list, name="schedule-list"),
    path("schedules/new", schedule_create, name="schedule-create"),
    path("schedules/example", schedule_example, name="schedule-example"),
    path("schedules/<int:pk>/", schedule_page, name="schedule"),
    path("schedules/<int:pk>/pause", schedule_pause, name="schedule-pause"),
    path("schedules/<int:pk>/resume", schedule_resume, name="schedule-resume"),
    path("schedules/<int:pk>/delete", schedule_delete, name="schedule-delete"),
]
