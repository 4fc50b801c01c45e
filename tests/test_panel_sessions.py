"""The sessions pages (panel/views/sessions.py over datapoints/sessions.py) with Django's test
client: the list's filters, sorting, pages and site time zones; the CSV (same filters, every row,
ISO times, kWh to 3 decimals); totals per tag and per site; rights (a site-A operator never sees
site B's sessions; chargers in no site are for superusers); zombie suspects and closing one
(fields, the connector's CurrentTransactionId, the audit entry, 403 for viewers, 404 elsewhere);
the session chart's data; and a real session through a real Daphne with the `ocpp` package's
charger found in the list and the CSV with its kWh."""
import csv
import io
import json
import zoneinfo
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from ocpp.v16 import call

from datapoints import sessions, sites
from datapoints.charge_points import connector, create_charge_point
from datapoints.models import AuditEntry, Element, ElementChange, Transaction
from datapoints.writes import write_elements

from .chargers import connected_library_charger, create_charge_point as dp_create
from .test_panel_logs import client_for

pytestmark = pytest.mark.django_db
UTC = dt_timezone.utc
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    a = sites.create_site("site-a", time_zone="Europe/Berlin")
    b = sites.create_site("site-b")
    cp_a, cp_b, cp_free = create_charge_point("CP-A", "Accepted"), create_charge_point("CP-Bravo", "Accepted"), create_charge_point("CP-Free", "Accepted")
    sites.assign(a, [cp_a])
    sites.assign(b, [cp_b])
    users = {name: User.objects.create_user(name) for name in ("op-a", "viewer-a", "op-b")}
    sites.set_role(users["op-a"], a, "operator")
    sites.set_role(users["viewer-a"], a, "viewer")
    sites.set_role(users["op-b"], b, "operator")
    users["root"] = User.objects.create_superuser("root")
    return {"site_a": a, "site_b": b, "a": cp_a, "b": cp_b, "free": cp_free, **users}


def session(cp, connector_id=1, tag="TAG-1", start=T0, minutes=None, kwh=None, arrived=None, **fields):
    """A Transaction as the metering leaves it: closed when `minutes` is given."""
    stop = start + timedelta(minutes=minutes) if minutes is not None else None
    tx = Transaction.objects.create(
        charge_point=cp,
        connector_id=connector_id,
        id_tag=tag,
        meter_start=fields.pop("meter_start", 0),
        started_at=start.isoformat(),
        start_time=start,
        stop_time=stop,
        stopped_at=stop.isoformat() if stop else "",
        meter_stop=fields.pop("meter_stop", 0 if stop else None),
        stop_reason=fields.pop("stop_reason", "EVDisconnected" if stop else ""),
        energy_kwh=kwh,
        **fields,
    )
    Transaction.objects.filter(pk=tx.pk).update(created_at=arrived or start)  # when the StartTransaction arrived
    tx.refresh_from_db()
    return tx


def listed(response):
    assert response.status_code == 200
    return [row.tx.pk for row in response.context["rows"]]


def csv_rows(response):
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def three(world):
    w = world
    return {
        "a1": session(w["a"], tag="ALICE", start=T0, minutes=90, kwh=11.5, stop_reason="Local"),
        "a2": session(w["a"], connector_id=2, tag="BOB", start=T0 + timedelta(days=1), minutes=30, kwh=3.25),
        "b1": session(w["b"], tag="ALICE", start=T0 + timedelta(hours=2), minutes=60, kwh=7.0),
        "free": session(w["free"], tag="CAROL", start=T0 + timedelta(hours=3), minutes=10, kwh=1.0),
    }


