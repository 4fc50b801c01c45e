"""A site's max current in a real headless Chromium against a real Daphne, with two live `ocpp`
package chargers that take charging profiles: a superuser sets the limit on the site page, the
chargers accept their shares, and the shares are re-divided when both start charging. Screenshots
at 1280x800 and 800x1100 go to CHARGING_SHOTS when it names a folder (for looking at them)."""
import os
import re

import pytest
from ocpp.v16 import call
from playwright.sync_api import expect

from datapoints import sites
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry

from .browser import log_in, off_loop
from .conftest import start_celery, stop_process
from .test_charging import ProfileCharger, RejectsAll

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SIZES = {"wide": (1280, 800), "tablet": (800, 1100)}
TS = "2026-11-21T10:00:00Z"


def shoot(page, name):
    folder = os.environ.get("CHARGING_SHOTS")
    if not folder:
        return
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=os.path.join(folder, f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def _garage():
    site = sites.create_site("garage", "Garage")
    cps = [create_charge_point(client_id, "Accepted") for client_id in ("GB-1", "GB-2", "GB-3")]
    sites.assign(site, cps)
    return cps


def row_shows(page, client_id, text):
    """Reload the site page until the charger's row in the Max current box shows `text`."""
    row = page.get_by_role("table", name="Max current shares in garage").get_by_role("row").filter(has_text=client_id).first
    for _attempt in range(40):
        page.reload()
        if re.search(text, row.inner_text()):
            return row
        page.wait_for_timeout(250)
    raise AssertionError(f"{client_id}: {row.inner_text()!r} never showed {text!r}")


def test_a_superuser_sets_the_site_limit_and_the_chargers_take_their_shares(server, page, charger_loop, tmp_path):
    worker = start_celery(tmp_path, "worker", "--concurrency", "1", "--without-gossip", "--without-mingle", ready="ready.") if os.environ.get("REDIS_URL") else None
    try:
        off_loop(_garage)
        chargers = [charger_loop.connect(server, client_id, ProfileCharger) for client_id in ("GB-1", "GB-2")]
        refusing = charger_loop.connect(server, "GB-3", RejectsAll)
        for cp in chargers + [refusing]:
            assert charger_loop.run(cp.boot()).status == "Accepted"
        log_in(page, server, "root", superuser=True)
        page.goto(server.http + "/sites/garage/")
        field = page.get_by_label("Max current (A)")
        expect(field).to_have_value("")
        field.fill("-2")
        page.get_by_role("button", name="Set limit").click()
        expect(page.get_by_text("garage: max current not changed: '-2' is not a current; give amps of 0 or more, or none for no limit")).to_be_visible()

        page.get_by_label("Max current (A)").fill("32")
        page.get_by_role("button", name="Set limit").click()
        expect(page.get_by_text("garage: max current 32 A, shared by its charging connectors.")).to_be_visible()
        expect(page.get_by_label("Max current (A)")).to_have_value("32")
        for client_id in ("GB-1", "GB-2"):  # idle: each may take the whole site; accepted by the charger
            row_shows(page, client_id, r"^GB-\d\s+0\s+none\s+32 A\s+32 A$")
        row_shows(page, "GB-3", r"^GB-3\s+0\s+none\s+32 A\s+none$")
        expect(page.get_by_text("32 A not applied; the charger refused every charging profile tried")).to_be_visible()
        shoot(page, "site-limit-idle")

        for n, cp in enumerate(chargers):
            charger_loop.run(cp.call(call.StartTransaction(connector_id=1, id_tag=f"TAG{n}", meter_start=0, timestamp=TS), suppress=False))
        for client_id in ("GB-1", "GB-2"):
            row_shows(page, client_id, r"^GB-\d\s+1\s+none\s+16 A\s+16 A$")
        assert [p["charging_schedule"]["charging_schedule_period"][0]["limit"] for p in chargers[0].sent("SetChargingProfile")] == [32, 16]
        shoot(page, "site-limit-charging")
        assert list(AuditEntry.objects.filter(action="site_limit").order_by("id").values_list("ok", flat=True)) == [False, True]
    finally:
        if worker:
            stop_process(worker)


def test_an_operator_writes_config_max_current_on_the_charge_point_page_and_the_charger_takes_it(server, page, charger_loop):
    from datapoints.paths import get_value

    name = off_loop(lambda: create_charge_point("CPW-1", "Accepted").name)
    cp = charger_loop.connect(server, "CPW-1", ProfileCharger)
    assert charger_loop.run(cp.boot()).status == "Accepted"
    log_in(page, server, "root", superuser=True)
    page.goto(server.http + "/charge-points/CPW-1/")
    field = page.get_by_label("New value of Config.MaxCurrent")
    if not field.is_visible():
        page.locator("summary").filter(has_text=re.compile(r"^Config\b")).first.click()
    field.fill("13.5")
    page.once("dialog", lambda dialog: dialog.accept())  # "Set Config.MaxCurrent of CPW-1?"
    field.locator("xpath=..").get_by_role("button", name="Set").click()
    expect(page.get_by_text("Config.MaxCurrent set to 13.5.")).to_be_visible()
    for _attempt in range(100):
        if get_value(f"{name}.State.MaxCurrent") == 13.5:
            break
        page.wait_for_timeout(100)
    assert get_value(f"{name}.State.MaxCurrent") == 13.5 and get_value(f"{name}.State.MaxCurrentError") == ""
    assert cp.limits() == [("ChargePointMaxProfile", "Absolute", 5, "A", 13.5)]
    page.reload()
    shoot(page, "charge-point-max-current")
