"""A site's max current in the panel (panel/views/charging.py), with Django's test client: the box
shows each charge point's own limit, share and accepted amps; a superuser sets and removes the
limit (audited, shares re-divided); bad input changes nothing and says what to type; nobody else
sees it (404). Against live chargers: tests/test_panel_charging_browser.py."""
import os
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

from datapoints import sites
from datapoints.charge_points import create_charge_point
from datapoints.models import AuditEntry, Site
from datapoints.paths import get_value

from .conftest import start_celery, stop_process

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redivider(transactional_db, tmp_path):
    """With Redis the re-division runs in a Celery worker: start one (without, it runs in-process)."""
    worker = start_celery(tmp_path, "worker", "--concurrency", "1", "--without-gossip", "--without-mingle", ready="ready.") if os.environ.get("REDIS_URL") else None
    yield
    if worker:
        stop_process(worker)


def shares(*dps, expected):
    deadline = time.time() + 10
    while (seen := [get_value(f"{dp.name}.State.MaxCurrentSiteShare") for dp in dps]) != expected and time.time() < deadline:
        time.sleep(0.05)
    return seen


@pytest.fixture
def admin():
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="charging-pw-1"))
    return client


@pytest.fixture
def garage():
    site = sites.create_site("garage")
    cps = [create_charge_point(client_id, "Accepted") for client_id in ("G-1", "G-2")]
    sites.assign(site, cps)
    return site, cps


def test_the_site_page_loads_the_box_and_the_box_lists_the_chargers(admin, garage):
    site, (g1, _g2) = garage
    page = admin.get("/sites/garage/").content.decode()
    assert 'hx-get="/sites/garage/max-current"' in page
    box = admin.get("/sites/garage/max-current").content.decode()
    assert 'name="max_current"' in box and "Set limit" in box
    assert box.count('class="client-id"') == 2 and "G-1" in box and "G-2" in box


def test_a_superuser_sets_and_removes_the_limit_and_the_shares_follow(admin, garage, redivider):
    site, (g1, g2) = garage
    response = admin.post("/sites/garage/max-current", {"max_current": "40"}, follow=True)
    assert "garage: max current 40 A, shared by its charging connectors." in response.content.decode()
    assert Site.objects.get(pk=site.pk).max_current == 40.0
    # Nothing charges: each may take the whole site limit.
    assert shares(g1, g2, expected=[40.0, 40.0]) == [40.0, 40.0]
    box = admin.get("/sites/garage/max-current").content.decode()
    assert 'value="40"' in box and box.count("40 A") == 2
    admin.post("/sites/garage/max-current", {"max_current": ""})
    assert Site.objects.get(pk=site.pk).max_current is None
    assert shares(g1, g2, expected=[None, None]) == [None, None]
    rows = list(AuditEntry.objects.filter(action="site_limit").order_by("id").values_list("username", "target", "ok", "detail"))
    assert rows == [("root", "garage", True, {"max_current": [None, 40.0]}), ("root", "garage", True, {"max_current": [40.0, None]})]


def test_bad_input_changes_nothing_and_says_what_to_type(admin, garage):
    site, _cps = garage
    for text in ("-5", "lots", "nan"):
        page = admin.post("/sites/garage/max-current", {"max_current": text}, follow=True).content.decode()
        assert "garage: max current not changed:" in page and "give amps of 0 or more, or none for no limit" in page
    assert Site.objects.get(pk=site.pk).max_current is None
    assert AuditEntry.objects.filter(action="site_limit", ok=False).count() == 3


def test_nobody_but_a_superuser_sees_it(garage):
    site, _cps = garage
    operator = User.objects.create_user("op", password="charging-pw-1")
    sites.set_role(operator, site, "operator")
    client = Client()
    client.force_login(operator)
    assert client.get("/sites/garage/max-current").status_code == 404
    assert client.post("/sites/garage/max-current", {"max_current": "10"}).status_code == 404
    assert Site.objects.get(pk=site.pk).max_current is None
    assert Client().get("/sites/garage/max-current").status_code == 302  # to the login