# --- login and rights -------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/sessions/", "/sessions.csv", "/sessions/1/", "/sessions/table"])
def test_the_sessions_pages_need_a_login(world, url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_site_a_operator_sees_only_site_a_sessions(three, world):
    t = three
    page = client_for(world["op-a"]).get("/sessions/")
    assert listed(page) == [t["a2"].pk, t["a1"].pk]  # newest first
    html = page.content.decode()
    for secret in ("CP-Bravo", "CP-Free", "CAROL", "site-b"):
        assert secret not in html, secret
    assert [r["transaction_id"] for r in csv_rows(client_for(world["op-a"]).get("/sessions.csv"))] == [str(t["a2"].pk), str(t["a1"].pk)]


def test_the_table_alone_has_the_same_rows_and_rights(three, world):
    part = client_for(world["op-a"]).get("/sessions/table?sort=kwh")
    assert listed(part) == [three["a2"].pk, three["a1"].pk]
    html = part.content.decode()
    assert html.startswith('<div id="sessions-table"') and "<html" not in html and "CP-Bravo" not in html


def test_a_superuser_sees_every_session_including_chargers_in_no_site(three, world):
    t = three
    assert set(listed(client_for(world["root"]).get("/sessions/"))) == {t["a1"].pk, t["a2"].pk, t["b1"].pk, t["free"].pk}


@pytest.mark.parametrize("who", ["op-b", "viewer-a"])
def test_a_session_page_is_404_for_those_without_a_role_on_its_site(three, world, who):
    target = three["b1"] if who == "viewer-a" else three["a1"]
    assert client_for(world[who]).get(f"/sessions/{target.pk}/").status_code == 404
    assert client_for(world[who]).get(f"/sessions/{three['free'].pk}/").status_code == 404


def test_filtering_by_a_charger_of_another_site_gives_an_empty_list(three, world):
    assert listed(client_for(world["op-a"]).get("/sessions/?charger=CP-Bravo")) == []


# --- filters, sorting, pages, time zones ------------------------------------------------------------
@pytest.mark.parametrize(
    "query, expected",
    [
        ("site=site-b", ["b1"]),
        ("charger=CP-A", ["a2", "a1"]),
        ("tag=ALICE", ["b1", "a1"]),
        ("state=closed&tag=BOB", ["a2"]),
        ("state=open", []),
        ("since=2026-11-20&until=2026-11-20", ["free", "b1", "a1"]),  # read in TIME_ZONE (UTC)
        ("since=2026-11-21", ["a2"]),
        ("site=site-a&until=2026-11-20T11:00", ["a1"]),  # 10:00 UTC is 11:00 in Berlin: included
        ("site=site-a&until=2026-11-20T10:59", []),
    ],
)
def test_filters_narrow_the_list(three, world, query, expected):
    assert listed(client_for(world["root"]).get(f"/sessions/?{query}")) == [three[k].pk for k in expected]


def test_a_user_of_one_site_types_periods_in_its_time_zone(three, world):
    client = client_for(world["op-a"])  # site-a only: Europe/Berlin
    assert listed(client.get("/sessions/?until=2026-11-20T11:00")) == [three["a1"].pk]
    assert listed(client.get("/sessions/?until=2026-11-20T10:59")) == []
    assert "a period filter is read in Europe/Berlin" in client.get("/sessions/").content.decode()


def test_a_time_that_cannot_be_read_is_said_and_not_applied(three, world):
    page = client_for(world["root"]).get("/sessions/?since=yesterday-ish")
    assert len(listed(page)) == 4
    assert "&#x27;yesterday-ish&#x27; is not a time" in page.content.decode()


def test_an_unknown_state_is_said(three, world):
    page = client_for(world["root"]).get("/sessions/?state=sleeping")
    assert len(listed(page)) == 4 and "State &#x27;sleeping&#x27; is not one of open, closed, zombie." in page.content.decode()


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("kwh", ["free", "a2", "b1", "a1"]),
        ("-kwh", ["a1", "b1", "a2", "free"]),
        ("duration", ["free", "a2", "b1", "a1"]),
        ("start", ["a1", "b1", "free", "a2"]),
        ("charger", ["a1", "a2", "b1", "free"]),  # the two CP-A sessions tie: ascending ids break it
        ("nonsense", ["a2", "free", "b1", "a1"]),  # newest first
    ],
)
def test_sorting_by_column(three, world, sort, expected):
    assert listed(client_for(world["root"]).get(f"/sessions/?sort={sort}")) == [three[k].pk for k in expected]


