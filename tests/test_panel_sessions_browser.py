"""The sessions pages in a real headless Chromium against a real Daphne: the list renders and a
filter narrows it, a session's chart draws its power and energy (and grows live while a real
`ocpp` package charger meters), and an operator closes a zombie through the form. Screenshots of
each page at 1280x800 and 800x1100 go to SESSIONS_SHOTS when it is set (for looking at them)."""
import os
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from ocpp.v16 import call
from playwright.sync_api import expect

from datapoints import sessions, sites
from datapoints.charge_points import connector, create_charge_point
from datapoints.models import AuditEntry, Element, ElementChange, Transaction
from datapoints.writes import write_elements

from .browser import PASSWORD, log_in, off_loop
from .test_panel_sessions import boot, session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
LIVE = 5000  # ms
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=dt_timezone.utc)
SIZES = {"wide": (1280, 800), "tablet": (800, 1100)}


def shoot(page, name):
    """Screenshots at both sizes when SESSIONS_SHOTS names a folder (not asserted on)."""
    folder = os.environ.get("SESSIONS_SHOTS")
    if not folder:
        return
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the charts redraw on resize
        page.screenshot(path=os.path.join(folder, f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def operator(username, site, role="operator"):
    user = User.objects.create_user(username, password=PASSWORD)
    sites.set_role(user, site, role)
    return user


def rows(page):
    return page.get_by_role("table", name="Sessions").locator("tbody tr[data-session]")


def test_the_list_renders_and_a_filter_narrows_it(server, page):
    site = sites.create_site("depot", time_zone="Europe/Berlin")
    cp = off_loop(create_charge_point, "BR-SESS-1", "Accepted")
    off_loop(sites.assign, site, [cp])
    for i, tag in enumerate(["ALICE", "BOB", "ALICE", "CAROL", "ALICE"]):
        session(cp, connector_id=1 + i % 2, tag=tag, start=T0 + timedelta(hours=5 * i), minutes=40 + 10 * i, kwh=4.5 + i)
    session(cp, connector_id=1, tag="BOB", start=timezone.now() - timedelta(minutes=20), kwh=1.25)  # running
    operator("depot-op", site, "viewer")
    log_in(page, server, "depot-op")
    page.get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
    expect(rows(page)).to_have_count(6)
    expect(rows(page).first).to_contain_text("running")
    expect(page.get_by_role("table", name="Totals per id tag")).to_contain_text("ALICE")
    expect(page.locator("#daily canvas")).to_have_count(1)  # energy per day, drawn
    shoot(page, "sessions-list")
    page.get_by_label("Id tag", exact=True).fill("ALICE")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(3)
    for i in range(3):
        expect(rows(page).nth(i)).to_contain_text("ALICE")
    expect(page.get_by_role("table", name="Totals per id tag").locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="kWh", exact=True).click()  # sort by energy, ascending
    expect(rows(page).first).to_contain_text("4.500")
    expect(rows(page).last).to_contain_text("8.500")
    assert "tag=ALICE" in page.url and "sort=kwh" in page.url


def test_the_list_follows_a_real_session_live(server, page, charger_loop):
    off_loop(create_charge_point, "BR-SESS-LIST", "Accepted")
    charger = charger_loop.connect(server, "BR-SESS-LIST")
    charger_loop.run(charger.boot())
    log_in(page, server, "root", superuser=True)
    page.goto(f"{server.http}/sessions/?charger=BR-SESS-LIST")
    expect(page.get_by_text("No session matches these filters.")).to_be_visible()
    expect(page.locator("#live")).to_have_text("live")
    started = charger_loop.run(charger.call(call.StartTransaction(connector_id=1, id_tag="LIST-TAG", meter_start=5_000, timestamp=timezone.now().isoformat()), suppress=False))
    row = rows(page).filter(has=page.get_by_role("link", name=str(started.transaction_id), exact=True))
    expect(row).to_contain_text("running", timeout=LIVE)  # no reload: the table was fetched again
    meter = [{"timestamp": timezone.now().isoformat(), "sampledValue": [{"value": "6500", "unit": "Wh"}]}]
    charger_loop.run(charger.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=meter), suppress=False))
    expect(row.locator("td").nth(8)).to_have_text("1.5", timeout=LIVE)  # kWh follows the feed
    charger_loop.run(charger.call(call.StopTransaction(meter_stop=7_250, timestamp=timezone.now().isoformat(), transaction_id=started.transaction_id, reason="Local"), suppress=False))
    expect(row).to_contain_text("closed", timeout=LIVE)
    expect(row.locator("td").nth(8)).to_have_text("2.250")


