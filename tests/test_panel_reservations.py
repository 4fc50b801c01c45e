"""The reservations page (/reservations/) and the charge point page's reservations box, with Django's
test client: active and all, rights (another site's do not show; a viewer may not reserve or cancel),
bad input on the form, overdue ones shown Expired; and reserve + cancel against a real charger through
a real Daphne, audited as the commands they are."""
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.utils import timezone

from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry, Reservation

from .chargers import CommandCharger, connected_library_charger
from .panel_people import client_for, two_sites

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    people = two_sites("RS-A", "RS-B")
    cp_a, cp_b = people["a"], people["b"]
    soon, past = timezone.now() + timedelta(hours=1), timezone.now() - timedelta(minutes=1)
    rows = {
        "a_active": Reservation.objects.create(charge_point=cp_a, connector_id=1, id_tag="T-A", expiry_date=soon, status="Accepted"),
        "a_overdue": Reservation.objects.create(charge_point=cp_a, connector_id=2, id_tag="T-OLD", expiry_date=past, status="Accepted"),
        "a_used": Reservation.objects.create(charge_point=cp_a, connector_id=1, id_tag="T-U", expiry_date=soon, status="Used"),
        "b_active": Reservation.objects.create(charge_point=cp_b, connector_id=1, id_tag="T-B", expiry_date=soon, status="Accepted"),
    }
    return {**people, **rows}


def ids(response):
    return sorted(r.pk for r in response.context["rows"])


def test_active_and_all_within_the_user_s_sites(world):
    op = client_for(world["op_a"])
    assert ids(op.get("/reservations/")) == [world["a_active"].pk]  # the overdue one has expired on reading
    assert Reservation.objects.get(pk=world["a_overdue"].pk).status == "Expired"
    assert ids(op.get("/reservations/?show=all")) == sorted(world[k].pk for k in ("a_active", "a_overdue", "a_used"))
    page = op.get("/charge-points/RS-A/")
    assert page.status_code == 200 and b"T-A" in page.content and b"T-U" not in page.content  # active ones only


def test_viewers_may_not_reserve_or_cancel(world):
    viewer = client_for(world["viewer"])
    page = viewer.get("/reservations/")
    assert not page.context["can_reserve"] and b"Cancel reservation" not in page.content
    response = viewer.post("/reservations/new", {"charger": "RS-A", "connector": 1, "id_tag": "X", "minutes": 5})
    assert response.status_code == 400 and "charger" in response.context["form"].errors
    assert viewer.post(f"/reservations/{world['a_active'].pk}/cancel").status_code == 403
    assert client_for(world["op_a"]).post(f"/reservations/{world['b_active'].pk}/cancel").status_code == 404
    assert sorted(Reservation.objects.filter(status="Accepted").values_list("pk", flat=True)) == [world["a_active"].pk, world["b_active"].pk]


def test_bad_input_on_the_form(world):
    op = client_for(world["op_a"])
    response = op.post("/reservations/new", {"charger": "RS-A", "connector": -1, "id_tag": "", "minutes": 0})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"connector", "id_tag", "minutes"}
    assert Reservation.objects.count() == 4


@pytest.mark.django_db(transaction=True)
async def test_reserve_and_cancel_a_real_charger(server):
    await sync_to_async(create_charge_point)("RS-LIVE", "Accepted")
    root = await sync_to_async(User.objects.create_superuser)("root")
    post = sync_to_async(lambda url, data=None: client_for(root).post(url, data or {}))
    async with connected_library_charger(server, "RS-LIVE", charger_class=CommandCharger) as cp:
        await cp.boot()
        response = await post("/reservations/new", {"charger": "RS-LIVE", "connector": 2, "id_tag": "CARD", "minutes": 15})
        assert response.status_code == 302
        reservation = await Reservation.objects.aget(id_tag="CARD")
        assert (reservation.status, reservation.connector_id, reservation.created_by) == ("Accepted", 2, "root")
        assert cp.received[-1][0] == "ReserveNow" and cp.received[-1][1]["reservation_id"] == reservation.pk
        await post(f"/reservations/{reservation.pk}/cancel")
        assert (await Reservation.objects.aget(pk=reservation.pk)).status == "Cancelled"
    commands = [e.detail["command"] async for e in AuditEntry.objects.filter(action="command").order_by("id")]
    assert commands == ["ReserveNow", "CancelReservation"]
