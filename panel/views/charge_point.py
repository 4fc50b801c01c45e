"""A charge point's page at `/charge-points/<ClientId>/`: the live element tree, an element's
history and trend, Config writes, the password, hook failures and the hook switches."""
import json
from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from datapoints import audit, hook_runner
from datapoints.elements import CSMS_ACTIONS, element
from datapoints.keys import KeyNotAccepted, set_new_key
from datapoints.models import Datapoint, ElementChange, HookSetting, MessageLogEntry
from datapoints.paths import NotWritable, PathError, set_value

from .. import metering, tree
from .common import charge_point_view, operator_of

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@charge_point_view()
def page(request, dp):
    nodes = tree.tree(dp)
    return render(
        request,
        "panel/charge_point.html",
        {
            "dp": dp,
            "nodes": nodes,
            "metering": metering.summary(dp),
            "operator": operator_of(request, dp),
            "actions": CSMS_ACTIONS,
            "hook_errors": _hook_errors(nodes[0]),
            "hooks": _hooks(dp),
            "commands": _command_history(nodes[0]),
            "messages_log": MessageLogEntry.objects.filter(charge_point=dp)[:50],
            "audit": dp.auditentry_set.all()[:20],
        },
    )


@charge_point_view()
def elements(request, dp):
    """The tree alone, for a live refresh when a connector or a configuration key appears."""
    return render(request, "panel/cp_tree.html", {"dp": dp, "nodes": tree.tree(dp), "operator": operator_of(request, dp)})


def _element_dp(dp, dp_name):
    if dp_name == dp.name:
        return dp
    connector = Datapoint.objects.filter(charge_point=dp, name=dp_name).first()
    if connector is None:
        raise Http404("no such connector")
    return connector


@charge_point_view()
def history(request, dp, dp_name, path):
    target = _element_dp(dp, dp_name)
    try:
        spec = element(target.dp_type, path)
    except KeyError:
        raise Http404("no such element") from None
    since = timezone.now() - RANGES.get(request.GET.get("range"), RANGES["24h"])
    changes = ElementChange.objects.filter(datapoint=target, path=path, changed_at__gte=since).order_by("-changed_at")[:500]
    numeric = [c for c in changes if isinstance(c.value, (int, float)) and not isinstance(c.value, bool)]
    return render(
        request,
        "panel/element_history.html",
        {
            "dp": dp,
            "target": target,
            "path": path,
            "spec": spec,
            "changes": changes,
            "range": request.GET.get("range") if request.GET.get("range") in RANGES else "24h",
            "ranges": list(RANGES),
            "trend": json.dumps([[c.changed_at.timestamp(), c.value] for c in reversed(numeric)]) if numeric else "",
        },
    )


@charge_point_view(operate=True)
@require_POST
def write(request, dp):
    """Write one Config element (the form asked for a confirmation first)."""
    path = request.POST.get("path", "")
    text = request.POST.get("value", "")
    full = f"{dp.name}.{path}"
    try:
        spec = element(dp.dp_type, path)
        value = spec.parse(text)
        set_value(full, value)
    except (KeyError, PathError):
        messages.error(request, f"{path!r} is not an element of {dp.name}.")
    except NotWritable as exc:
        messages.error(request, str(exc))
    except ValueError as exc:
        messages.error(request, f"{path} not changed: {exc}")
        audit.record(request.user, "element_write", charge_point=dp, target=full, detail={"path": path, "value": text}, ok=False, outcome=str(exc))
    else:
        audit.record(request.user, "element_write", charge_point=dp, target=full, detail={"path": path, "value": value}, outcome="written")
        messages.success(request, f"{path} set to {value!r}.")
    return redirect("panel:charge-point", client_id=dp.client_id)


@charge_point_view(operate=True)
@require_POST
def password(request, dp):
    """A new 20-byte key, pushed to a connected charger first; shown once."""
    try:
        result = set_new_key(dp, timeout=float(request.POST.get("timeout") or 30))
    except KeyNotAccepted as exc:
        audit.record(request.user, "password", charge_point=dp, ok=False, outcome=str(exc))
        return render(request, "panel/password_result.html", {"dp": dp, "error": str(exc)})
    audit.record(request.user, "password", charge_point=dp, detail={"sent_to_charger": result.sent_to_charger}, outcome=result.message)
    return render(request, "panel/password_result.html", {"dp": dp, "result": result})


@charge_point_view(operate=True)
@require_POST
def hook_switch(request, dp):
    hook = request.POST.get("hook", "")
    enabled = request.POST.get("enabled") == "1"
    if hook not in set(hook_runner.loaded_request_hooks().values()):
        messages.error(request, f"no hook {hook!r} is loaded; `manage.py hooks list` shows what is")
    else:
        HookSetting.objects.update_or_create(hook=hook, charge_point=dp, defaults={"enabled": enabled})
        audit.record(request.user, "hook_switch", charge_point=dp, detail={"hook": hook, "enabled": enabled}, outcome="on" if enabled else "off")
        messages.success(request, f"{hook} is {'on' if enabled else 'off'} for {dp.client_id} (in force within a few seconds).")
    return redirect("panel:charge-point", client_id=dp.client_id)


def _hook_errors(cp_node):
    return [row for group in cp_node.groups if group.name == "Requests" for row in group.rows if row.path.endswith(".HookError") and row.value]


def _hooks(dp):
    """[(action, hook, enabled for this charge point)] of the loaded request hooks."""
    loaded = hook_runner.loaded_request_hooks()
    settings = {(s.hook, s.charge_point_id): s.enabled for s in HookSetting.objects.filter(hook__in=loaded.values())}
    return [(action, hook, settings.get((hook, dp.id), settings.get((hook, None), True))) for action, hook in sorted(loaded.items())]


def _command_history(cp_node):
    """Commands.<A>.* of the charge point, newest first: [(action, {leaf: row})]."""
    by_action = {}
    for group in cp_node.groups:
        if group.name != "Commands":
            continue
        for row in group.rows:
            if row.has_value:
                _prefix, action, leaf = row.path.split(".", 2)
                by_action.setdefault(action, {})[leaf] = row
    latest = lambda item: max(r.changed_at for r in item[1].values())  # noqa: E731
    return sorted(by_action.items(), key=latest, reverse=True)