def test_a_column_heading_sorts_and_a_second_click_reverses(three, world):
    page = client_for(world["root"]).get("/sessions/?tag=ALICE&sort=kwh")
    headings = {heading: url for heading, url, _, _ in page.context["columns"]}
    assert headings["kWh"] == "?tag=ALICE&sort=-kwh" and headings["Start"] == "?tag=ALICE&sort=start"
    assert headings["State"] is None


def test_pages_of_fifty_keep_the_filters(world):
    for i in range(57):
        session(world["a"], tag="MANY", start=T0 + timedelta(minutes=i), minutes=5, kwh=1)
    session(world["a"], tag="OTHER", start=T0, minutes=5, kwh=1)
    client = client_for(world["op-a"])
    first = client.get("/sessions/?tag=MANY")
    assert len(listed(first)) == 50 and first.context["page"].paginator.count == 57
    html = first.content.decode()
    assert 'href="?tag=MANY&amp;page=2"' in html and "Page 1 of 2" in html
    second = client.get("/sessions/?tag=MANY&page=2")
    assert len(listed(second)) == 7
    assert set(listed(first)).isdisjoint(listed(second))


def test_times_show_in_the_sites_time_zone(three, world):
    html = client_for(world["root"]).get("/sessions/?charger=CP-A").content.decode()
    assert "2026-11-20 11:00:00" in html and "2026-11-20 12:30:00" in html  # Berlin, CET (+1)
    html = client_for(world["root"]).get("/sessions/?charger=CP-Bravo").content.decode()
    assert "2026-11-20 12:00:00" in html  # site-b is UTC


# --- CSV ----------------------------------------------------------------------------------------------
def test_the_csv_has_a_header_iso_times_and_kwh_to_three_decimals(three, world):
    rows = csv_rows(client_for(world["root"]).get("/sessions.csv?charger=CP-A&sort=start"))
    assert list(rows[0]) == sessions.CSV_HEADER
    first = rows[0]
    assert first == {
        "transaction_id": str(three["a1"].pk),
        "charger": "CP-A",
        "datapoint": world["a"].name,
        "connector": "1",
        "site": "site-a",
        "id_tag": "ALICE",
        "start": "2026-11-20T11:00:00+01:00",
        "stop": "2026-11-20T12:30:00+01:00",
        "duration_s": "5400",
        "kwh": "11.500",
        "stop_reason": "Local",
        "state": "closed",
        "closed_by": "",
        "close_note": "",
    }
    assert rows[1]["kwh"] == "3.250"


def test_the_csv_has_every_row_of_the_filtered_list_not_one_page(world):
    for i in range(120):
        session(world["b"], tag="FLEET", start=T0 + timedelta(minutes=i), minutes=1, kwh=0.1234)
    session(world["b"], tag="ELSE", start=T0, minutes=1, kwh=5)
    rows = csv_rows(client_for(world["op-b"]).get("/sessions.csv?tag=FLEET"))
    assert len(rows) == 120 and {r["kwh"] for r in rows} == {"0.123"} and {r["id_tag"] for r in rows} == {"FLEET"}


def test_the_csv_leaves_unknown_energy_and_an_open_stop_empty(world):
    session(world["b"], tag="RUN", start=timezone.now() - timedelta(minutes=3))
    (row,) = csv_rows(client_for(world["op-b"]).get("/sessions.csv"))
    assert (row["stop"], row["kwh"], row["state"]) == ("", "", "open")
    assert 170 <= int(row["duration_s"]) <= 400  # runs until now


def test_text_from_chargers_cannot_become_a_spreadsheet_formula(world):
    session(world["b"], tag="=HYPERLINK(1)", minutes=5, kwh=1, stop_reason="Local")
    (row,) = csv_rows(client_for(world["op-b"]).get("/sessions.csv"))
    assert (row["id_tag"], row["stop_reason"]) == ("'=HYPERLINK(1)", "Local")


# --- totals -----------------------------------------------------------------------------------------
def test_totals_per_tag_and_per_site_over_the_period(three, world):
    page = client_for(world["root"]).get("/sessions/?since=2026-11-20&until=2026-11-20")
    by_tag = {r["total"].key: (r["total"].count, r["total"].kwh, r["total"].duration) for r in page.context["by_tag"]}
    assert by_tag == {"ALICE": (2, 18.5, timedelta(minutes=150)), "CAROL": (1, 1.0, timedelta(minutes=10))}
    by_site = {r["total"].key: (r["total"].count, r["total"].kwh) for r in page.context["by_site"]}
    assert by_site == {"site-a": (1, 11.5), "site-b": (1, 7.0), "": (1, 1.0)}
    assert [r["share"] for r in page.context["by_tag"]] == [100.0, 5.4]  # the bars: share of the largest
    assert "(no site)" in page.content.decode()


