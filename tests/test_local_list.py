"""The local authorization list against a scripted charger (the `ocpp` package's ChargePoint keeping
a list as a real one does): Full when its version differs, Differential after changes, Full again on
VersionMismatch, split at SendLocalListMaxLength, refused past LocalAuthListMaxLength; versions
race-safe on PostgreSQL."""
import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from datapoints import id_tags, local_list
from datapoints.models import Datapoint, IdTag
from datapoints.paths import set_value

from .chargers import LibraryCharger, connected_library_charger, create_charge_point, dp_get, eventually

pytestmark = pytest.mark.django_db(transaction=True)


class ListCharger(LibraryCharger):
    """Holds a local list: {idTag: status}; answers SendLocalList from `statuses` (then Accepted)."""

    start_version = 0

    def __init__(self, client_id, connection):
        super().__init__(client_id, connection)
        self.version = self.start_version
        self.held = {}
        self.statuses = []
        self.sent = []  # (updateType, listVersion, [idTag or -idTag for a removal])
        self.asked = 0

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_):
        self.asked += 1
        return call_result.GetLocalListVersion(list_version=self.version)

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version, update_type, local_authorization_list=None, **_):
        entries = local_authorization_list or []
        self.sent.append((update_type, list_version, [e["id_tag"] if "id_tag_info" in e else "-" + e["id_tag"] for e in entries]))
        status = self.statuses.pop(0) if self.statuses else "Accepted"
        if status == "Accepted":
            if update_type == "Full":
                self.held = {}
            for entry in entries:
                if "id_tag_info" in entry:
                    self.held[entry["id_tag"]] = entry["id_tag_info"]["status"]
                else:
                    self.held.pop(entry["id_tag"], None)
            self.version = list_version
        return call_result.SendLocalList(status=status)


def charger_at(version):
    return type("ListChargerAt", (ListCharger,), {"start_version": version})


@sync_to_async
def save(id_tag, **fields):
    tag = IdTag.objects.filter(id_tag=id_tag).first() or IdTag(id_tag=id_tag)
    for name, value in fields.items():
        setattr(tag, name, value)
    return id_tags.save_tag(tag).list_version


@sync_to_async
def delete(id_tag):
    id_tags.delete_tag(IdTag.objects.get(id_tag=id_tag))


current = sync_to_async(local_list.current_version)


async def _sync(client_id):
    return await local_list.sync(await Datapoint.objects.aget(client_id=client_id))


async def test_a_charger_at_another_version_gets_the_full_list_after_its_boot(server):
    name = await create_charge_point("list-full", "Accepted")
    await save("A", in_local_list=True)
    await save("B", in_local_list=True, status="Blocked")
    await save("C")  # not in the list
    async with connected_library_charger(server, "list-full", charger_class=charger_at(99)) as cp:
        await cp.boot()
        await eventually(lambda: cp.sent)
        version = await current()
        assert cp.sent == [("Full", version, ["A", "B"])]
        assert cp.held == {"A": "Accepted", "B": "Blocked"}
        state = await eventually(lambda: dp_get(f"{name}.State.LocalListSync"))
        assert state["status"] == "sent" and state["version"] == version
        assert await dp_get(f"{name}.State.LocalListVersion") == version
        again = await _sync("list-full")  # now equal: nothing sent
        assert (again.status, len(cp.sent)) == ("in_sync", 1)


async def test_changes_go_as_a_differential_update(server):
    await create_charge_point("list-diff", "Accepted")
    for tag in ("A", "B", "C", "D"):
        await save(tag, in_local_list=True)
    await save("PARENT")
    async with connected_library_charger(server, "list-diff", charger_class=ListCharger) as cp:
        await cp.boot()
        await eventually(lambda: cp.held)
        base = cp.version
        await save("A", status="Blocked")  # edited
        await save("B", in_local_list=False)  # taken out of the list
        await delete("C")  # deleted
        await save("E", in_local_list=True)  # new
        await save("D", parent_id_tag="PARENT")
        await save("PARENT", status="Blocked")  # a parent: its children in the list change with it
        outcome = await _sync("list-diff")
        assert outcome.status == "sent", outcome.text
        kind, version, entries = cp.sent[-1]
        assert (kind, version) == ("Differential", await current()) and version > base
        assert sorted(entries) == ["-B", "-C", "A", "D", "E"]
        assert cp.held == {"A": "Blocked", "D": "Blocked", "E": "Accepted"}


