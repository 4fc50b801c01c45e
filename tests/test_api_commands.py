"""REST API commands (api/views/commands.py, api/tracking.py): fire-and-track (202, poll the id)
and wait, against real chargers on a real Daphne; rights, refusals, bad input, and a record whose
sender died expiring instead of staying pending."""
import asyncio
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import TrackedCommand
from datapoints.models import AuditEntry
from datapoints.paths import get_value

from .api_client import people
from .chargers import CommandCharger, RawCharger, connected_library_charger

pytestmark = pytest.mark.django_db(transaction=True)


async def poll(api, url, until=lambda body: body["status"] != "pending", timeout=10):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await asyncio.to_thread(api.get, url)
        if status != 200 or until(body) or asyncio.get_running_loop().time() > deadline:
            return status, body
        await asyncio.sleep(0.05)


def test_fire_and_track_outlives_the_request(server):
    """The 202 comes back while the charger has not answered; the answer is recorded after it."""
    p = people(server, "cmd-a1", "cmd-b1")

    async def scenario():
        charger = await RawCharger.connect(server, "cmd-a1")
        await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
        status, body, headers = await asyncio.to_thread(p["op"].call, "POST", "/api/commands/", {"charge_point": "cmd-a1", "action": "Reset", "payload": {"type": "Soft"}, "timeout": 10})
        assert status == 202 and body["status"] == "pending" and headers["Location"].endswith(f"/api/commands/{body['id']}/")
        frame = await charger.recv()  # the CALL arrives after the request was answered
        assert frame[0] == 2 and frame[2:] == ["Reset", {"type": "Soft"}]
        assert (await asyncio.to_thread(p["viewer"].get, f"/api/commands/{body['id']}/"))[1]["status"] == "pending"
        await charger.send([3, frame[1], {"status": "Accepted"}])
        status, done = await poll(p["viewer"], f"/api/commands/{body['id']}/")
        await charger.close()
        return body, done

    sent, done = asyncio.run(scenario())
    assert done == {**sent, "status": "answered", "response": {"status": "Accepted"}, "finished_at": done["finished_at"]} and done["finished_at"]
    assert get_value(f"{p['a'].name}.Commands.Reset.Response") == {"status": "Accepted"}
    assert list(AuditEntry.objects.filter(action="command").values_list("username", "ok", "detail__command")) == [("op-a", True, "Reset")]
    status, listed = p["viewer"].get("/api/commands/")
    assert status == 200 and [c["id"] for c in listed["results"]] == [sent["id"]]
    assert p["nobody"].get(f"/api/commands/{sent['id']}/")[0] == 404 and p["nobody"].get("/api/commands/")[1]["count"] == 0


