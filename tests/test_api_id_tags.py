"""REST API id tags (api/views/id_tags.py): every login reads, operators of a site change; the
panel's form checks the meaning; changes audited and moving the local list on."""
import pytest

from datapoints.models import AuditEntry, IdTag

from .api_client import people

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_read_change_delete_and_rights(server):
    p = people(server, "tag-a", "tag-b")
    status, body = p["op"].post("/api/id-tags/", {"id_tag": "CARD-1", "expiry_date": "2030-01-01T00:00:00Z", "in_local_list": True, "max_concurrent_tx": 2})
    assert status == 201 and body == {**body, "id_tag": "CARD-1", "status": "Accepted", "expiry_date": "2030-01-01T00:00:00Z", "in_local_list": True, "max_concurrent_tx": 2}
    assert body["list_version"] > 0  # in the list: the list moved on
    pk = body["id"]
    assert p["nobody"].get("/api/id-tags/")[1]["results"][0]["id_tag"] == "CARD-1"
    assert p["viewer"].get(f"/api/id-tags/{pk}/")[1]["id_tag"] == "CARD-1"
    status, body = p["viewer"].post("/api/id-tags/", {"id_tag": "CARD-2"})
    assert status == 403 and "operator role" in body["detail"]

    assert p["op"].post("/api/id-tags/", {"id_tag": "CARD-1"}) == (400, {"id_tag": ["Id tag with this Id tag already exists."]})
    assert p["op"].post("/api/id-tags/", {"id_tag": "X" * 21})[1] == {"id_tag": ["Ensure this field has no more than 20 characters."]}
    assert p["op"].post("/api/id-tags/", {"id_tag": ["CARD-3"]})[1] == {"id_tag": ["Not a valid string."]}
    assert p["op"].post("/api/id-tags/", {"id_tag": "CARD-3", "max_concurrent_tx": 10**12})[1]== {"max_concurrent_tx": ["Ensure this value is less than or equal to 10000."]}
    assert p["op"].post("/api/id-tags/", {"id_tag": "CARD-3", "expiry_date": "tomorrow"})[1]["expiry_date"][0].startswith("Datetime has wrong format")
    assert p["op"].post("/api/id-tags/", {"id_tag": "CARD-3", "status": "ConcurrentTx"})[1]["status"][0].startswith("Select a valid choice")
    assert p["op"].post("/api/id-tags/", {"id_tag": "CARD-3", "parent_id_tag": "CARD-3"})[1] == {"parent_id_tag": ["A tag cannot be its own parent; leave it empty or name the group's tag."]}
    assert p["op"].post("/api/id-tags/", {})[1] == {"id_tag": ["This field is required."]}

    status, body = p["op"].patch(f"/api/id-tags/{pk}/", {"status": "Blocked", "note": "lost"})
    assert status == 200 and (body["status"], body["note"], body["max_concurrent_tx"], body["in_local_list"]) == ("Blocked", "lost", 2, True)
    assert p["op"].patch(f"/api/id-tags/{pk}/", {"id_tag": "OTHER"})[1] == {"id_tag": ["a tag's id stays; make a new tag instead"]}
    assert p["viewer"].patch(f"/api/id-tags/{pk}/", {"status": "Accepted"})[0] == 403
    assert p["op"].patch("/api/id-tags/999999/", {"status": "Accepted"})[0] == 404
    assert p["op"].get("/api/id-tags/99999999999999999999999/")[0] == 404
    assert IdTag.objects.get(pk=pk).status == "Blocked"

    assert p["viewer"].delete(f"/api/id-tags/{pk}/")[0] == 403
    assert p["op"].delete(f"/api/id-tags/{pk}/") == (204, None)
    assert not IdTag.objects.exists() and p["op"].delete(f"/api/id-tags/{pk}/")[0] == 404
    assert list(AuditEntry.objects.order_by("at").values_list("username", "action", "target")) == [
        ("op-a", "id_tag_create", "CARD-1"), ("op-a", "id_tag_change", "CARD-1"), ("op-a", "id_tag_delete", "CARD-1")]
