"""The fleet overview's rows and counts, from element values (Django's test client)."""
import json

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from datapoints.addresses import KEY_PREFIX
from datapoints.charge_points import connector, create_charge_point
from datapoints.writes import ref, write_elements

pytestmark = pytest.mark.django_db(transaction=True)


def meter(*samples):
    return [{"timestamp": "2026-11-21T10:00:00Z", "sampledValue": list(samples)}]


def held_by_a_server(client_id):
    """What a connection leaves besides State.Connected, so that the other test servers' sweeps
    (tests/test_nodes.py runs nodes that sweep every second) take the charger for connected."""
    if settings.REDIS_URL:
        redis.from_url(settings.REDIS_URL).set(KEY_PREFIX + client_id, json.dumps({"channel": "test!held", "epoch": "test"}), ex=60)
    return [("State.ConnectedSince", timezone.now().isoformat())]


def given(client_id, registration="Accepted", connected=True, connectors=()):
    dp = create_charge_point(client_id, registration)
    writes = [(dp, "State.Connected", connected)] + ([(dp, path, value) for path, value in held_by_a_server(client_id)] if connected else [])
    with transaction.atomic():
        for number, values in connectors:
            c = connector(ref(dp), number)
            writes += [(c, path, value) for path, value in values.items()]
        write_elements(writes)
    return dp


@pytest.fixture
def fleet_page():
    given("F-CHARGING", connectors=[(1, {"Status.status": "Charging", "Status.errorCode": "NoError", "MeterValues": meter(
        {"value": "2400", "measurand": "Power.Active.Import", "phase": "L1", "unit": "W"},
        {"value": "2400", "measurand": "Power.Active.Import", "phase": "L2", "unit": "W"},
        {"value": "2400", "measurand": "Power.Active.Import", "phase": "L3", "unit": "W"},
        {"value": "5", "measurand": "Power.Active.Import", "phase": "N", "unit": "W"},
        {"value": "12000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
    )}), (2, {"Status.status": "Charging", "MeterValues": meter({"value": "3.7", "measurand": "Power.Active.Import", "unit": "kW"})})])
    given("F-FAULTED", connectors=[(1, {"Status.status": "Available", "Status.errorCode": "GroundFailure"})])
    given("F-PENDING", registration="Pending")
    given("F-OFFLINE", connected=False, connectors=[(1, {"Status.status": "Faulted"})])  # stale: not counted as faulted
    client = Client()
    client.force_login(User.objects.create_superuser("boss", password="pw-fleet-1"))
    return client.get("/")


def test_counts_reflect_connection_charging_faults_and_pending(fleet_page):
    counts = fleet_page.context["counts"]
    assert counts == {"total": 4, "connected": 3, "charging": 1, "faulted": 1, "pending": 1, "offline": 1, "alarms": 0, "unacknowledged_alarms": 0}


def test_rows_show_power_summed_over_phases_and_connectors_and_the_state(fleet_page):
    rows = {r.dp.client_id: r for r in fleet_page.context["rows"]}
    assert rows["F-CHARGING"].power_kw == pytest.approx(7.2 + 3.7)  # N left out, W and kW both read
    assert rows["F-FAULTED"].power_kw is None
    assert [(r.state[1], r.alarm) for r in (rows["F-CHARGING"], rows["F-FAULTED"], rows["F-PENDING"], rows["F-OFFLINE"])] == [
        ("Online · Accepted (boot pending)", ""),
        ("Online · Accepted (boot pending)", "faulted"),
        ("Online · Pending", "pending"),
        ("Offline · Accepted", "offline"),
    ]
    html = fleet_page.content.decode()
    assert "10.90 kW" in html and html.count(">Approve<") == 1  # only the pending one


def test_filters_narrow_the_rows_not_the_counts(fleet_page):
    client = Client()
    client.force_login(User.objects.get(username="boss"))
    response = client.get("/fleet/table", {"registration": "Pending"})
    assert [r.dp.client_id for r in response.context["rows"]] == ["F-PENDING"]
    assert response.context["counts"]["total"] == 4
    response = client.get("/fleet/table", {"connection": "offline"})
    assert [r.dp.client_id for r in response.context["rows"]] == ["F-OFFLINE"]
    response = client.get("/fleet/table", {"q": "fault"})
    assert [r.dp.client_id for r in response.context["rows"]] == ["F-FAULTED"]
