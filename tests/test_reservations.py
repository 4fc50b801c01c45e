"""Reservations through a real Daphne with the `ocpp` package's client: the row first, ReserveNow with
its key as reservationId; accepted, rejected, failed, expired, used by StartTransaction, faulted,
cancelled; and one sent as a plain command tracked too."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from datapoints import reservations, tasks
from datapoints.commands import send_command_async
from datapoints.models import Datapoint, Reservation

from .chargers import CommandCharger, LibraryCharger, connected_library_charger, create_charge_point

pytestmark = pytest.mark.django_db(transaction=True)
TS = "2026-11-21T10:00:00Z"


class RejectingCharger(CommandCharger):
    @on(Action.reserve_now)
    def on_reserve_now(self, **request):
        self.received.append(("ReserveNow", request))
        return call_result.ReserveNow(status="Occupied")


async def _reserve(client_id, connector=1, tag="RES-TAG", minutes=30):
    dp = await Datapoint.objects.aget(client_id=client_id)
    return await reservations.reserve(dp, connector, tag, timezone.now() + timedelta(minutes=minutes), created_by="tester", timeout=2)


async def test_accepted_then_used_by_start_transaction(server):
    await create_charge_point("res-use", "Accepted")
    async with connected_library_charger(server, "res-use", charger_class=CommandCharger) as cp:
        await cp.boot()
        reservation, outcome = await _reserve("res-use")
        assert outcome.status == "answered" and reservation.status == "Accepted" and reservation.ended_at is None
        (action, request), = cp.received
        assert (action, request["reservation_id"], request["connector_id"], request["id_tag"]) == ("ReserveNow", reservation.pk, 1, "RES-TAG")
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="RES-TAG", meter_start=0, timestamp=TS, reservation_id=reservation.pk), suppress=False)
    reservation = await Reservation.objects.aget(pk=reservation.pk)
    assert (reservation.status, reservation.transaction_id) == ("Used", start.transaction_id)
    assert reservation.ended_at is not None


async def test_rejected_answer_and_failure_are_kept(server):
    await create_charge_point("res-no", "Accepted")
    async with connected_library_charger(server, "res-no", charger_class=RejectingCharger) as cp:
        await cp.boot()
        reservation, _ = await _reserve("res-no")
        assert reservation.status == "Occupied" and reservation.ended_at is not None
    await create_charge_point("res-err", "Accepted")
    async with connected_library_charger(server, "res-err", charger_class=LibraryCharger) as cp:  # no ReserveNow: NotImplemented
        await cp.boot()
        reservation, outcome = await _reserve("res-err")
        assert outcome.status == "error" and reservation.status == "Failed"
    reservation, outcome = await _reserve("res-err")  # offline now
    assert outcome.status == "offline" and reservation.status == "Failed"


async def test_faulted_connector_and_cancel(server):
    await create_charge_point("res-fault", "Accepted")
    async with connected_library_charger(server, "res-fault", charger_class=CommandCharger) as cp:
        await cp.boot()
        on_one, _ = await _reserve("res-fault", connector=1)
        on_two, _ = await _reserve("res-fault", connector=2)
        await cp.call(call.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted"), suppress=False)
        assert (await Reservation.objects.aget(pk=on_one.pk)).status == "Faulted"
        assert (await Reservation.objects.aget(pk=on_two.pk)).status == "Accepted"
        outcome = await reservations.cancel(on_two, timeout=2)
        assert outcome.response == {"status": "Accepted"} and on_two.status == "Cancelled"
        assert cp.received[-1] == ("CancelReservation", {"reservation_id": on_two.pk})


async def test_expired_by_the_periodic_check(server):
    await create_charge_point("res-exp", "Accepted")
    async with connected_library_charger(server, "res-exp", charger_class=CommandCharger) as cp:
        await cp.boot()
        reservation, _ = await _reserve("res-exp", minutes=1)
    await Reservation.objects.filter(pk=reservation.pk).aupdate(expiry_date=timezone.now() - timedelta(seconds=1))
    later = await Reservation.objects.aget(pk=reservation.pk)
    assert later.status == "Accepted"
    from asgiref.sync import sync_to_async

    await sync_to_async(tasks.expire_reservations)()  # what Celery beat runs
    assert (await Reservation.objects.aget(pk=reservation.pk)).status == "Expired"
    assert settings.CELERY_BEAT_SCHEDULE["expire-reservations"]["task"] == "datapoints.tasks.expire_reservations"


async def test_a_reservation_sent_as_a_plain_command_is_tracked(server):
    await create_charge_point("res-cmd", "Accepted")
    async with connected_library_charger(server, "res-cmd", charger_class=CommandCharger) as cp:
        await cp.boot()
        payload = {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "CONSOLE", "reservationId": 7777}
        outcome = await send_command_async("res-cmd", "ReserveNow", payload, timeout=2)
        assert outcome.status == "answered"
        row = await Reservation.objects.aget(pk=7777)
        assert (row.status, row.id_tag, row.connector_id) == ("Accepted", "CONSOLE", 1)
        await send_command_async("res-cmd", "CancelReservation", {"reservationId": 7777}, timeout=2)
        assert (await Reservation.objects.aget(pk=7777)).status == "Cancelled"
