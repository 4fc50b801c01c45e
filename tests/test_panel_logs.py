"""The audit log page (/audit/) and the message log page (/messages/), with Django's test client:
filters, pagination with the filters kept, rights per site (a site-A operator never sees site B's
entries, frames or charger names; entries without a site are for superusers), the page saying
when the message log is off, and a real charger's frames (through a real Daphne) on the page."""
import functools
import json
import re
import zoneinfo
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.utils import timezone

from datapoints import sites
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry, MessageLogEntry
from panel.views import logs

from .chargers import RawCharger, eventually

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def world(db):
    a, b = sites.create_site("site-a"), sites.create_site("site-b")
    cp_a, cp_b, cp_free = create_charge_point("CP-A", "Pending"), create_charge_point("CP-Bravo", "Pending"), create_charge_point("CP-Free", "Pending")
    sites.assign(a, [cp_a])
    sites.assign(b, [cp_b])
    op_a = User.objects.create_user("op-a")
    sites.set_role(op_a, a, "operator")
    op_b = User.objects.create_user("op-b")
    sites.set_role(op_b, b, "operator")
    root = User.objects.create_superuser("root")
    return {"site_a": a, "site_b": b, "a": cp_a, "b": cp_b, "free": cp_free, "op_a": op_a, "op_b": op_b, "root": root}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def entry(minutes_ago, user, action, charge_point=None, site=None, target="", ok=True, outcome="", detail=None):
    return AuditEntry.objects.create(
        at=NOW - timedelta(minutes=minutes_ago),
        user=user,
        username=user.username if user else "",
        action=action,
        site=site if site is not None or charge_point is None else charge_point.site,
        charge_point=charge_point,
        target=target or (charge_point.client_id if charge_point else ""),
        ok=ok,
        outcome=outcome,
        detail=detail or {},
    )


def frame(minutes_ago, charge_point, direction="in", message_type=2, unique_id="1", action="Heartbeat", payload="{}"):
    return MessageLogEntry(charge_point=charge_point, at=NOW - timedelta(minutes=minutes_ago), direction=direction, message_type=message_type, unique_id=unique_id, action=action, payload=payload)


@pytest.fixture
def audit_rows(world):
    w = world
    return {
        "approve_a": entry(50, w["op_a"], "approve", w["a"], outcome="Accepted", detail={"status": "Accepted"}),
        "write_a": entry(40, w["op_a"], "element_write", w["a"], target=f"{w['a'].name}.Config.HeartbeatInterval", outcome="written", detail={"path": "Config.HeartbeatInterval", "value": 60}),
        "command_a_failed": entry(30, w["root"], "command", w["a"], ok=False, outcome="timeout: no answer", detail={"command": "Reset", "payload": {"type": "Soft"}}),
        "command_b": entry(20, w["op_b"], "command", w["b"], outcome='{"status": "Accepted"}', detail={"command": "Reset"}),
        "shell_free": entry(15, None, "create", w["free"], outcome=w["free"].name),
        "site_mgmt": entry(10, w["root"], "site_create", target="site-secret", outcome="created"),
        "shell_a": entry(5, None, "password", w["a"], outcome="key stored"),
    }


def shown(response):
    """The ids of the rows a log page shows."""
    assert response.status_code == 200
    return [row.entry.id for row in response.context["rows"]]


def ids(*entries):
    return [e.id for e in entries]


