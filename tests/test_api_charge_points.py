"""REST API charge points (api/views/charge_points.py): list and filters, detail with every
element, create, approve/reject, site, password, connectors, history, element writes; the panel's
site rights; bad input. A real Daphne, real HTTP with tokens, a real charger where it matters."""
import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from datapoints import passwords
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry, Datapoint, Element, ElementChange
from datapoints.paths import get_value, set_value

from .api_client import people
from .chargers import RawCharger, connected_library_charger, eventually

pytestmark = pytest.mark.django_db(transaction=True)


def test_list_filters_and_rights(server):
    p = people(server, "cpa-1", "cpb-1")
    set_value(f"{p['b'].name}.Config.RegistrationStatus", "Pending")
    status, body = p["root"].get("/api/charge-points/")
    assert status == 200 and [r["client_id"] for r in body["results"]] == ["cpa-1", "cpb-1"]
    assert body["results"][0] == {**body["results"][0], "name": p["a"].name, "site": "site-a", "registration_status": "Accepted", "connected": False, "may_operate": True}
    assert [r["client_id"] for r in p["root"].get("/api/charge-points/?registration_status=Pending")[1]["results"]] == ["cpb-1"]
    assert [r["client_id"] for r in p["root"].get("/api/charge-points/?site=site-b")[1]["results"]] == ["cpb-1"]
    assert [r["client_id"] for r in p["root"].get("/api/charge-points/?search=A-1")[1]["results"]] == ["cpa-1"]
    assert p["root"].get("/api/charge-points/?connected=true")[1]["count"] == 0
    assert p["root"].get("/api/charge-points/?connected=false")[1]["count"] == 2
    assert p["root"].get("/api/charge-points/?page_size=1&page=2")[1]["results"][0]["client_id"] == "cpb-1"
    status, body = p["viewer"].get("/api/charge-points/")
    assert [(r["client_id"], r["may_operate"]) for r in body["results"]] == [("cpa-1", False)]
    assert p["nobody"].get("/api/charge-points/")[1]["count"] == 0
    # The fleet page's filters (panel.fleet.Filters): search finds the vendor too, site=- the siteless.
    Element.objects.create(datapoint=p["b"], path="DeviceInfo.chargePointVendor", value="Go-e Charger", changed_at=timezone.now())
    create_charge_point("cpn-1")
    assert [r["client_id"] for r in p["root"].get("/api/charge-points/?search=go-E")[1]["results"]] == ["cpb-1"]
    assert [r["client_id"] for r in p["root"].get("/api/charge-points/?site=-")[1]["results"]] == ["cpn-1"]
    assert p["op"].get("/api/charge-points/?site=-")[1]["count"] == 0 and p["viewer"].get("/api/charge-points/?search=go-e")[1]["count"] == 0
    status, body = p["root"].get("/api/charge-points/?registration_status=Maybe&connected=perhaps")
    assert status == 400 and set(body) == {"registration_status", "connected"} and "Maybe" in body["registration_status"][0]


def test_detail_connectors_and_history_of_a_connected_charger(server):
    p = people(server, "cpa-2", "cpb-2")

    async def drive():
        charger = await RawCharger.connect(server, "cpa-2")
        assert (await charger.call("BootNotification", {"chargePointVendor": "go-e", "chargePointModel": "V4"}))[2]["status"] == "Accepted"
        for status in ("Preparing", "Charging"):
            await charger.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
        return charger

    loop = asyncio.new_event_loop()
    charger = loop.run_until_complete(drive())
    try:
        status, body = p["viewer"].get("/api/charge-points/cpa-2/")
        assert status == 200 and body["connected"] is True and body["state_registration_status"] == "Accepted"
        by_path = {(e["datapoint"], e["path"]): e for e in body["elements"]}
        assert by_path[(p["a"].name, "DeviceInfo.chargePointVendor")]["value"] == "go-e"
        assert by_path[(p["a"].name, "Config.RegistrationStatus")] | {"changed_at": None} == {"datapoint": p["a"].name, "path": "Config.RegistrationStatus", "value": "Accepted", "kind": "string", "writable": True, "changed_at": None}
        assert by_path[(f"{p['a'].name}-1", "Status.status")]["value"] == "Charging"
        assert body["connectors"] == [{"name": f"{p['a'].name}-1", "connector_id": 1, "status": "Charging", "error_code": "NoError", "current_transaction_id": 0, "created_at": body["connectors"][0]["created_at"]}]
        assert p["viewer"].get(f"/api/charge-points/{p['a'].name}/connectors/") == (200, body["connectors"])
        status, history = p["viewer"].get("/api/charge-points/cpa-2/history/?path=Status.status&connector=1")
        assert status == 200 and [h["value"] for h in history["results"]] == ["Charging", "Preparing"]
        assert p["viewer"].get("/api/charge-points/cpa-2/history/?path=Status.status&connector=1&since=2999-01-01")[1]["count"] == 0
        assert p["viewer"].get("/api/charge-points/cpa-2/history/?path=Status.status&connector=1&page_size=1")[1]["results"][0]["value"] == "Charging"
        status, body = p["viewer"].get("/api/charge-points/cpa-2/history/?path=No.Such&connector=7")
        assert status == 400 and "no connector 7" in body["connector"][0]
        status, body = p["viewer"].get("/api/charge-points/cpa-2/history/?path=No.Such")
        assert status == 400 and "no element 'No.Such'" in body["path"][0]
        status, body = p["viewer"].get("/api/charge-points/cpa-2/history/?path=Status.status&since=yesterday")
        assert status == 400 and "is not a time" in body["since"][0]
        status, body = p["viewer"].get("/api/charge-points/cpa-2/history/?path=Status.status&connector=99999999999999999999")
        assert status == 400 and "connector" in body
        assert p["viewer"].get("/api/charge-points/cpa-2/history/?connector=1")[1] == {"path": ["This field is required."]}
        assert p["viewer"].get("/api/charge-points/cpb-2/")[0] == 404
        assert p["viewer"].get("/api/charge-points/cpb-2/history/?path=Status.status")[0] == 404
    finally:
        loop.run_until_complete(charger.close())
        loop.close()


