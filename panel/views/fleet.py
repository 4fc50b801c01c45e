"""The fleet overview at `/`: every visible charge point, counts, filters, approval (one or many),
unknown chargers with Create, and one command to many chargers."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from datapoints import access, audit, sites
from datapoints.charge_points import create_charge_point
from datapoints.elements import CSMS_ACTIONS
from datapoints.models import UnknownChargePoint
from datapoints.paths import set_value

from .. import fleet

REGISTRATION_ACTIONS = {"approve": "Accepted", "reject": "Rejected"}


def _fleet_context(request):
    filters = fleet.Filters.from_request(request)
    visible = access.visible_charge_points(request.user).select_related("site")
    shown = filters.apply(visible) if filters.active else visible
    total_shown = shown.count()
    operated = access.operated_site_ids(request.user)
    return {
        "rows": fleet.rows(shown.order_by("name")[: fleet.ROW_LIMIT]),
        "hidden_rows": max(0, total_shown - fleet.ROW_LIMIT),
        "counts": fleet.counts(visible),
        "filters": filters,
        "sites": access.visible_sites(request.user),
        "operated_site_ids": operated,
        "is_operator": bool(operated) or request.user.is_superuser,
        "row_paths": fleet.ROW_PATHS,
    }


@login_required
def overview(request):
    context = _fleet_context(request)
    context.update(_unknown_context(request, context["operated_site_ids"]))
    context["actions"] = sorted(CSMS_ACTIONS)
    return render(request, "panel/fleet.html", context)


@login_required
def unknown(request):
    """The unknown-charger list, polled: refused chargers are no datapoints, so no change events."""
    return render(request, "panel/fleet_unknown.html", _unknown_context(request))


def _unknown_context(request, operated=None):
    operated = access.operated_site_ids(request.user) if operated is None else operated
    if not (operated or request.user.is_superuser):
        return {"unknown": []}
    return {"unknown": fleet.unknown_chargers(), "create_sites": access.visible_sites(request.user).filter(id__in=operated)}


@login_required
def table(request):
    """The counts and the table, for a live refresh or a filter change (htmx)."""
    return render(request, "panel/fleet_table.html", _fleet_context(request))


@login_required
def row(request, client_id):
    dp = access.charge_point_for(request.user, client_id)
    (one,) = fleet.rows([dp])
    return render(request, "panel/fleet_row.html", {"row": one, "operated_site_ids": access.operated_site_ids(request.user)})


@login_required
@require_POST
def registration(request, action):
    """Approve or Reject the ticked charge points (or the one whose button was pressed)."""
    status = REGISTRATION_ACTIONS.get(action)
    if status is None:
        raise Http404("no such action")
    client_ids = request.POST.getlist("client_id") or request.POST.getlist("selected")
    done, refused = [], []
    for client_id in client_ids:
        try:
            dp = access.charge_point_for(request.user, client_id, operate=True)
        except (Http404, PermissionError):
            refused.append(client_id)
            continue
        set_value(f"{dp.name}.Config.RegistrationStatus", status)
        audit.record(request.user, action, charge_point=dp, detail={"status": status}, outcome=status)
        done.append(dp.client_id)
    if done:
        messages.success(request, f"{status}: {', '.join(done)}" + (" (connected ones boot again now)" if status == "Accepted" else ""))
    if refused:
        messages.error(request, f"Not changed (no operator right, or gone): {', '.join(refused)}")
    if not client_ids:
        messages.warning(request, "Tick the charge points to approve or reject first.")
    return _back_to_fleet(request)


@login_required
@require_POST
def create_unknown(request, pk):
    """Make the datapoint of an unknown charger (refused at the handshake) in one click."""
    unknown = get_object_or_404(UnknownChargePoint, pk=pk)
    site = _chosen_site(request)
    if site is False:
        messages.error(request, "You may create charge points only on a site where you are an operator.")
        return _back_to_fleet(request)
    try:
        dp = create_charge_point(unknown.client_id, "Pending")
    except IntegrityError:
        messages.warning(request, f"{unknown.client_id} has a datapoint already.")
        return _back_to_fleet(request)
    if site is not None:
        sites.assign(site, [dp])
    audit.record(request.user, "create", charge_point=dp, site=site, detail={"from": "unknown charger", "site": site.slug if site else ""}, outcome=dp.name)
    messages.success(request, f"Created {dp.name} for {dp.client_id} (Pending): approve it when it boots; it retries within its retry interval.")
    return _back_to_fleet(request)


def _chosen_site(request):
    """The site a new charge point goes into: None (no site) is for superusers only; False: refused."""
    slug = request.POST.get("site", "")
    operated = access.operated_site_ids(request.user)
    if not slug:
        return None if request.user.is_superuser else False
    site = access.visible_sites(request.user).filter(slug=slug).first()
    return site if site is not None and site.id in operated else False


def _back_to_fleet(request):
    return redirect("panel:fleet")