def test_energy_per_day_is_drawn_for_the_list(three, world):
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    page = client_for(world["op-a"]).get("/sessions/?site=site-a")  # days in the chosen site's zone
    midnight = [datetime(2026, 11, day, tzinfo=berlin).timestamp() for day in (20, 21)]
    assert json.loads(page.context["daily"]) == [[midnight[0], 11.5], [midnight[1], 3.25]]
    assert 'id="daily"' in page.content.decode() and 'data-zone="Europe/Berlin"' in page.content.decode()


def test_a_charge_point_page_links_to_its_sessions(world):
    html = client_for(world["op-a"]).get("/charge-points/CP-A/").content.decode()
    assert 'href="/sessions/?charger=CP-A"' in html


# --- zombies ------------------------------------------------------------------------------------------
def boot(cp, at):
    ElementChange.objects.create(datapoint=cp, path="State.LastBoot", value=at.isoformat(), changed_at=at)


def test_zombie_suspects_a_later_start_on_the_connector_or_a_reboot(world):
    cp = world["a"]
    now = timezone.now()
    replaced = session(cp, connector_id=1, tag="Z1", start=now - timedelta(hours=5))
    session(cp, connector_id=1, tag="NEXT", start=now - timedelta(hours=1))  # a later start on connector 1
    other_connector = session(cp, connector_id=2, tag="Z2", start=now - timedelta(hours=4))
    rebooted = session(world["b"], connector_id=1, tag="Z3", start=now - timedelta(hours=3))
    boot(world["b"], now - timedelta(hours=2))
    booted_before = session(world["b"], connector_id=2, tag="OK", start=now - timedelta(minutes=30))
    closed = session(cp, connector_id=1, tag="DONE", start=now - timedelta(hours=6), minutes=10, kwh=1)
    states = {tx.id_tag: sessions.state_of(tx) for tx in sessions.visible(world["root"])}
    assert states == {"Z1": "zombie", "NEXT": "open", "Z2": "open", "Z3": "zombie", "OK": "open", "DONE": "closed"}
    assert listed(client_for(world["root"]).get("/sessions/?state=zombie")) == [rebooted.pk, replaced.pk]
    html = client_for(world["root"]).get("/sessions/").content.decode()
    assert html.count("zombie?") == 2
    assert {other_connector.pk, booted_before.pk, closed.pk}.isdisjoint(listed(client_for(world["root"]).get("/sessions/?state=zombie")))


@pytest.fixture
def zombie(world):
    cp = world["a"]
    now = timezone.now()
    tx = session(cp, connector_id=1, tag="ZED", start=now - timedelta(hours=3), meter_start=120_000, last_register_kwh=131.5)
    conn = connector(cp, 1)
    write_elements([(conn, "Transaction.CurrentTransactionId", tx.pk)])
    boot(cp, now - timedelta(hours=1))
    return tx


