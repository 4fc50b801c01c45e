"""Rights per site, with Django's test client and a real panel websocket: a viewer cannot act; an
operator of site A gets 404 for everything of site B's chargers; the live feed carries only the
changes of charge points the user may see."""
import asyncio
import json

import pytest
import websockets
from django.contrib.auth.models import User
from django.test import Client

from datapoints import sites
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry
from datapoints.paths import get_value

from .chargers import RawCharger

pytestmark = pytest.mark.django_db(transaction=True)
PW = "rights-test-pw-1"


@pytest.fixture
def two_sites(db):
    a, b = sites.create_site("site-a"), sites.create_site("site-b")
    cp_a, cp_b = create_charge_point("CP-A", "Pending"), create_charge_point("CP-B", "Pending")
    sites.assign(a, [cp_a])
    sites.assign(b, [cp_b])
    people = {}
    for username, site, role in (("op-a", a, "operator"), ("viewer-a", a, "viewer")):
        user = User.objects.create_user(username, password=PW)
        sites.set_role(user, site, role)
        people[username] = user
    return {"a": cp_a, "b": cp_b, **people}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_panel_needs_a_login(two_sites):
    for url in ("/", "/charge-points/CP-A/", "/fleet/table"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_operator_of_site_a_gets_404_for_everything_of_site_b(two_sites):
    client = client_for(two_sites["op-a"])
    fleet = client.get("/").content.decode()
    assert "CP-A" in fleet and "CP-B" not in fleet and two_sites["b"].name not in fleet
    b = two_sites["b"].name
    for url in (
        "/charge-points/CP-B/",
        f"/charge-points/{b}/",
        "/charge-points/CP-B/elements",
        f"/charge-points/CP-B/history/{b}/Config.RegistrationStatus",
        "/charge-points/CP-B/console/form?action=Reset",
        "/fleet/row/CP-B",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post("/charge-points/CP-B/console/send", {"action": "Reset", "type": "Soft"}).status_code == 404
    assert client.post("/charge-points/CP-B/write", {"path": "Config.RegistrationStatus", "value": "Accepted"}).status_code == 404
    assert client.post("/charge-points/CP-B/password").status_code == 404
    client.post("/fleet/approve", {"client_id": "CP-B"})
    assert get_value(f"{b}.Config.RegistrationStatus") == "Pending"
    api = client.post("/api/charge-points/CP-B/commands/Reset", json.dumps({"type": "Soft"}), content_type="application/json")
    assert api.status_code == 404 and "CP-B" in api.json()["error"]  # it echoes what was asked, nothing more
    assert client.post("/fleet/approve", {"client_id": "CP-A"}).status_code == 302
    assert get_value(f"{two_sites['a'].name}.Config.RegistrationStatus") == "Accepted"
    assert list(AuditEntry.objects.filter(action="approve").values_list("username", "target")) == [("op-a", "CP-A")]


def test_a_viewer_sees_but_cannot_act(two_sites):
    client = client_for(two_sites["viewer-a"])
    a = two_sites["a"].name
    page = client.get("/charge-points/CP-A/").content.decode()
    assert "CP-A" in page and 'id="console"' not in page and "Generate new key" not in page
    assert 'name="selected"' not in client.get("/").content.decode()  # no bulk selection for a viewer
    assert client.post("/charge-points/CP-A/console/send", {"action": "Reset", "type": "Soft"}).status_code == 403
    assert client.post("/charge-points/CP-A/write", {"path": "Config.Description", "value": "x"}).status_code == 403
    assert client.post("/charge-points/CP-A/password").status_code == 403
    client.post("/fleet/approve", {"client_id": "CP-A"})
    assert get_value(f"{a}.Config.RegistrationStatus") == "Pending"
    assert get_value(f"{a}.Config.Password") is None
    api = client.post("/api/charge-points/CP-A/commands/Reset", json.dumps({"type": "Soft"}), content_type="application/json")
    assert api.status_code == 403


def test_an_operator_writes_a_config_element_and_it_is_audited(two_sites):
    client = client_for(two_sites["op-a"])
    a = two_sites["a"].name
    response = client.post("/charge-points/CP-A/write", {"path": "Config.HeartbeatInterval", "value": "abc"}, follow=True)
    assert "not changed" in response.content.decode() and get_value(f"{a}.Config.HeartbeatInterval") is None
    client.post("/charge-points/CP-A/write", {"path": "Config.HeartbeatInterval", "value": "120"})
    assert get_value(f"{a}.Config.HeartbeatInterval") == 120
    response = client.post("/charge-points/CP-A/write", {"path": "State.Connected", "value": "true"}, follow=True)
    assert "not writable" in response.content.decode()
    entries = list(AuditEntry.objects.filter(action="element_write").order_by("at").values_list("ok", "detail__value"))
    assert entries == [(False, "abc"), (True, 120)]


def test_the_live_feed_carries_only_the_sites_the_user_may_see(two_sites, server):
    session = client_for(two_sites["op-a"]).cookies["sessionid"].value
    a, b = two_sites["a"].name, two_sites["b"].name

    async def listen():
        async with websockets.connect(server.url + "/ws/panel/", additional_headers={"Cookie": f"sessionid={session}", "Origin": server.http}) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
            charger_b = await RawCharger.connect(server, "CP-B")  # site B's charger connects first
            await charger_b.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "site-B-model"})
            charger_a = await RawCharger.connect(server, "CP-A")
            await charger_a.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "site-A-model"})
            received = []
            while "site-A-model" not in json.dumps(received):
                received.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            await charger_a.close()
            await charger_b.close()
            return received

    received = json.dumps(asyncio.run(listen()))
    assert f'"{a}"' in received and "State.Connected" in received
    assert "site-B-model" not in received and f'"{b}"' not in received


def test_the_live_feed_refuses_anonymous_and_foreign_origins(server):
    async def attempt(headers):
        try:
            async with websockets.connect(server.url + "/ws/panel/", additional_headers=headers) as ws:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code
        except websockets.exceptions.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        return "open"

    assert asyncio.run(attempt({"Origin": server.http})) == 4401  # not logged in
    assert asyncio.run(attempt({"Origin": "http://evil.example"})) == 403