def test_the_session_chart_draws_power_and_energy(server, page):
    cp = off_loop(create_charge_point, "BR-SESS-CH", "Accepted")
    tx = session(cp, tag="CHART", start=T0, minutes=60, kwh=7.1)
    conn = off_loop(connector, cp, 1)
    for minute in range(0, 61, 5):
        at = T0 + timedelta(minutes=minute)
        ElementChange.objects.create(datapoint_id=conn.id, path=sessions.POWER, value=7.4 if minute < 50 else 2.0, changed_at=at)
        ElementChange.objects.create(datapoint_id=conn.id, path=sessions.ENERGY, value=round(7.1 * minute / 60, 3), changed_at=at)
    log_in(page, server, "root", superuser=True)
    page.goto(f"{server.http}/sessions/{tx.pk}/")
    chart = page.locator("#session-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    assert chart.evaluate("el => el.plot.data[0].length") == 13
    assert chart.evaluate("el => [Math.max(...el.plot.data[1]), Math.max(...el.plot.data[2])]") == [7.4, 7.1]
    expect(chart).to_contain_text("Power (kW)")
    shoot(page, "session-chart")


def test_a_running_sessions_chart_grows_live_from_a_real_chargers_meter_values(server, page, charger_loop):
    off_loop(create_charge_point, "BR-SESS-LIVE", "Accepted")
    charger = charger_loop.connect(server, "BR-SESS-LIVE")
    charger_loop.run(charger.boot())
    started = charger_loop.run(charger.call(call.StartTransaction(connector_id=1, id_tag="LIVE-TAG", meter_start=10_000, timestamp=timezone.now().isoformat()), suppress=False))
    log_in(page, server, "root", superuser=True)
    page.goto(f"{server.http}/sessions/{started.transaction_id}/")
    chart = page.locator("#session-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    assert chart.get_attribute("data-live") == "1"
    expect(page.locator("#live")).to_have_text("live")
    before = chart.evaluate("el => el.plot.data[0].length")
    meter = [{"timestamp": timezone.now().isoformat(), "sampledValue": [{"value": "10800", "unit": "Wh"}, {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"}]}]
    charger_loop.run(charger.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=meter), suppress=False))
    page.wait_for_function("n => document.getElementById('session-chart').plot.data[0].length > n", arg=before, timeout=LIVE)
    assert chart.evaluate("el => el.plot.data[1].filter(v => v !== null).slice(-1)[0]") == 11.0
    assert chart.evaluate("el => el.plot.data[2].filter(v => v !== null).slice(-1)[0]") == pytest.approx(0.8)
    expect(page.locator("#live-energy")).to_have_text("0.8")  # the facts follow too


def test_an_operator_closes_a_zombie_through_the_form(server, page):
    site = sites.create_site("yard")
    cp = off_loop(create_charge_point, "BR-ZOMBIE", "Accepted")
    off_loop(sites.assign, site, [cp])
    now = timezone.now()
    zombie = session(cp, tag="LOST", start=now - timedelta(hours=4), meter_start=2000, last_register_kwh=9.5, kwh=7.5)
    off_loop(write_elements, [(off_loop(connector, cp, 1), "Transaction.CurrentTransactionId", zombie.pk)])
    boot(cp, now - timedelta(hours=1))
    operator("yard-op", site)
    log_in(page, server, "yard-op")
    page.goto(f"{server.http}/sessions/?state=zombie")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("zombie?")
    rows(page).first.get_by_role("link", name=str(zombie.pk), exact=True).click()
    expect(page.get_by_role("heading", name="Zombie suspect")).to_be_visible()
    shoot(page, "session-zombie")
    page.get_by_role("button", name="Close session").click()  # the reason is required: the browser refuses
    assert Transaction.objects.get(pk=zombie.pk).meter_stop is None
    page.get_by_label("Reason").fill("charger rebooted during the session")
    page.get_by_role("button", name="Close session").click()
    expect(page.locator(".messages")).to_contain_text(f"Session {zombie.pk} closed: charger rebooted during the session")
    expect(page.get_by_role("heading", name="Zombie suspect")).to_have_count(0)
    expect(page.locator(".facts")).to_contain_text("yard-op: charger rebooted during the session")
    tx = Transaction.objects.get(pk=zombie.pk)
    assert (tx.stop_reason, tx.meter_stop, tx.energy_kwh, tx.closed_by) == ("Other", 9500, 7.5, "yard-op")
    assert Element.objects.get(datapoint__name=f"{cp.name}-1", path="Transaction.CurrentTransactionId").value == 0
    assert AuditEntry.objects.filter(action="session_close", username="yard-op", charge_point=cp).count() == 1
