"""One command to the charge points ticked on the fleet overview, with progress (panel/bulk.py)."""
from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_POST

from datapoints import access
from datapoints.commands import CommandRefused, check_command

from .. import bulk, schema_form
from .console import _action, _timeout


@login_required
def command_form(request):
    action = _action(request.GET.get("action", "Reset"))
    return render(request, "panel/console_fields.html", {"action": action, "fields": schema_form.fields(action)})


def _operable(user, client_ids):
    """(charge points the user may steer, ClientIds refused)."""
    allowed, refused = [], []
    for client_id in dict.fromkeys(client_ids):
        try:
            allowed.append(access.charge_point_for(user, client_id, operate=True))
        except (Http404, PermissionError):
            refused.append(client_id)
    return allowed, refused


@require_POST
async def command_many(request):
    user = await request.auser()
    if not user.is_authenticated:
        return _problem(request, "Your session ended: log in again (reload the page).", 403)
    action = _action(request.POST.get("action", ""))
    payload, problems = schema_form.payload(action, request.POST)
    if problems:
        return _problem(request, "; ".join(f"{field}: {why}" for field, why in problems.items()) + ". Correct the fields and send again.")
    try:
        check_command(action, payload)
    except CommandRefused as exc:
        return _problem(request, str(exc))
    targets, refused = await sync_to_async(_operable)(user, request.POST.getlist("selected"))
    if not targets:
        return _problem(request, "Tick the charge points to send to first (you may send only to those on sites where you are an operator).")
    batch = await sync_to_async(bulk.begin)(user, targets, action, payload)
    bulk.send_in_background(user, targets, action, payload, _timeout(request.POST.get("timeout")), batch)
    return await sync_to_async(_progress_response)(request, user, batch, refused)


def _problem(request, why, status=400):
    return render(request, "panel/bulk_progress.html", {"problem": why}, status=status)


@login_required
def command_progress(request, batch):
    return _progress_response(request, request.user, batch)


def _progress_response(request, user, batch, refused=()):
    head, done = bulk.progress(user, batch)
    if head is None:
        raise Http404("no such batch")
    total = len(head.detail.get("targets", []))
    context = {
        "batch": batch,
        "head": head,
        "done": done,
        "total": total,
        "answered": sum(1 for e in done if e.ok),
        "finished": len(done) >= total,
        "refused": refused,
    }
    return render(request, "panel/bulk_progress.html", context)
