"""REST API alarms (api/views/alarms.py): the panel's filters, acknowledging (operators of the
charger's site, audited by datapoints/alarms.py)."""
import pytest
from django.db import transaction

from datapoints import alarms
from datapoints.models import Alarm, AuditEntry

from .api_client import people

pytestmark = pytest.mark.django_db(transaction=True)


def test_list_filter_and_acknowledge(server):
    p = people(server, "al-a", "al-b")
    with transaction.atomic():
        alarms.came(p["a"].id, "faulted", "connector 1 Faulted: GroundFailure", connector_id=1)
        alarms.came(p["a"].id, "offline", "offline since a while")
        alarms.came(p["b"].id, "offline", "offline too")
        alarms.went(p["a"].id, "offline")
    status, body = p["viewer"].get("/api/alarms/")
    assert status == 200 and [(a["charge_point"], a["kind"], a["active"]) for a in body["results"]] == [("al-a", "faulted", True)]
    assert body["results"][0]["connector_id"] == 1 and "GroundFailure" in body["results"][0]["text"]
    assert [a["kind"] for a in p["viewer"].get("/api/alarms/?state=all")[1]["results"]] == ["offline", "faulted"]
    assert [a["charge_point"] for a in p["root"].get("/api/alarms/?kind=offline")[1]["results"]] == ["al-b"]
    assert p["root"].get("/api/alarms/?site=site-b&acknowledged=no")[1]["count"] == 1
    assert p["nobody"].get("/api/alarms/?state=all")[1]["count"] == 0
    status, body = p["viewer"].get("/api/alarms/?state=some&kind=fire&acknowledged=maybe")
    assert status == 400 and set(body) == {"state", "kind", "acknowledged"}

    faulted = Alarm.objects.get(kind="faulted").pk
    assert p["viewer"].post(f"/api/alarms/{faulted}/acknowledge/")[0] == 403
    status, body = p["op"].post(f"/api/alarms/{faulted}/acknowledge/")
    assert status == 200 and body["acknowledged_now"] is True and body["alarm"]["acknowledged_by"] == "op-a" and body["alarm"]["acknowledged_at"]
    assert p["op"].post(f"/api/alarms/{faulted}/acknowledge/")[1]["acknowledged_now"] is False
    other = Alarm.objects.get(charge_point=p["b"]).pk
    assert p["op"].post(f"/api/alarms/{other}/acknowledge/")[0] == 404
    assert p["op"].post("/api/alarms/99999999999999999999999/acknowledge/")[0] == 404
    assert list(AuditEntry.objects.filter(action="alarm_ack").values_list("username", "target")) == [("op-a", "al-a")]