def test_create_approve_reject_and_site(server):
    p = people(server, "cpa-3", "cpb-3")
    status, body = p["op"].post("/api/charge-points/", {"client_id": "new-1", "site": "site-a"})
    assert status == 201 and body["registration_status"] == "Pending" and body["site"] == "site-a" and body["name"].startswith("_ChargePoint")
    assert p["op"].post("/api/charge-points/", {"client_id": "new-1", "site": "site-a"}) == (400, {"client_id": ["a charge point with ClientId 'new-1' exists"]})
    assert p["op"].post("/api/charge-points/", {"client_id": "bad/id", "site": "site-a"})[1]["client_id"][0].startswith("a ClientId has printable")
    assert p["op"].post("/api/charge-points/", {"client_id": "x" * 49, "site": "site-a"})[0] == 400
    assert p["op"].post("/api/charge-points/", {"client_id": 12, "site": "site-a", "registration_status": "Great"})[1] == {"registration_status": ['"Great" is not a valid choice.']}
    assert p["op"].post("/api/charge-points/", {"site": "site-a"}) == (400, {"client_id": ["This field is required."]})
    assert p["op"].post("/api/charge-points/", {"client_id": "new-2"})[0] == 403
    assert p["op"].post("/api/charge-points/", {"client_id": "new-2", "site": "site-b"}) == (400, {"site": ["no site 'site-b' that you may see"]})
    assert p["viewer"].post("/api/charge-points/", {"client_id": "new-2", "site": "site-a"})[0] == 403
    assert p["root"].post("/api/charge-points/", {"client_id": "new-2"})[1]["site"] is None
    assert AuditEntry.objects.filter(action="create").count() == 2

    assert p["op"].post("/api/charge-points/new-1/approve/") == (200, {"client_id": "new-1", "registration_status": "Accepted"})
    assert get_value(f"{body['name']}.Config.RegistrationStatus") == "Accepted"
    assert p["op"].post("/api/charge-points/new-1/reject/")[1]["registration_status"] == "Rejected"
    status, body = p["viewer"].post("/api/charge-points/cpa-3/approve/")
    assert status == 403 and "operator role" in body["detail"]
    assert p["op"].post("/api/charge-points/cpb-3/approve/") == (404, {"detail": "no such charge point"})
    assert list(AuditEntry.objects.filter(action__in=["approve", "reject"]).order_by("at").values_list("username", "action", "target")) == [("op-a", "approve", "new-1"), ("op-a", "reject", "new-1")]

    assert p["op"].put("/api/charge-points/cpa-3/site/", {"site": "site-b"})[0] == 403
    status, body = p["root"].put("/api/charge-points/cpa-3/site/", {"site": "site-b"})
    assert status == 200 and body["site"] == "site-b" and get_value(f"{p['a'].name}.Config.Site") == "site-b"
    assert p["op"].get("/api/charge-points/cpa-3/")[0] == 404  # moved out of op's site
    assert p["root"].put("/api/charge-points/cpa-3/site/", {"site": "nowhere"})[1]["site"][0].startswith("no site 'nowhere'")
    assert p["root"].put("/api/charge-points/cpa-3/site/", {})[1] == {"site": ["This field is required."]}
    assert p["root"].put("/api/charge-points/cpa-3/site/", {"site": None})[1]["site"] is None
    assert list(AuditEntry.objects.filter(action__startswith="site_").order_by("at").values_list("action", "outcome")) == [("site_assign", "moved from site-a to site-b"), ("site_unassign", "removed from site-b")]