def test_wait_outcomes_and_refusals(server):
    p = people(server, "cmd-a2", "cmd-b2")
    post = lambda who, body: p[who].post("/api/commands/", {"charge_point": "cmd-a2", **body})  # noqa: E731
    status, body = post("op", {"action": "Reset", "payload": {"type": "Soft"}, "wait": True})
    assert status == 503 and body["status"] == "offline" and "not connected" in body["error"]
    status, body = post("op", {"action": "Reset", "payload": {"type": "Soft"}})
    assert status == 202
    assert p["op"].get(f"/api/commands/{body['id']}/")[1]["status"] in ("pending", "offline")

    async def connected():
        async with connected_library_charger(server, "cmd-a2", charger_class=CommandCharger) as cp:
            await cp.boot()
            answered = await asyncio.to_thread(post, "op", {"action": "UnlockConnector", "payload": {"connectorId": 1}, "wait": True, "timeout": 5})
            tracked = await asyncio.to_thread(post, "op", {"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}})
            polled = await poll(p["op"], f"/api/commands/{tracked[1]['id']}/")
            return answered, polled, cp.received

    (status, body), (_s, polled), received = asyncio.run(connected())
    assert (status, body["status"], body["response"]) == (200, "answered", {"status": "Unlocked"})
    assert polled["status"] == "answered" and polled["response"]["configurationKey"][0]["key"] == "HeartbeatInterval"
    assert [r[0] for r in received] == ["UnlockConnector", "GetConfiguration"]

    status, body = post("op", {"action": "Reset", "payload": {"type": "Later"}})
    assert status == 400 and "schema" in body["detail"]
    status, body = post("op", {"action": "Dance", "payload": {}})
    assert status == 400 and body["action"] == ['"Dance" is not a valid choice.']
    status, body = post("op", {"action": "Reset", "payload": [1, 2]})
    assert status == 400 and "payload" in body
    assert post("op", {"action": "Reset", "payload": {"type": "Soft"}, "timeout": 10**100})[1] == {"timeout": ["Ensure this value is less than or equal to 300.0."]}
    assert post("op", {"action": "Reset", "payload": {"type": "Soft"}, "timeout": "soon"})[1] == {"timeout": ["A valid number is required."]}
    assert p["op"].post("/api/commands/", {"action": "Reset"})[1] == {"charge_point": ["This field is required."]}
    assert p["op"].post("/api/commands/", b"{not json")[0] == 400
    assert p["root"].post("/api/charge-points/", {"client_id": "cmd-never-booted"})[0] == 201
    status, body = p["root"].post("/api/commands/", {"charge_point": "cmd-never-booted", "action": "RemoteStartTransaction", "payload": {"idTag": "T1"}, "wait": True})
    assert status == 400 and body["status"] == "refused" and "goes only to an Accepted charger" in body["error"]
    status, body = post("viewer", {"action": "Reset", "payload": {"type": "Soft"}})
    assert status == 403 and "operator role" in body["detail"]
    assert p["op"].post("/api/commands/", {"charge_point": "cmd-b2", "action": "Reset", "payload": {"type": "Soft"}})[0] == 404
    assert p["op"].get(f"/api/commands/{uuid.uuid4()}/")[0] == 404 and p["op"].call("GET", "/api/commands/not-an-id/", raw=True)[0] == 404
    audited = list(AuditEntry.objects.filter(action="command").order_by("at").values_list("detail__command", "ok"))
    assert audited == [("Reset", False), ("Reset", False), ("UnlockConnector", True), ("GetConfiguration", True), ("Reset", False), ("RemoteStartTransaction", False)]


def test_a_pending_record_of_a_dead_sender_expires_when_read(server):
    p = people(server, "cmd-a3", "cmd-b3")
    long_ago = timezone.now() - timedelta(minutes=5)
    dead = TrackedCommand.objects.create(user=p["users"]["op"], charge_point=p["a"], action="Reset", payload={"type": "Soft"}, timeout=30, node="node-that-died:1", created_at=long_ago)
    young = TrackedCommand.objects.create(user=p["users"]["op"], charge_point=p["a"], action="Reset", payload={"type": "Soft"}, timeout=30, node="busy:2", created_at=timezone.now())
    status, body = p["viewer"].get(f"/api/commands/{dead.pk}/")
    assert status == 200 and body["status"] == "timeout" and "node-that-died:1" in body["error"] and "stopped" in body["error"]
    assert TrackedCommand.objects.get(pk=dead.pk).status == "timeout"
    assert p["viewer"].get(f"/api/commands/{young.pk}/")[1]["status"] == "pending"
    assert {c["id"]: c["status"] for c in p["viewer"].get("/api/commands/")[1]["results"]} == {str(dead.pk): "timeout", str(young.pk): "pending"}


def test_tracked_commands_are_pruned_after_keep_days(server):
    from api import tracking

    p = people(server, "cmd-a4", "cmd-b4")
    make = lambda age: TrackedCommand.objects.create(charge_point=p["a"], action="Reset", payload={}, timeout=30, status="answered", created_at=timezone.now() - age)  # noqa: E731
    old, recent = make(timedelta(days=tracking.KEEP_DAYS, minutes=1)), make(timedelta(days=tracking.KEEP_DAYS - 1))
    assert tracking.prune() == 1 and list(TrackedCommand.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not TrackedCommand.objects.filter(pk=old.pk).exists()
