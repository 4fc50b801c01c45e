"""REST API schedules (api/views/schedules.py): list, create, delete with the panel's rights and
audit entries (datapoints/schedules.py); bad input."""
from datetime import timedelta

import pytest
from django.utils import timezone

from datapoints.models import AuditEntry, ScheduledCommand

from .api_client import people

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_list_delete_and_rights(server):
    p = people(server, "sch-a", "sch-b")
    nightly = {"name": "night reset", "action": "Reset", "payload": {"type": "Soft"}, "charge_points": ["sch-a"], "cron": "0  3 * * *"}
    status, body = p["op"].post("/api/schedules/", nightly)
    assert status == 201 and body == {**body, "name": "night reset", "charge_points": ["sch-a"], "hidden_targets": 0, "state": "active", "timeout": 30.0}
    assert body["timing"]["kind"] == "cron" and body["timing"]["cron"] == "0 3 * * *"
    pk = body["id"]
    soon = (timezone.now() + timedelta(hours=2)).isoformat()
    status, once = p["root"].post("/api/schedules/", {"name": "everyone once", "action": "ClearCache", "payload": {}, "all_accepted": True, "at": soon})
    assert status == 201 and once["timing"]["kind"] == "once" and once["all_accepted"] is True

    assert [s["name"] for s in p["viewer"].get("/api/schedules/")[1]["results"]] == ["everyone once", "night reset"]
    assert [s["name"] for s in p["nobody"].get("/api/schedules/")[1]["results"]] == ["everyone once"]
    assert p["nobody"].get(f"/api/schedules/{pk}/")[0] == 404

    refused = lambda who, **change: p[who].post("/api/schedules/", {**nightly, "name": "another", **change})  # noqa: E731
    assert refused("viewer")[0] == 403
    assert refused("op", all_accepted=True)[0] == 403
    assert refused("op", charge_points=["sch-b"]) == (404, {"detail": "no such charge point: sch-b; nothing was scheduled"})
    assert refused("op", name="night reset")[1]["detail"].startswith("a schedule named 'night reset' exists")
    assert "has passed" in refused("op", cron="", at=(timezone.now() - timedelta(hours=1)).isoformat())[1]["detail"]
    assert refused("op", at=soon)[1]["detail"] == "give a time or a cron, not both"
    assert refused("op", cron="")[1]["detail"].startswith("give a time (one run) or a cron")
    assert "bad cron" in refused("op", cron="61 * * * *")[1]["detail"]
    assert "schema" in refused("op", payload={"type": "Sometime"})[1]["detail"]
    assert refused("op", payload="Soft")[1] == {"payload": ['Expected a dictionary of items but got type "str".']}
    assert refused("op", timeout=-1)[1] == {"timeout": ["Ensure this value is greater than or equal to 1."]}
    assert refused("op", charge_points="sch-a")[1] == {"charge_points": ['Expected a list of items but got type "str".']}
    assert ScheduledCommand.objects.count() == 2

    assert p["viewer"].delete(f"/api/schedules/{pk}/")[0] == 403
    assert p["op"].delete(f"/api/schedules/{once['id']}/")[0] == 403  # every accepted one: superusers only
    assert p["op"].delete(f"/api/schedules/{pk}/") == (204, None)
    assert p["op"].get(f"/api/schedules/{pk}/")[0] == 404
    audited = list(AuditEntry.objects.filter(action__startswith="schedule_").order_by("at").values_list("username", "action", "ok"))
    assert audited[:2] == [("op-a", "schedule_create", True), ("root", "schedule_create", True)]
    assert audited[-3:] == [("viewer-a", "schedule_delete", False), ("op-a", "schedule_delete", False), ("op-a", "schedule_delete", True)]
    assert sum(1 for _u, action, ok in audited if action == "schedule_create" and not ok) == 8
