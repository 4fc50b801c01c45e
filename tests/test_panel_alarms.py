"""The alarm list (/alarms/) with Django's test client: filters, rights per site (another site's
alarms do not exist: 404; a viewer sees but may not acknowledge: 403), acknowledge one and all
(only what the user operates), the audit entries, the nav badge and the fleet counts; and a real
charger's Faulted status (through a real Daphne) on the page."""
import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from datapoints import alarms, sites
from datapoints.charge_points import create_charge_point
from datapoints.models import Alarm, AuditEntry

from .chargers import connected_library_charger, eventually

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    a, b = sites.create_site("site-a"), sites.create_site("site-b")
    cp_a, cp_b = create_charge_point("CP-A", "Accepted"), create_charge_point("CP-Bravo", "Accepted")
    sites.assign(a, [cp_a])
    sites.assign(b, [cp_b])
    op_a, viewer_a, op_b = User.objects.create_user("op-a"), User.objects.create_user("view-a"), User.objects.create_user("op-b")
    sites.set_role(op_a, a, "operator")
    sites.set_role(viewer_a, a, "viewer")
    sites.set_role(op_b, b, "operator")
    now = timezone.now()
    with transaction.atomic():
        alarms.came(cp_a.id, "faulted", "connector 1 Faulted: GroundFailure", 1, at=now - timedelta(minutes=30))
        alarms.came(cp_a.id, "offline", "offline since then", at=now - timedelta(minutes=20))
        alarms.came(cp_a.id, "meter_reset", "register fell", 2, at=now - timedelta(hours=3))
        alarms.went(cp_a.id, "meter_reset", 2, at=now - timedelta(hours=2))
        alarms.came(cp_b.id, "hook_failed", "Authorize hook failed: Secret-Bravo-text", at=now - timedelta(minutes=10))
    return {"a": cp_a, "b": cp_b, "op_a": op_a, "viewer_a": viewer_a, "op_b": op_b, "root": User.objects.create_superuser("root")}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def shown(response):
    return [(row.alarm.charge_point.client_id, row.alarm.kind, row.alarm.connector_id) for row in response.context["rows"]]


def test_the_list_shows_active_alarms_newest_first_and_all_on_request(world):
    root = client_for(world["root"])
    response = root.get("/alarms/")
    assert response.status_code == 200
    assert shown(response) == [("CP-Bravo", "hook_failed", 0), ("CP-A", "offline", 0), ("CP-A", "faulted", 1)]
    everything = root.get("/alarms/?state=all")
    assert shown(everything)[-1] == ("CP-A", "meter_reset", 2)
    html = everything.content.decode()
    assert "○ gone" in html and "● active" in html and "meter reset" in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("site=site-a", [("CP-A", "offline", 0), ("CP-A", "faulted", 1)]),
        ("charger=CP-Bravo", [("CP-Bravo", "hook_failed", 0)]),
        ("charger=_ChargePoint0001", [("CP-A", "offline", 0), ("CP-A", "faulted", 1)]),
        ("kind=faulted", [("CP-A", "faulted", 1)]),
        ("state=all&kind=meter_reset", [("CP-A", "meter_reset", 2)]),
        ("acknowledged=yes", []),
    ],
)
def test_filters(world, query, expected):
    assert shown(client_for(world["root"]).get(f"/alarms/?{query}")) == expected


def test_another_sites_alarms_do_not_exist_for_an_operator(world):
    op_a = client_for(world["op_a"])
    response = op_a.get("/alarms/?state=all")
    assert {row[0] for row in shown(response)} == {"CP-A"}
    assert "Secret-Bravo-text" not in response.content.decode() and "CP-Bravo" not in response.content.decode()
    bravo = Alarm.objects.get(charge_point=world["b"])
    assert op_a.post(f"/alarms/{bravo.pk}/acknowledge").status_code == 404
    assert shown(op_a.get("/alarms/?charger=CP-Bravo")) == []
    bravo.refresh_from_db()
    assert bravo.acknowledged_at is None


def test_a_viewer_sees_but_may_not_acknowledge(world):
    viewer = client_for(world["viewer_a"])
    response = viewer.get("/alarms/")
    assert len(shown(response)) == 2
    html = response.content.decode()
    assert "Acknowledge all" not in html and ">Acknowledge<" not in html and "not yet" in html
    faulted = Alarm.objects.get(kind="faulted")
    refused = viewer.post(f"/alarms/{faulted.pk}/acknowledge")
    assert refused.status_code == 403 and "ask for the operator role" in refused.content.decode()
    assert viewer.post("/alarms/acknowledge-all").status_code == 403
    assert not Alarm.objects.filter(acknowledged_at__isnull=False).exists()
    assert not AuditEntry.objects.exists()


