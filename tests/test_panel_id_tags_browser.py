"""Id tags, the local list and reservations in a real headless Chromium against a real Daphne and the
`ocpp` package's charger: an operator creates a tag in the local list, presses Sync and sees the
charger's version reach the current one; reserves a connector, sees it on the charge point's page,
cancels it. Screenshots go to IDTAG_SHOTS (a directory) when it is set."""
import os

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from datapoints import id_tags, local_list, sites
from datapoints.charge_points import create_charge_point
from datapoints.models import IdTag, Reservation

from .browser import PASSWORD, log_in, off_loop, screenshots
from .chargers import CommandCharger
from .test_local_list import ListCharger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SHOTS = os.environ.get("IDTAG_SHOTS")


class Charger(ListCharger, CommandCharger):
    """Keeps a local list (ListCharger) and answers every other command (CommandCharger)."""


def _shoot(page, name):
    screenshots(page, SHOTS, name)


def _depot():
    site = sites.create_site("depot", name="Bus depot")
    sites.assign(site, [create_charge_point("BR-TAG-1", "Accepted"), create_charge_point("BR-TAG-2", "Accepted")])
    operator = User.objects.create_user("depot-op", password=PASSWORD)
    sites.set_role(operator, site, "operator")
    id_tags.save_tag(IdTag(id_tag="FLEET-7", note="bus fleet group"))
    id_tags.save_tag(IdTag(id_tag="DRIVER-1", parent_id_tag="FLEET-7", in_local_list=True, max_concurrent_tx=1, note="Anna"))
    id_tags.save_tag(IdTag(id_tag="LOST-CARD", status="Blocked", in_local_list=True, note="reported lost"))
    return operator


def test_tags_sync_and_reservations(server, page, charger_loop):
    off_loop(_depot)
    charger = charger_loop.connect(server, "BR-TAG-1", charger_class=Charger)  # never booted: synced by the button only
    log_in(page, server, "depot-op")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Id tags").click()
    expect(page.get_by_role("table", name="Id tags").get_by_role("row")).to_have_count(4)
    page.get_by_label("Id tag", exact=True).fill("DRIVER-2")
    page.get_by_label("Parent id tag").fill("FLEET-7")
    page.get_by_label("In the local list", exact=True).check()
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".messages")).to_contain_text("Id tag DRIVER-2 created (in the local list: sync the chargers)")
    _shoot(page, "id-tags")
    page.get_by_label("Id tag", exact=True).fill("LOOP")
    page.get_by_label("Parent id tag").fill("LOOP")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".errorlist")).to_contain_text("A tag cannot be its own parent")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Id tags").click()

    page.get_by_role("link", name="local list on the chargers").click()
    table = page.get_by_role("table", name="Local list per charger")
    row = table.get_by_role("row").filter(has_text="BR-TAG-1")
    expect(row).to_contain_text("never")
    row.get_by_role("button", name="Sync BR-TAG-1").click()
    version = off_loop(local_list.current_version)
    expect(row).to_contain_text(f"Full list version {version}: 3 tags", timeout=10_000)
    expect(row).to_contain_text("in sync")
    assert charger.held == {"DRIVER-1": "Accepted", "DRIVER-2": "Accepted", "LOST-CARD": "Blocked"}
    page.get_by_role("button", name="Sync all").click()
    expect(table.get_by_role("row").filter(has_text="BR-TAG-2")).to_contain_text("GetLocalListVersion: offline", timeout=10_000)
    _shoot(page, "local-list")

    nav.get_by_role("link", name="Reservations").click()
    page.get_by_label("Charge point").select_option("BR-TAG-1")
    page.get_by_label("Connector", exact=True).fill("1")
    page.get_by_label("Id tag").fill("DRIVER-1")
    page.get_by_role("button", name="Reserve").click()
    expect(page.locator(".messages")).to_contain_text("BR-TAG-1 connector 1 for DRIVER-1")
    reservation = off_loop(lambda: Reservation.objects.get(id_tag="DRIVER-1"))
    assert reservation.status == "Accepted"
    _shoot(page, "reservations")
    page.get_by_role("table", name="Reservations").get_by_role("link", name="BR-TAG-1").click()
    box = page.get_by_role("region", name="Reservations")
    expect(box.get_by_role("table", name="Active reservations")).to_contain_text("DRIVER-1")
    _shoot(page, "charge-point-reservations")
    page.go_back()
    page.get_by_role("button", name=f"Cancel reservation {reservation.pk}").click()
    expect(page.locator(".messages")).to_contain_text(f"Reservation {reservation.pk} cancelled.")
    expect(page.get_by_role("table", name="Reservations")).to_contain_text("No active reservations.")
