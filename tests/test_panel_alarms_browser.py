"""The alarm list in a real headless Chromium against a real Daphne and the `ocpp` package's
charger: a Faulted status appears without a reload, Acknowledge records who, the alarm going
leaves the active list live; the nav badge and the fleet's Alarms count. Screenshots go to
ALARM_SHOTS (a directory) when it is set."""
import os

import pytest
from django.contrib.auth.models import User
from ocpp.v16 import call
from playwright.sync_api import expect

from datapoints import sites
from datapoints.charge_points import create_charge_point
from datapoints.models import Alarm

from .browser import PASSWORD, log_in, off_loop, screenshots

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
LIVE = 3000  # ms, as in test_panel_browser.py
SHOTS = os.environ.get("ALARM_SHOTS")


def _status(connector_id, status, error_code="NoError", **extra):
    return call.StatusNotification(connector_id=connector_id, error_code=error_code, status=status, **extra)


def _depot():
    site = sites.create_site("depot", name="Bus depot")
    sites.assign(site, [create_charge_point("BR-ALARM-1", "Accepted"), create_charge_point("BR-ALARM-2", "Accepted")])
    operator = User.objects.create_user("depot-op", password=PASSWORD)
    sites.set_role(operator, site, "operator")
    return operator


def test_a_fault_comes_live_is_acknowledged_and_goes(server, page, charger_loop):
    operator = off_loop(_depot)
    charger = charger_loop.connect(server, "BR-ALARM-1")
    charger_loop.run(charger.boot())
    other = charger_loop.connect(server, "BR-ALARM-2")
    charger_loop.run(other.boot())
    charger_loop.run(other.call(_status(2, "Faulted", "HighTemperature", info="cabinet 71 °C")))
    log_in(page, server, "depot-op")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Alarms")).to_contain_text("1")  # the badge: one waiting
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alarms").click()
    table = page.get_by_role("table", name="Alarms")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and BR-ALARM-2's
    charger_loop.run(charger.call(_status(1, "Faulted", "GroundFailure", info="RCD tripped")))
    row = table.get_by_role("row").filter(has_text="BR-ALARM-1")
    expect(row).to_contain_text("connector 1 Faulted: GroundFailure (RCD tripped)", timeout=LIVE)  # no reload
    expect(row).to_contain_text("● active")
    expect(nav.get_by_role("link", name="Alarms").locator(".badge")).to_have_text("2")  # the badge follows the table
    screenshots(page, SHOTS, "alarms-active")
    row.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Acknowledged: connector Faulted on _ChargePoint0001-1")
    row = page.get_by_role("table", name="Alarms").get_by_role("row").filter(has_text="BR-ALARM-1")
    expect(row).to_contain_text("depot-op")
    alarm = Alarm.objects.get(charge_point__client_id="BR-ALARM-1")
    assert alarm.acknowledged_by == operator and alarm.active
    charger_loop.run(charger.call(_status(1, "Available")))
    expect(page.get_by_role("table", name="Alarms").get_by_role("row").filter(has_text="BR-ALARM-1")).to_have_count(0, timeout=LIVE)
    page.get_by_label("Show").select_option("all")
    page.get_by_role("button", name="Filter").click()
    gone = page.get_by_role("table", name="Alarms").get_by_role("row").filter(has_text="BR-ALARM-1")
    expect(gone).to_contain_text("○ gone")
    screenshots(page, SHOTS, "alarms-all")
    page.get_by_role("button", name="Acknowledge all (1)").click()
    expect(page.locator(".messages")).to_contain_text("Acknowledged 1 alarm.")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Alarms")).to_have_text("Alarms")  # no badge
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Fleet").click()
    count = page.locator("a.count-link")
    expect(count).to_contain_text("Alarms")
    expect(count.locator("b")).to_have_text("1")  # BR-ALARM-2's fault is still active
    expect(count).to_contain_text("0 not acknowledged")
    screenshots(page, SHOTS, "fleet-counts")
