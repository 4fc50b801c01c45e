"""The id tag pages (/id-tags/) and the local list page (/local-list/) with Django's test client:
search, create/edit/delete through the domain (list versions move, audit entries), bad input answered
on the form, rights (viewers read, operators of any site edit; syncing needs the charger's site), and
a Sync button against a real charger through a real Daphne."""
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from datapoints import id_tags, local_list
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry, IdTag

from .chargers import connected_library_charger
from .panel_people import client_for, two_sites
from .test_local_list import ListCharger

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    people = two_sites("LL-A", "LL-B")
    for tag, fields in (("CARD-1", {"in_local_list": True}), ("CARD-2", {"status": "Blocked", "parent_id_tag": "FLEET"}), ("FLEET", {})):
        id_tags.save_tag(IdTag(id_tag=tag, **fields))
    return people


def names(response):
    return [t.id_tag for t in response.context["tags"]]


def test_list_and_search(world):
    viewer = client_for(world["viewer"])
    response = viewer.get("/id-tags/")
    assert response.status_code == 200 and names(response) == ["CARD-1", "CARD-2", "FLEET"]
    assert not response.context["editor"] and b"New id tag" not in response.content
    assert names(viewer.get("/id-tags/?q=fleet")) == ["CARD-2", "FLEET"]  # the parent matches too
    assert names(viewer.get("/id-tags/?list=1")) == ["CARD-1"]
    assert names(viewer.get("/id-tags/?status=Blocked")) == ["CARD-2"]


def test_create_edit_delete_move_the_list_version_and_are_audited(world):
    op = client_for(world["op_a"])
    before = local_list.current_version()
    response = op.post("/id-tags/new", {"id_tag": "NEW-CARD", "status": "Accepted", "in_local_list": "on", "max_concurrent_tx": "1"})
    assert response.status_code == 302
    tag = IdTag.objects.get(id_tag="NEW-CARD")
    assert (tag.in_local_list, tag.max_concurrent_tx, tag.list_version) == (True, 1, before + 1)
    response = op.post(f"/id-tags/{tag.pk}/", {"id_tag": "IGNORED", "status": "Blocked", "in_local_list": "on"})
    tag.refresh_from_db()
    assert response.status_code == 302 and (tag.id_tag, tag.status, tag.list_version) == ("NEW-CARD", "Blocked", before + 2)  # the tag itself is fixed
    op.post(f"/id-tags/{tag.pk}/delete")
    assert not IdTag.objects.filter(id_tag="NEW-CARD").exists()
    assert local_list.current_version() == before + 3
    actions = list(AuditEntry.objects.filter(target="NEW-CARD").order_by("id").values_list("action", "username"))
    assert actions == [("id_tag_create", "op-a"), ("id_tag_change", "op-a"), ("id_tag_delete", "op-a")]


def test_bad_input_is_answered_on_the_form(world):
    op = client_for(world["op_a"])
    response = op.post("/id-tags/new", {"id_tag": "X" * 21, "status": "Accepted"})
    assert response.status_code == 400 and "at most 20 characters" in response.context["form"].errors["id_tag"][0]
    response = op.post("/id-tags/new", {"id_tag": "CARD-1", "status": "Accepted"})
    assert response.status_code == 400 and "already exists" in response.context["form"].errors["id_tag"][0]
    response = op.post("/id-tags/new", {"id_tag": "SELF", "status": "Accepted", "parent_id_tag": "SELF"})
    assert "own parent" in response.context["form"].errors["parent_id_tag"][0]
    response = op.post("/id-tags/new", {"id_tag": "C", "status": "ConcurrentTx"})
    assert "status" in response.context["form"].errors  # computed, never stored
    assert not IdTag.objects.filter(id_tag__in=["SELF", "C"]).exists()


def test_viewers_may_not_edit_and_may_not_sync(world):
    viewer = client_for(world["viewer"])
    tag = IdTag.objects.get(id_tag="CARD-1")
    assert viewer.post("/id-tags/new", {"id_tag": "V", "status": "Accepted"}).status_code == 403
    assert viewer.post(f"/id-tags/{tag.pk}/", {"status": "Blocked"}).status_code == 403
    assert viewer.post(f"/id-tags/{tag.pk}/delete").status_code == 403
    assert IdTag.objects.get(pk=tag.pk).status == "Accepted"
    assert viewer.post("/local-list/sync", {"charger": "LL-A"}).status_code == 403
    page = viewer.get("/local-list/")
    assert [r["dp"].client_id for r in page.context["rows"]] == ["LL-A"] and not page.context["rows"][0]["operator"]
    assert client_for(world["op_a"]).post("/local-list/sync", {"charger": "LL-B"}).status_code == 403  # another site's: not found


@pytest.mark.django_db(transaction=True)
async def test_the_sync_button_brings_a_real_charger_to_the_current_version(server):
    await sync_to_async(create_charge_point)("LL-LIVE", "Accepted")
    root = await sync_to_async(User.objects.create_superuser)("root")
    await sync_to_async(id_tags.save_tag)(IdTag(id_tag="LIVE-CARD", in_local_list=True))

    @sync_to_async
    def press(**form):
        return client_for(root).post("/local-list/sync", form)

    async with connected_library_charger(server, "LL-LIVE", charger_class=ListCharger) as cp:  # no boot: no sync of its own
        response = await press(charger="LL-LIVE")
        assert response.status_code == 200
        row = response.context["rows"][0]
        assert row["version"] == await sync_to_async(local_list.current_version)() and row["sync"]["status"] == "sent"
        assert cp.held == {"LIVE-CARD": "Accepted"}
        again = await press(all="1")
        assert again.context["rows"][0]["sync"]["status"] == "in_sync"
    assert await AuditEntry.objects.filter(action="local_list_sync", ok=True).acount() == 2


def test_the_admin_moves_the_list_version_too(world):
    admin = client_for(world["root"])
    tag = IdTag.objects.get(id_tag="CARD-1")
    before = local_list.current_version()
    response = admin.post(f"/admin/datapoints/idtag/{tag.pk}/change/", {"id_tag": "CARD-1", "status": "Blocked", "in_local_list": "on", "parent_id_tag": "", "note": ""})
    assert response.status_code == 302
    tag.refresh_from_db()
    assert (tag.status, tag.list_version) == ("Blocked", before + 1)
    admin.post(f"/admin/datapoints/idtag/{tag.pk}/delete/", {"post": "yes"})
    assert not IdTag.objects.filter(pk=tag.pk).exists() and local_list.current_version() == before + 2