def test_an_operator_closes_a_zombie_with_a_reason(zombie, world):
    page = client_for(world["op-a"]).get(f"/sessions/{zombie.pk}/")
    assert page.context["can_close"] and "Close session" in page.content.decode()
    assert "Last power or energy reading: none." in page.content.decode()
    response = client_for(world["op-a"]).post(f"/sessions/{zombie.pk}/close", {"reason": "charger rebooted, no StopTransaction"}, follow=True)
    assert response.status_code == 200 and f"Session {zombie.pk} closed" in response.content.decode()
    tx = Transaction.objects.get(pk=zombie.pk)
    assert (tx.stop_reason, tx.closed_by, tx.close_note, tx.meter_stop) == ("Other", "op-a", "charger rebooted, no StopTransaction", 131_500)
    assert tx.energy_kwh == pytest.approx(11.5) and tx.stop_time is not None and tx.stopped_at.endswith("Z")
    assert abs((timezone.now() - tx.stop_time).total_seconds()) < 30
    conn = connector(world["a"], 1)
    assert Element.objects.get(datapoint_id=conn.id, path="Transaction.CurrentTransactionId").value == 0
    assert ElementChange.objects.filter(datapoint_id=conn.id, path="Transaction.CurrentTransactionId").order_by("-id").first().value == 0
    entry = AuditEntry.objects.get(action="session_close")
    assert (entry.username, entry.charge_point_id, entry.site_id, entry.target, entry.ok) == ("op-a", world["a"].id, world["site_a"].id, f"transaction {tx.pk}", True)
    assert entry.detail["reason"] == "charger rebooted, no StopTransaction" and entry.detail["cleared_current"] is True
    assert sessions.state_of(sessions.get(world["op-a"], tx.pk)) == "closed"


