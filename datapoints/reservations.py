"""Reservations: ReserveNow and CancelReservation, tracked in the Reservation table (its primary key
is the OCPP reservationId).

  reserve()            the row first (Requested), then ReserveNow with reservationId = its key;
                       a timeout or error leaves it Failed
  the charger's answer Accepted, Faulted, Occupied, Rejected or Unavailable (answered(): run where
                       the answer is stored, protocol/results.py, whoever sent the command: panel,
                       console, CLI, API; one sent with an id we never gave gets a row of its own)
  cancel()             CancelReservation; Accepted -> Cancelled
  StartTransaction     with the reservationId -> Used, the transaction linked (used())
  StatusNotification   Faulted on its connector (or on connector 0) -> Faulted (on_status())
  expiry passed        -> Expired (expire_overdue(): Celery beat, every server that sent one, and
                       the panel's list before it reads)
"""
import logging
from datetime import timezone as dt_timezone

from django.db import IntegrityError, transaction
from django.utils import timezone

from .local_list import in_database_thread
from .models import Datapoint, IdTag, Reservation

log = logging.getLogger(__name__)
ACTIVE = Reservation.ACTIVE
EXPIRY_CHECK_SECONDS = 30


def iso(moment):
    return moment.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


# --- requests from operators --------------------------------------------------------------------
def create(charge_point, connector_id, id_tag, expiry_date, created_by=""):
    """The Requested row whose key becomes the reservationId. An id taken by a reservation sent with
    an id of its own (console) makes the sequence move on: try the next."""
    parent = IdTag.objects.filter(id_tag=id_tag).values_list("parent_id_tag", flat=True).first() or ""
    for attempt in range(5):
        try:
            with transaction.atomic():
                return Reservation.objects.create(
                    charge_point=charge_point, connector_id=connector_id, id_tag=id_tag, parent_id_tag=parent, expiry_date=expiry_date, created_by=created_by
                )
        except IntegrityError:
            if attempt == 4:
                raise


def payload_of(reservation):
    payload = {"connectorId": reservation.connector_id, "expiryDate": iso(reservation.expiry_date), "idTag": reservation.id_tag, "reservationId": reservation.pk}
    if reservation.parent_id_tag:
        payload["parentIdTag"] = reservation.parent_id_tag
    return payload


async def reserve(charge_point, connector_id, id_tag, expiry_date, created_by="", timeout=None):
    """Create the row, send ReserveNow -> (Reservation as it stands after the answer, Outcome).
    Raises CommandRefused (the row is then Failed) when the command cannot be sent at all."""
    from .commands import CommandRefused, send_command_async

    _ensure_expiry_check()
    reservation = await in_database_thread(create)(charge_point, connector_id, id_tag, expiry_date, created_by)
    payload = payload_of(reservation)
    try:
        outcome = await send_command_async(charge_point, "ReserveNow", payload, timeout)
    except CommandRefused as exc:
        await in_database_thread(failed)(reservation.pk, str(exc))
        raise
    await in_database_thread(settle)(reservation.pk, charge_point.id, outcome)
    await in_database_thread(reservation.refresh_from_db)()
    return reservation, outcome


async def cancel(reservation, timeout=None):
    """Send CancelReservation -> Outcome; Accepted makes it Cancelled."""
    from .commands import send_command_async

    charge_point = await in_database_thread(Datapoint.objects.get)(pk=reservation.charge_point_id)
    outcome = await send_command_async(charge_point, "CancelReservation", {"reservationId": reservation.pk}, timeout)
    if outcome.status == "answered":
        await in_database_thread(cancel_answered)(reservation.charge_point_id, reservation.pk, outcome.response["status"])
    await in_database_thread(reservation.refresh_from_db)()
    return outcome


def settle(pk, charge_point_id, outcome):
    """The sender's view of ReserveNow's outcome: the answer (again: the node holding the charger
    stored it already) or Failed."""
    if outcome.status == "answered":
        answered(charge_point_id, {"reservationId": pk}, outcome.response["status"])
    else:
        failed(pk, f"{outcome.status}: {outcome.error}")


def failed(pk, why):
    if Reservation.objects.filter(pk=pk, status="Requested").update(status="Failed", ended_at=timezone.now()):
        log.info("reservation %s failed: %s", pk, why)


# --- the charger's side (database thread; the answers inside the recorder's batch) ---------------
def answered(charge_point_id, request, status):
    """ReserveNow answered with `status`."""
    now = timezone.now()
    pk = request["reservationId"]
    reservation = Reservation.objects.filter(pk=pk).first()
    if reservation is None:
        if "connectorId" in request:  # sent another way, with an id of its own: track it from here
            Reservation.objects.create(
                pk=pk, charge_point_id=charge_point_id, connector_id=request["connectorId"], id_tag=request["idTag"],
                parent_id_tag=request.get("parentIdTag", ""), expiry_date=request["expiryDate"], status=status,
                created_by="(sent as a command)", ended_at=None if status == "Accepted" else now,
            )
        return
    if reservation.charge_point_id != charge_point_id:
        log.warning("ReserveNow with reservationId %s answered by another charger than the one it was made for; not tracked", pk)
        return
    ended = None if status == "Accepted" else now
    Reservation.objects.filter(pk=pk, status__in=ACTIVE).update(status=status, ended_at=ended)


def cancel_answered(charge_point_id, pk, status):
    if status == "Accepted":
        Reservation.objects.filter(pk=pk, charge_point_id=charge_point_id, status__in=ACTIVE).update(status="Cancelled", ended_at=timezone.now())


def used(transaction_row, reservation_id):
    """StartTransaction with `reservation_id`: the reservation is Used by this transaction."""
    if reservation_id:
        Reservation.objects.filter(pk=reservation_id, charge_point_id=transaction_row.charge_point_id, status__in=ACTIVE).update(
            status="Used", transaction=transaction_row, ended_at=timezone.now()
        )


def on_status(session, payload):
    """StatusNotification: Faulted on a connector (connector 0: the whole charger) ends its reservations."""
    if payload["status"] == "Faulted":
        rows = Reservation.objects.filter(charge_point_id=session.cp.id, status__in=ACTIVE)
        if payload["connectorId"]:
            rows = rows.filter(connector_id=payload["connectorId"])
        rows.update(status="Faulted", ended_at=timezone.now())


# --- expiry -------------------------------------------------------------------------------------
def expire_overdue(now=None):
    """Active reservations past their expiry date become Expired; returns how many."""
    now = now or timezone.now()
    return Reservation.objects.filter(status__in=ACTIVE, expiry_date__lte=now).update(status="Expired", ended_at=now)


def _ensure_expiry_check():
    from .periodic import ensure_periodic

    ensure_periodic("reservation-expiry", EXPIRY_CHECK_SECONDS, expire_overdue)