async def test_version_mismatch_falls_back_to_the_full_list(server):
    name = await create_charge_point("list-mismatch", "Accepted")
    await save("A", in_local_list=True)
    async with connected_library_charger(server, "list-mismatch", charger_class=ListCharger) as cp:
        await cp.boot()
        await eventually(lambda: cp.held)
        await save("B", in_local_list=True)
        cp.statuses = ["VersionMismatch"]
        outcome = await _sync("list-mismatch")
        assert [s[0] for s in cp.sent] == ["Full", "Differential", "Full"]
        assert outcome.status == "sent" and cp.held == {"A": "Accepted", "B": "Accepted"}
        assert await dp_get(f"{name}.State.LocalListVersion") == await current()


async def test_split_at_the_message_limit_and_refused_past_the_list_limit(server):
    name = await create_charge_point("list-split", "Accepted")
    for tag in ("T1", "T2", "T3", "T4", "T5"):
        await save(tag, in_local_list=True)
    await sync_to_async(set_value)(f"{name}.Configuration.SendLocalListMaxLength", "2", operator=False)
    async with connected_library_charger(server, "list-split", charger_class=ListCharger) as cp:
        await cp.boot()
        await eventually(lambda: len(cp.sent) == 3)
        assert [(kind, entries) for kind, _v, entries in cp.sent] == [("Full", ["T1", "T2"]), ("Differential", ["T3", "T4"]), ("Differential", ["T5"])]
        versions = [v for _k, v, _e in cp.sent]
        assert versions == sorted(versions) and versions[-1] == await current()
        assert len(cp.held) == 5

        await sync_to_async(set_value)(f"{name}.Configuration.LocalAuthListMaxLength", "4", operator=False)
        await save("T6", in_local_list=True)
        outcome = await _sync("list-split")
        assert outcome.status == "too_long" and "at most 4" in outcome.text
        assert len(cp.sent) == 3  # nothing sent
        assert (await dp_get(f"{name}.State.LocalListSync"))["status"] == "too_long"


async def _disconnected(name):
    return await dp_get(f"{name}.State.Connected") is False


async def test_a_charger_without_a_local_list_and_an_offline_one(server):
    name = await create_charge_point("list-none", "Accepted")
    await save("A", in_local_list=True)
    async with connected_library_charger(server, "list-none", charger_class=charger_at(-1)) as cp:
        await cp.boot()
        outcome = await _sync("list-none")
        assert outcome.status == "unsupported" and cp.sent == []
    await eventually(lambda: _disconnected(name))  # the server has seen the socket close
    offline = await _sync("list-none")
    assert offline.status == "failed" and "offline" in offline.text


def test_versions_are_distinct_under_concurrent_changes(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the lock matters on PostgreSQL")
    barrier = threading.Barrier(8)
    errors = []

    def change(n):
        try:
            barrier.wait()
            id_tags.save_tag(IdTag(id_tag=f"RACE-{n}", in_local_list=True))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=change, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = sorted(IdTag.objects.values_list("list_version", flat=True))
    assert versions == list(range(1, 9))


async def test_boots_ask_nothing_until_a_list_exists(server):
    await create_charge_point("list-quiet", "Accepted")
    await save("NOT-LISTED")
    async with connected_library_charger(server, "list-quiet", charger_class=ListCharger) as cp:
        await cp.boot()
        await asyncio.sleep(1)  # five times the boot batch window
        assert cp.asked == 0
        await save("NOW-LISTED", in_local_list=True)
        await cp.boot()  # the same check, now with a list: it asks, and sends it
        await eventually(lambda: cp.held == {"NOW-LISTED": "Accepted"})
        assert cp.asked == 1