def test_a_suspect_shows_its_last_reading_so_a_session_carried_across_a_reboot_is_not_closed(zombie, world):
    conn = connector(world["a"], 1)
    last = timezone.now().replace(microsecond=0) - timedelta(minutes=2)
    ElementChange.objects.create(datapoint_id=conn.id, path=sessions.POWER, value=7.0, changed_at=last)
    html = client_for(world["op-a"]).get(f"/sessions/{zombie.pk}/").content.decode()
    shown = timezone.localtime(last, zoneinfo.ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Last power or energy reading: {shown}." in html


def test_closing_keeps_the_energy_the_metering_set_and_another_sessions_current_id(world):
    cp = world["a"]
    now = timezone.now()
    tx = session(cp, connector_id=1, tag="OLD", start=now - timedelta(hours=3), meter_start=5000, kwh=2.5)
    newer = session(cp, connector_id=1, tag="NEW", start=now - timedelta(hours=1))
    write_elements([(connector(cp, 1), "Transaction.CurrentTransactionId", newer.pk)])
    sessions.close_zombie(world["op-a"], tx.pk, "replaced by a later session")
    tx.refresh_from_db()
    assert (tx.energy_kwh, tx.meter_stop) == (2.5, 5000)  # no register reading: meterStart
    assert Element.objects.get(datapoint__name=f"{cp.name}-1", path="Transaction.CurrentTransactionId").value == newer.pk


def test_energy_computed_from_the_register_is_never_negative(world):
    cp = world["a"]
    now = timezone.now()
    tx = session(cp, tag="NEG", start=now - timedelta(hours=3), meter_start=9000, last_register_kwh=8.0)
    boot(cp, now - timedelta(hours=1))
    sessions.close_zombie(world["root"], tx.pk, "reset meter")
    tx.refresh_from_db()
    assert (tx.energy_kwh, tx.meter_stop) == (0.0, 8000)


def test_a_reason_is_required(zombie, world):
    response = client_for(world["op-a"]).post(f"/sessions/{zombie.pk}/close", {"reason": "   "}, follow=True)
    assert "Give a reason for closing the session" in response.content.decode()
    assert Transaction.objects.get(pk=zombie.pk).meter_stop is None
    assert not AuditEntry.objects.filter(action="session_close").exists()


def test_a_running_session_that_is_no_zombie_is_not_closed(world):
    tx = session(world["a"], tag="LIVE", start=timezone.now() - timedelta(minutes=5))
    response = client_for(world["op-a"]).post(f"/sessions/{tx.pk}/close", {"reason": "looks old"}, follow=True)
    assert "is not a zombie suspect" in response.content.decode()
    assert Transaction.objects.get(pk=tx.pk).meter_stop is None


def test_a_closed_session_is_not_closed_again(zombie, world):
    sessions.close_zombie(world["op-a"], zombie.pk, "first")
    with pytest.raises(sessions.CloseRefused, match="already closed"):
        sessions.close_zombie(world["op-a"], zombie.pk, "second")
    assert Transaction.objects.get(pk=zombie.pk).close_note == "first"


def test_a_viewer_sees_a_zombie_but_may_not_close_it(zombie, world):
    page = client_for(world["viewer-a"]).get(f"/sessions/{zombie.pk}/")
    assert page.status_code == 200 and not page.context["can_close"]
    assert "An operator of this site can close it." in page.content.decode()
    for reason in ("try", ""):  # a missing reason is not what stops a viewer
        response = client_for(world["viewer-a"]).post(f"/sessions/{zombie.pk}/close", {"reason": reason})
        assert response.status_code == 403 and "ask for the operator role" in response.content.decode()
    assert Transaction.objects.get(pk=zombie.pk).meter_stop is None


def test_an_operator_of_another_site_gets_404_on_close(zombie, world):
    assert client_for(world["op-b"]).post(f"/sessions/{zombie.pk}/close", {"reason": "x"}).status_code == 404
    assert client_for(world["op-b"]).post(f"/sessions/{zombie.pk}/close", {"reason": ""}).status_code == 404
    assert client_for(world["op-b"]).post("/sessions/999999/close", {"reason": "x"}).status_code == 404
    assert Transaction.objects.get(pk=zombie.pk).meter_stop is None


# --- one session's chart ----------------------------------------------------------------------------
def test_the_chart_reads_power_and_energy_of_the_sessions_connector_in_its_time(world):
    cp = world["b"]
    tx = session(cp, tag="CHART", start=T0, minutes=30, kwh=3.0)
    conn = connector(cp, 1)

    def change(path, value, minute):
        ElementChange.objects.create(datapoint_id=conn.id, path=path, value=value, changed_at=T0 + timedelta(minutes=minute))

    change(sessions.POWER, 9.9, -5)  # before the session
    change(sessions.POWER, 7.4, 1)
    change(sessions.ENERGY, 0.12, 1)
    change(sessions.POWER, 7.2, 15)
    change(sessions.ENERGY, 1.9, 15)
    change(sessions.ENERGY, 3.0, 30.5)  # the StopTransaction's final figure, just after stop_time
    change(sessions.POWER, 11.0, 45)  # after it
    series = sessions.chart_series(sessions.get(world["op-b"], tx.pk))
    base = T0.timestamp()
    assert series[sessions.POWER] == [(base + 60, 7.4), (base + 900, 7.2)]
    assert series[sessions.ENERGY] == [(base + 60, 0.12), (base + 900, 1.9), (base + 1830, 3.0)]
    page = client_for(world["op-b"]).get(f"/sessions/{tx.pk}/")
    assert page.context["has_data"] and 'id="session-chart"' in page.content.decode()
    assert f'data-dp="{conn.name}"' in page.content.decode() and 'data-live="0"' in page.content.decode()


# --- a real session through Daphne ------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_real_session_is_listed_and_exported_with_its_kwh(server):
    name = await dp_create("SESS-REAL-1", "Accepted")
    root = await sync_to_async(User.objects.create_superuser)("root-real")
    async with connected_library_charger(server, "SESS-REAL-1") as cp:
        await cp.boot()
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="RFID-REAL", meter_start=250_000, timestamp="2026-11-21T08:00:00Z"), suppress=False)
        tx_id = start.transaction_id
        meter = [{"timestamp": "2026-11-21T08:10:00Z", "sampledValue": [{"value": "251200", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}, {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"}]}]
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=meter), suppress=False)
        await cp.call(call.StopTransaction(meter_stop=253_200, timestamp="2026-11-21T08:30:00Z", transaction_id=tx_id, reason="EVDisconnected"), suppress=False)

    @sync_to_async
    def pages():
        client = client_for(root)
        return client.get("/sessions/?charger=SESS-REAL-1"), csv_rows(client.get("/sessions.csv?charger=SESS-REAL-1"))

    page, rows = await pages()
    assert listed(page) == [tx_id]
    row = page.context["rows"][0]
    assert (row.tx.energy_kwh, row.tx.stop_reason, row.duration, row.state) == (pytest.approx(3.2), "EVDisconnected", "30 min 00 s", "closed")
    assert [(r["transaction_id"], r["datapoint"], r["start"], r["stop"], r["duration_s"], r["kwh"]) for r in rows] == [
        (str(tx_id), name, "2026-11-21T08:00:00+00:00", "2026-11-21T08:30:00+00:00", "1800", "3.200")
    ]
