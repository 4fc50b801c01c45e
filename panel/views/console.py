"""The command console on a charge point's page: a form per action generated from its 1.6 schema,
Send, and the outcome (the charger's answer, CALLERROR, timeout, offline, invalid or refused)."""
import json

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_POST

from datapoints import access, audit
from datapoints.commands import CommandRefused, send_command_async
from datapoints.elements import CSMS_ACTIONS

from .. import schema_form

OUTCOME_TEXT = {
    "answered": "The charger answered",
    "error": "The charger answered with a CALLERROR",
    "invalid": "The charger's answer breaks the OCPP 1.6 schema",
    "timeout": "No answer in time",
    "offline": "The charger is offline",
    "refused": "Not sent",
}


def _action(action):
    if action not in CSMS_ACTIONS:
        raise Http404(f"no command {action!r}")
    return action


@login_required
def form(request, client_id):
    """The fields of the chosen command (htmx swaps them in when the Command select changes)."""
    access.charge_point_for(request.user, client_id)
    action = _action(request.GET.get("action", "Reset"))
    return render(request, "panel/console_fields.html", {"action": action, "fields": schema_form.fields(action)})


@require_POST
async def send(request, client_id):
    user = await request.auser()
    if not user.is_authenticated:
        return _refused(request, "Your session ended: log in again (reload the page).", 403)
    try:
        dp = await sync_to_async(access.charge_point_for)(user, client_id, operate=True)
    except PermissionError as exc:
        return _refused(request, str(exc), 403)
    action = _action(request.POST.get("action", ""))
    payload, problems = schema_form.payload(action, request.POST)
    if problems:
        return render(request, "panel/console_outcome.html", {"action": action, "status": "refused", "title": OUTCOME_TEXT["refused"], "problems": problems})
    timeout = _timeout(request.POST.get("timeout"))
    try:
        outcome = await send_command_async(dp, action, payload, timeout)
    except CommandRefused as exc:
        await sync_to_async(audit.record_command)(user, dp, action, payload, None, str(exc))
        return render(request, "panel/console_outcome.html", {"action": action, "status": "refused", "title": OUTCOME_TEXT["refused"], "error": str(exc)})
    await sync_to_async(audit.record_command)(user, dp, action, payload, outcome)
    return render(
        request,
        "panel/console_outcome.html",
        {
            "action": action,
            "status": outcome.status,
            "title": OUTCOME_TEXT[outcome.status],
            "outcome": outcome,
            "response": json.dumps(outcome.response, indent=2) if outcome.response is not None else "",
            "payload": json.dumps(payload, indent=2),
        },
    )


def _refused(request, why, status):
    context = {"action": request.POST.get("action", ""), "status": "refused", "title": OUTCOME_TEXT["refused"], "error": why}
    return render(request, "panel/console_outcome.html", context, status=status)


def _timeout(text):
    try:
        return min(max(float(text), 1.0), 300.0)
    except (TypeError, ValueError):
        return None