def test_write_an_element(server):
    p = people(server, "cpa-4", "cpb-4")
    status, body = p["op"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {"value": 16})
    assert status == 200 and body["value"] == 16.0 and body["kind"] == "float"
    assert p["op"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {"value": "10.5"})[1]["value"] == 10.5
    assert get_value(f"{p['a'].name}.Config.MaxCurrent") == 10.5
    status, body = p["op"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {"value": "lots"})
    assert status == 400 and "Config.MaxCurrent not changed" in body["value"][0]
    status, body = p["op"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {"value": 1e400})  # sent as Infinity: not JSON
    assert status == 400 and "JSON parse error" in body["detail"]
    status, body = p["op"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {"value": 10**400})
    assert status == 400 and "not a finite number" in body["value"][0]
    status, body = p["op"].put("/api/charge-points/cpa-4/elements/Config.RegistrationStatus/", {"value": "Maybe"})
    assert status == 400 and "not one of" in body["value"][0]
    status, body = p["op"].put("/api/charge-points/cpa-4/elements/State.Connected/", {"value": True})
    assert status == 400 and "not writable" in body["path"][0]
    assert p["op"].put("/api/charge-points/cpa-4/elements/No.Such/", {"value": 1})[0] == 400
    assert p["op"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {})[1] == {"value": ["This field is required."]}
    assert p["viewer"].put("/api/charge-points/cpa-4/elements/Config.MaxCurrent/", {"value": 16})[0] == 403
    assert p["op"].put("/api/charge-points/cpb-4/elements/Config.MaxCurrent/", {"value": 16})[0] == 404
    assert list(AuditEntry.objects.filter(action="element_write").order_by("at").values_list("ok", flat=True)) == [True, True, False, False, False]
    assert ElementChange.objects.filter(datapoint=p["a"], path="Config.MaxCurrent").count() == 2


def test_password_offline_and_pushed_to_a_connected_charger(server):
    p = people(server, "cpa-5", "cpb-5")
    status, body = p["op"].post("/api/charge-points/cpa-5/password/", {})
    assert status == 200 and len(body["key"]) == 40 and body["sent_to_charger"] is False
    stored = get_value(f"{p['a'].name}.Config.Password")
    assert passwords.check_key(bytes.fromhex(body["key"]), stored) and body["key"] not in json.dumps(list(AuditEntry.objects.values()), default=str)
    assert p["viewer"].post("/api/charge-points/cpa-5/password/", {})[0] == 403
    assert p["op"].post("/api/charge-points/cpa-5/password/", {"timeout": "soon"})[1] == {"timeout": ["A valid number is required."]}
    assert p["op"].post("/api/charge-points/cpa-5/password/", {"timeout": 10**12})[0] == 400

    from .chargers import CommandCharger, basic_auth

    async def connected_push():
        async with connected_library_charger(server, "cpa-5", headers=basic_auth("cpa-5", body["key"].encode()), charger_class=CommandCharger) as cp:
            await cp.boot()
            status, pushed = await asyncio.to_thread(p["op"].post, "/api/charge-points/cpa-5/password/", {"timeout": 5})
            return status, pushed, cp.received

    status, pushed, received = asyncio.run(connected_push())
    assert status == 200 and pushed["sent_to_charger"] is True and pushed["key"] != body["key"]
    assert received == [("ChangeConfiguration", {"key": "AuthorizationKey", "value": pushed["key"]})]
    assert passwords.check_key(bytes.fromhex(pushed["key"]), get_value(f"{p['a'].name}.Config.Password"))
    assert pushed["key"] not in server.logs()


def test_approving_a_connected_pending_charger_makes_it_boot_accepted(server):
    p = people(server, "cpa-6", "cpb-6")
    set_value(f"{p['a'].name}.Config.RegistrationStatus", "Pending")

    async def approve_while_connected():
        async with connected_library_charger(server, "cpa-6") as cp:
            assert (await cp.boot()).status == "Pending"
            status, body = await asyncio.to_thread(p["op"].post, "/api/charge-points/cpa-6/approve/")
            await asyncio.wait_for(cp.triggered.wait(), 10)  # TriggerMessage(BootNotification) -> boots again
            return status, body, [r.status for r in cp.boot_results]

    status, body, boots = asyncio.run(approve_while_connected())
    assert (status, body["registration_status"], boots) == (200, "Accepted", ["Pending", "Accepted"])