def test_acknowledge_one_keeps_the_filters_and_is_audited(world):
    op_a = client_for(world["op_a"])
    faulted = Alarm.objects.get(kind="faulted")
    response = op_a.post(f"/alarms/{faulted.pk}/acknowledge", {"state": "active", "kind": "faulted"})
    assert response.status_code == 302 and response["Location"] == "/alarms/?state=active&kind=faulted"
    faulted.refresh_from_db()
    assert (faulted.acknowledged_by, faulted.acknowledged_by_name, faulted.active) == (world["op_a"], "op-a", True)
    again = client_for(world["root"]).post(f"/alarms/{faulted.pk}/acknowledge", follow=True)
    assert "was acknowledged already by op-a" in again.content.decode()
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.action, entry.charge_point, entry.site.slug, entry.outcome) == ("op-a", "alarm_ack", world["a"], "site-a", "faulted on connector 1")
    page = op_a.get("/alarms/?acknowledged=yes").content.decode()
    assert re.search(r"op-a<br>", page)


def test_acknowledge_all_takes_only_what_the_filters_show_and_the_user_operates(world):
    root = client_for(world["root"])
    assert root.get("/alarms/").context["waiting"] == 3
    op_a = client_for(world["op_a"])
    assert op_a.get("/alarms/?state=all").context["waiting"] == 3  # the gone one too, on site A
    response = op_a.post("/alarms/acknowledge-all", {"state": "active"}, follow=True)
    assert "Acknowledged 2 alarms." in response.content.decode()
    assert sorted(Alarm.objects.filter(acknowledged_by_name="op-a").values_list("kind", flat=True)) == ["faulted", "offline"]
    assert Alarm.objects.get(kind="hook_failed").acknowledged_at is None  # site B: not op-a's
    assert Alarm.objects.get(kind="meter_reset").acknowledged_at is None  # gone: not shown with state=active
    (entry,) = AuditEntry.objects.all()
    assert entry.action == "alarm_ack" and entry.outcome == "faulted on connector 1, offline"
    nothing = op_a.post("/alarms/acknowledge-all", {"state": "active"}, follow=True)
    assert "Nothing to acknowledge" in nothing.content.decode()


def test_the_nav_badge_and_the_fleet_counts(world):
    root = client_for(world["root"])
    page = root.get("/").content.decode()
    assert re.search(r'>Alarms <span class="badge" title="3 active alarms not acknowledged">3</span>', page)
    assert root.get("/").context["counts"]["alarms"] == 3
    op_a = client_for(world["op_a"])
    counts = op_a.get("/").context["counts"]
    assert (counts["alarms"], counts["unacknowledged_alarms"]) == (2, 2)
    op_a.post("/alarms/acknowledge-all")
    counts = op_a.get("/").context["counts"]
    assert (counts["alarms"], counts["unacknowledged_alarms"]) == (2, 0)
    assert 'class="badge"' not in op_a.get("/alarms/").content.decode()  # nothing left to acknowledge on site A
    assert ">1</span>" in root.get("/alarms/").content.decode()  # site B's is still waiting


def test_the_table_alone_for_a_live_refresh(world):
    response = client_for(world["root"]).get("/alarms/?kind=faulted", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="alarm-table"') and "<html" not in html and "GroundFailure" in html


@pytest.mark.django_db(transaction=True)
async def test_a_real_chargers_fault_is_on_the_page(server):
    await sync_to_async(create_charge_point)("CP-Live", "Accepted")
    root = await sync_to_async(User.objects.create_superuser)("root2")
    from ocpp.v16 import call

    async with connected_library_charger(server, "CP-Live") as cp:
        await cp.boot()
        await cp.call(call.StatusNotification(connector_id=2, error_code="OverCurrentFailure", status="Faulted", info="phase L2"), suppress=False)

        def page():
            client = Client()
            client.force_login(root)
            return client.get("/alarms/").content.decode()

        html = await eventually(lambda: _containing(page, "connector 2 Faulted: OverCurrentFailure (phase L2)"))
        assert "CP-Live" in html


async def _containing(page, text):
    html = await sync_to_async(page)()
    return html if text in html else None