# --- login ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/audit/", "/messages/", "/audit/?charger=CP-A", "/messages/?charger=CP-A"])
def test_the_log_pages_need_a_login(world, url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- the audit log: rights --------------------------------------------------------------------------
def test_a_superuser_reads_every_audit_entry_newest_first(audit_rows):
    r = audit_rows
    page = client_for(User.objects.get(username="root")).get("/audit/")
    assert shown(page) == ids(r["shell_a"], r["site_mgmt"], r["shell_free"], r["command_b"], r["command_a_failed"], r["write_a"], r["approve_a"])
    html = page.content.decode()
    assert "site-secret" in html and "CP-Bravo" in html and "CP-Free" in html


def test_a_site_a_operator_reads_only_site_a_entries(audit_rows, world):
    r = audit_rows
    page = client_for(world["op_a"]).get("/audit/")
    assert shown(page) == ids(r["shell_a"], r["command_a_failed"], r["write_a"], r["approve_a"])
    html = page.content.decode()
    for secret in ("CP-Bravo", world["b"].name, "site-b", "CP-Free", world["free"].name, "site-secret", "op-b", "site_create"):
        assert secret not in html, secret
    # the filter's choices offer only what the user may read
    assert 'value="site-a"' in html and "root" in html  # root acted on a site-a charger
    assert '<option value="-" ' not in html.split('id="f-site"')[1].split("</select>")[0]  # no "no site" choice


def test_filtering_by_a_charger_of_another_site_looks_like_an_unknown_one(audit_rows, world):
    client = client_for(world["op_a"])
    for charger in ("CP-Bravo", world["b"].name, "CP-Nope"):
        page = client.get("/audit/", {"charger": charger})
        assert shown(page) == [], charger
        assert "No entry matches these filters." in page.content.decode()
    assert shown(client.get("/audit/", {"site": "site-b"})) == []
    assert shown(client.get("/audit/", {"site": "-"})) == []  # entries without a site: superusers only
    assert shown(client.get("/audit/", {"user": "op-b"})) == []
    assert shown(client_for(world["root"]).get("/audit/", {"charger": "CP-Bravo"})) == ids(audit_rows["command_b"])


def test_a_user_with_no_role_reads_an_empty_audit_log(audit_rows):
    nobody = User.objects.create_user("nobody")
    page = client_for(nobody).get("/audit/")
    assert shown(page) == [] and "No operator actions recorded yet." in page.content.decode()


# --- the audit log: filters -------------------------------------------------------------------------
def test_audit_filters(audit_rows, world):
    r = audit_rows
    root = client_for(world["root"])
    assert shown(root.get("/audit/", {"site": "site-b"})) == ids(r["command_b"])
    assert shown(root.get("/audit/", {"site": "-"})) == ids(r["site_mgmt"], r["shell_free"])
    assert shown(root.get("/audit/", {"user": "op-a"})) == ids(r["write_a"], r["approve_a"])
    assert shown(root.get("/audit/", {"user": "-"})) == ids(r["shell_a"], r["shell_free"])
    assert shown(root.get("/audit/", {"action": "command"})) == ids(r["command_b"], r["command_a_failed"])
    assert shown(root.get("/audit/", {"outcome": "failed"})) == ids(r["command_a_failed"])
    assert len(shown(root.get("/audit/", {"outcome": "ok"}))) == 6
    # the charger by ClientId, by datapoint name (the element write's target is a path of it)
    by_client_id = shown(root.get("/audit/", {"charger": "CP-A"}))
    assert by_client_id == ids(r["shell_a"], r["command_a_failed"], r["write_a"], r["approve_a"])
    assert shown(root.get("/audit/", {"charger": world["a"].name})) == by_client_id
    assert shown(root.get("/audit/", {"charger": "HeartbeatInterval"})) == ids(r["write_a"])
    # filters combine
    assert shown(root.get("/audit/", {"charger": "CP-A", "user": "root", "action": "command"})) == ids(r["command_a_failed"])


def test_audit_time_range_is_read_in_the_browsers_time_zone(audit_rows, world):
    r = audit_rows
    root = client_for(world["root"])
    vienna = zoneinfo.ZoneInfo("Europe/Vienna")
    since = (NOW - timedelta(minutes=35)).astimezone(vienna).strftime("%Y-%m-%dT%H:%M:%S")
    until = (NOW - timedelta(minutes=12)).astimezone(vienna).strftime("%Y-%m-%dT%H:%M:%S")
    assert shown(root.get("/audit/", {"since": since, "until": until, "tz": "Europe/Vienna"})) == ids(r["shell_free"], r["command_b"], r["command_a_failed"])
    # the same wall-clock text read as UTC is another window (Vienna is 1 or 2 hours ahead of UTC)
    assert shown(root.get("/audit/", {"since": since, "until": until, "tz": "UTC"})) != ids(r["shell_free"], r["command_b"], r["command_a_failed"])
    # a date alone: the whole day
    today = NOW.astimezone(vienna).date().isoformat()
    assert len(shown(root.get("/audit/", {"since": today, "until": today, "tz": "Europe/Vienna"}))) == len([e for e in r.values() if e.at.astimezone(vienna).date().isoformat() == today])


def test_a_time_that_cannot_be_read_is_said_and_not_applied(audit_rows, world):
    page = client_for(world["root"]).get("/audit/", {"since": "yesterday"})
    assert len(shown(page)) == 7
    assert "&#x27;yesterday&#x27; is not a time" in page.content.decode()


def test_failed_actions_stand_out_and_the_detail_is_readable(audit_rows, world):
    rows = table_rows(client_for(world["root"]).get("/audit/").content.decode())
    failed = [row for marked, row in rows if marked]
    assert len(rows) == 7 and len(failed) == 1
    assert "timeout: no answer" in failed[0] and '<span class="failed">failed</span>' in failed[0]
    assert all('class="failed"' not in row for marked, row in rows if not marked)
    # the detail JSON whole, indented, inside a <details>
    assert "<details><summary" in failed[0] and "&quot;payload&quot;: {\n    &quot;type&quot;: &quot;Soft&quot;" in failed[0]


def test_a_charger_links_to_its_page_only_for_those_who_may_see_it(audit_rows, world):
    root_html = client_for(world["root"]).get("/audit/").content.decode()
    assert 'href="/charge-points/CP-Bravo/"' in root_html
    # CP-A moves to site B: its old site-A entries stay readable for op-a, but unlinked
    sites.assign(world["site_b"], [world["a"]])
    html = client_for(world["op_a"]).get("/audit/").content.decode()
    assert "CP-A" in html and 'href="/charge-points/CP-A/"' not in html


def test_the_audit_log_is_paginated_with_the_filters_kept(world):
    for i in range(230):
        entry(i, world["op_a"], "command" if i % 2 else "approve", world["a"], outcome=f"n{i}")
    entry(0, world["op_b"], "command", world["b"])
    client = client_for(world["op_a"])
    first = client.get("/audit/")
    assert len(shown(first)) == 100 and first.context["page"].paginator.count == 230
    assert first.context["rows"][0].entry.outcome == "n0" and first.context["rows"][99].entry.outcome == "n99"
    last = client.get("/audit/", {"page": 3})
    assert len(shown(last)) == 30 and last.context["rows"][-1].entry.outcome == "n229"
    assert shown(client.get("/audit/", {"page": 99})) == shown(last)  # past the end: the last page
    filtered = client.get("/audit/", {"action": "command", "charger": "CP-A"})
    assert filtered.context["page"].paginator.count == 115
    html = filtered.content.decode()
    assert "Page 1 of 2" in html
    link = re.search(r'href="\?([^"]+)" rel="next"', html).group(1)
    assert set(link.split("&amp;")) == {"action=command", "charger=CP-A", "page=2"}
    second = client.get("/audit/?" + link.replace("&amp;", "&"))
    assert len(shown(second)) == 15 and all(row.entry.action == "command" for row in second.context["rows"])
    assert 'rel="prev"' in second.content.decode() and 'rel="next"' not in second.content.decode()


# --- the message log --------------------------------------------------------------------------------
@pytest.fixture
def frames(world):
    a, b = world["a"], world["b"]
    rows = MessageLogEntry.objects.bulk_create(
        [
            frame(60, a, "in", 2, "b-1", "BootNotification", json.dumps({"chargePointVendor": "go-e", "chargePointModel": "Gemini", "chargePointSerialNumber": "203040", "firmwareVersion": "055.7", "meterType": "internal"})),
            frame(59, a, "out", 3, "b-1", "BootNotification", json.dumps({"status": "Accepted", "interval": 300, "currentTime": "2025-01-01T00:00:00Z"})),
            frame(30, a, "out", 2, "r-7", "Reset", json.dumps({"type": "Soft"})),
            frame(29, a, "in", 4, "r-7", "Reset", json.dumps({"errorCode": "NotSupported", "errorDescription": "no", "errorDetails": {}})),
            frame(20, b, "in", 2, "s-1", "StatusNotification", json.dumps({"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"})),
            frame(10, a, "in", 0, "", "", "this is not json"),
        ]
    )
    return rows


def test_a_site_a_operator_reads_only_site_a_frames(frames, world):
    client = client_for(world["op_a"])
    page = client.get("/messages/")
    assert shown(page) == [frames[5].id, frames[3].id, frames[2].id, frames[1].id, frames[0].id]
    html = page.content.decode()
    for secret in ("CP-Bravo", world["b"].name, "GroundFailure", "StatusNotification</td>"):
        assert secret not in html, secret
    for charger in ("CP-Bravo", world["b"].name, "CP-Nope"):
        page = client.get("/messages/", {"charger": charger})
        assert shown(page) == [] and "No frame matches this search." in page.content.decode(), charger
    assert shown(client.get("/messages/", {"text": "GroundFailure"})) == []
    assert shown(client.get("/messages/", {"action": "StatusNotification"})) == []
    everything = shown(client_for(world["root"]).get("/messages/"))
    assert len(everything) == 6 and frames[4].id in everything
    assert shown(client_for(world["op_b"]).get("/messages/")) == [frames[4].id]


def test_message_log_filters(frames, world):
    root = client_for(world["root"])
    assert shown(root.get("/messages/", {"charger": "CP-A"})) == [f.id for f in reversed(frames) if f.charge_point_id == world["a"].id]
    assert shown(root.get("/messages/", {"charger": world["b"].name})) == [frames[4].id]
    assert shown(root.get("/messages/", {"action": "BootNotification"})) == [frames[1].id, frames[0].id]
    assert shown(root.get("/messages/", {"text": "gemini"})) == [frames[0].id]  # case-insensitive, in the payload
    assert shown(root.get("/messages/", {"text": "r-7"})) == [frames[3].id, frames[2].id]  # or the message id
    assert shown(root.get("/messages/", {"direction": "out"})) == [frames[2].id, frames[1].id]
    assert shown(root.get("/messages/", {"kind": "4"})) == [frames[3].id]
    assert shown(root.get("/messages/", {"kind": "0"})) == [frames[5].id]
    since = (NOW - timedelta(minutes=35)).strftime("%Y-%m-%dT%H:%M")
    until = (NOW - timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M")
    assert shown(root.get("/messages/", {"since": since, "until": until, "tz": "UTC"})) == [frames[4].id, frames[3].id, frames[2].id]
    assert shown(root.get("/messages/", {"charger": "CP-A", "direction": "in", "action": "Reset"})) == [frames[3].id]


def table_rows(html):
    """[(marked abnormal, row html)] of a log page's table body."""
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [(row.lstrip().startswith('<tr class="alarm-faulted">'), row) for row in body.split("</tr>") if "<td" in row]


def test_frames_show_type_direction_and_the_whole_payload_on_demand(frames, world):
    html = client_for(world["root"]).get("/messages/", {"charger": "CP-A"}).content.decode()
    rows = table_rows(html)
    kinds = [re.search(r'<td(?: class="kind-abnormal")?>(CALL|CALLRESULT|CALLERROR|BAD)</td>', row).group(1) for _marked, row in rows]
    assert kinds == ["BAD", "CALLERROR", "CALL", "CALLRESULT", "CALL"]
    assert [marked for marked, _row in rows] == [True, True, False, False, False]  # CALLERROR and BAD stand out
    bad, error, reset, boot_answer, boot = (row for _marked, row in rows)
    assert "⟵ in" in error and "out ⟶" in reset and "⟵ in" in boot
    assert 'href="?text=b-1&amp;charger=CP-A"' in boot_answer  # the message id finds the call and its answer
    # a long payload: shortened in the row, whole and indented inside a <details>; a short one as it is
    assert "<details><summary>" in boot and "…</summary>" in boot and '\n  &quot;meterType&quot;: &quot;internal&quot;\n}</pre>' in boot
    assert "<details>" not in boot_answer and "&quot;interval&quot;: 300" in boot_answer
    assert "<details>" not in bad and "this is not json" in bad  # a frame that is not JSON: as stored


def test_the_message_log_is_paginated_and_counts_are_capped(world, monkeypatch):
    MessageLogEntry.objects.bulk_create([frame(i, world["a"], unique_id=f"u{i}") for i in reversed(range(250))])  # stored oldest first, as a server does
    client = client_for(world["op_a"])
    page = client.get("/messages/", {"action": "Heartbeat"})
    assert len(shown(page)) == 100 and page.context["rows"][0].entry.unique_id == "u0"
    assert "Page 1 of 3" in page.content.decode() and 'href="?action=Heartbeat&amp;page=2" rel="next"' in page.content.decode()
    third = client.get("/messages/", {"action": "Heartbeat", "page": 3})
    assert third.context["rows"][-1].entry.unique_id == "u249" and len(shown(third)) == 50
    monkeypatch.setattr(logs, "MESSAGES_COUNT_CAP", 120)
    capped = client.get("/messages/")
    assert capped.context["page"].paginator.num_pages == 2
    assert "More than 120 frames match" in capped.content.decode()
    monkeypatch.setattr(logs, "MESSAGES_COUNT_CAP", 250)
    assert "More than" not in client.get("/messages/").content.decode()


def test_the_page_says_how_long_frames_are_kept_and_when_the_log_is_off(frames, world, settings):
    client = client_for(world["op_a"])
    settings.OCPP_MESSAGE_LOG_DAYS = 3
    html = client.get("/messages/").content.decode()
    assert "Frames are kept 3 days" in html and "The message log is off" not in html
    settings.OCPP_MESSAGE_LOG_DAYS = 0
    html = client.get("/messages/").content.decode()
    assert "The message log is off." in html and "OCPP_MESSAGE_LOG_DAYS is 0" in html and "recorded before it was turned off" in html
    MessageLogEntry.objects.all().delete()
    html = client.get("/messages/").content.decode()
    assert "The message log is off." in html and "No frames: the message log is off." in html
    del settings.OCPP_MESSAGE_LOG_DAYS
    assert "Frames are kept 7 days" in client.get("/messages/").content.decode()  # the default


def test_what_chargers_and_operators_typed_is_shown_escaped(world):
    entry(1, world["root"], "element_write", world["a"], target=f"{world['a'].name}.Config.<b>x</b>", detail={"value": "<img src=x>"}, outcome="<i>written</i>")
    MessageLogEntry.objects.bulk_create([frame(1, world["a"], unique_id="<u>", payload=json.dumps({"data": "<script>alert(1)</script>" * 8}))])
    root = client_for(world["root"])
    audit_html = root.get("/audit/").content.decode()
    assert f"{world['a'].name}.<wbr>Config.<wbr>&lt;b&gt;x&lt;/b&gt;" in audit_html  # a break allowed after each dot, nothing else raw
    assert "<b>x" not in audit_html and "<img" not in audit_html and "<i>written" not in audit_html
    messages_html = root.get("/messages/").content.decode()
    assert "<script>alert" not in messages_html and "&lt;script&gt;alert(1)" in messages_html and "<u>" not in messages_html


# --- end to end: frames of a real charger through a real Daphne ------------------------------------
def in_db_thread(function):
    """`function` in sync_to_async's thread, that thread's database connection closed after (left
    open, it keeps PostgreSQL from dropping the test database)."""

    @sync_to_async
    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return run


@pytest.mark.django_db(transaction=True)
async def test_a_real_chargers_frames_show_for_its_site_only(server):
    @in_db_thread
    def prepare():
        a, b = sites.create_site("live-a"), sites.create_site("live-b")
        sites.assign(a, [create_charge_point("LIVE-A", "Accepted")])
        op_a, op_b = User.objects.create_user("live-op-a"), User.objects.create_user("live-op-b")
        sites.set_role(op_a, a, "viewer")
        sites.set_role(op_b, b, "operator")
        return op_a, op_b

    @in_db_thread
    def page(user, **query):
        response = client_for(user).get("/messages/", query)
        return [(row.kind, row.entry.direction, row.entry.unique_id, row.entry.action) for row in response.context["rows"]], response.content.decode()

    op_a, op_b = await prepare()
    charger = await RawCharger.connect(server, "LIVE-A")
    try:
        boot = await charger.call("BootNotification", {"chargePointVendor": "LiveVendor", "chargePointModel": "m"}, "boot-1")
        await charger.send("not json at all")
        await charger.no_answer(0.2)
    finally:
        await charger.close()
    assert boot[2]["status"] == "Accepted"

    async def three_rows():
        rows, _html = await page(op_a, charger="LIVE-A")
        return rows if len(rows) >= 3 else None

    rows = await eventually(three_rows, timeout=10)
    assert rows == [("BAD", "in", "", ""), ("CALLRESULT", "out", "boot-1", "BootNotification"), ("CALL", "in", "boot-1", "BootNotification")]
    rows, html = await page(op_b)
    assert rows == [] and "LIVE-A" not in html and "LiveVendor" not in html
    rows, _html = await page(op_b, text="LiveVendor")
    assert rows == []
