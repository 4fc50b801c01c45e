"""Reservations at `/reservations/`: active ones (or all), a form that reserves a connector
(ReserveNow through datapoints.reservations), and Cancel. Only the charge points the user may see
are listed; reserving and cancelling need the operator role on the charger's site. Both are in the
audit log as the commands they are.
"""
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from datapoints import access, audit, reservations
from datapoints.commands import CommandRefused, run_sync
from datapoints.models import Reservation

from .common import forbidden

LIST_LIMIT = 300
MAX_MINUTES = 7 * 24 * 60


class ReserveForm(forms.Form):
    charger = forms.ChoiceField(label="Charge point")
    connector = forms.IntegerField(min_value=0, initial=1, help_text="0: any connector of the charger")
    id_tag = forms.CharField(max_length=20, label="Id tag", help_text="who may start on it")
    minutes = forms.IntegerField(min_value=1, max_value=MAX_MINUTES, initial=30, label="Expires in (minutes)")

    def __init__(self, charge_points, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["charger"].choices = [(dp.client_id, dp.client_id) for dp in charge_points]


def _operated(user):
    operated = access.operated_site_ids(user)
    return [dp for dp in access.visible_charge_points(user).order_by("client_id") if user.is_superuser or dp.site_id in operated]


def _render(request, form, status=200):
    reservations.expire_overdue()
    show = "all" if request.GET.get("show") == "all" else "active"
    rows = Reservation.objects.filter(charge_point__in=access.visible_charge_points(request.user)).select_related("charge_point")
    if show == "active":
        rows = rows.filter(status__in=Reservation.ACTIVE)
    operated = access.operated_site_ids(request.user)
    context = {
        "rows": rows[:LIST_LIMIT],
        "show": show,
        "form": form,
        "can_reserve": bool(form.fields["charger"].choices),
        "operated": operated,
        "active": Reservation.ACTIVE,
    }
    return render(request, "panel/reservations.html", context, status=status)


@login_required
def reservation_list(request):
    return _render(request, ReserveForm(_operated(request.user)))


@require_POST
@login_required
def reserve(request):
    form = ReserveForm(_operated(request.user), request.POST)
    if not form.is_valid():
        messages.error(request, "Not reserved: see the form below.")
        return _render(request, form, status=400)
    dp = access.charge_point_for(request.user, form.cleaned_data["charger"], operate=True)
    expiry = timezone.now() + timedelta(minutes=form.cleaned_data["minutes"])
    args = (dp, form.cleaned_data["connector"], form.cleaned_data["id_tag"], expiry, request.user.get_username())
    try:
        reservation, outcome = run_sync(reservations.reserve, *args)
    except CommandRefused as exc:
        audit.record(request.user, "command", charge_point=dp, detail={"command": "ReserveNow"}, ok=False, outcome=f"refused: {exc}")
        messages.error(request, f"Not sent: {exc}")
        return redirect("panel:reservations")
    audit.record_command(request.user, dp, "ReserveNow", reservations.payload_of(reservation), outcome)
    if reservation.status == "Accepted":
        messages.success(request, f"Reservation {reservation.pk}: {dp.client_id} connector {reservation.connector_id} for {reservation.id_tag} until {timezone.localtime(expiry):%H:%M}.")
    else:
        why = f"the charger answered {reservation.status}" if outcome.status == "answered" else f"{outcome.status}: {outcome.error}"
        messages.error(request, f"Reservation {reservation.pk} on {dp.client_id} is {reservation.status}: {why}.")
    return redirect("panel:reservations")


@require_POST
@login_required
def cancel(request, pk):
    reservation = get_object_or_404(Reservation.objects.select_related("charge_point"), pk=pk, charge_point__in=access.visible_charge_points(request.user))
    if not access.can_operate(request.user, reservation.charge_point):
        return forbidden(request, "Cancelling needs the operator role on the charger's site.")
    if reservation.status not in Reservation.ACTIVE:
        messages.error(request, f"Reservation {pk} is {reservation.status} already: nothing to cancel.")
        return redirect("panel:reservations")
    outcome = run_sync(reservations.cancel, reservation)
    audit.record_command(request.user, reservation.charge_point, "CancelReservation", {"reservationId": pk}, outcome)
    if reservation.status == "Cancelled":
        messages.success(request, f"Reservation {pk} cancelled.")
    else:
        answer = outcome.response["status"] if outcome.status == "answered" else f"{outcome.status}: {outcome.error}"
        messages.error(request, f"Reservation {pk} not cancelled ({answer}); it ends at its expiry.")
    return redirect("panel:reservations")


urlpatterns = [
    path("reservations/", reservation_list, name="reservations"),
    path("reservations/new", reserve, name="reservation-create"),
    path("reservations/<int:pk>/cancel", cancel, name="reservation-cancel"),
]
