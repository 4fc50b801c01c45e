"""REST API list endpoints cost a fixed number of queries, whatever the page holds (no N+1):
measured with Django's CaptureQueriesContext on 20 and on 200 rows through the real URL routing,
views and serializers (Django's test client, a bearer token as a script sends it)."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api import tokens
from api.models import TrackedCommand
from datapoints import schedules, sites
from datapoints.charge_points import create_charge_points
from datapoints.models import Alarm, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def fleet(count, start=0):
    """`count` accepted charge points on site-q with a transaction, an alarm and a tracked command each."""
    site = sites.Site.objects.filter(slug="site-q").first() or sites.create_site("site-q")
    created, _ = create_charge_points([f"q-{n:04d}" for n in range(start, start + count)], "Accepted")
    dps = list(created.values())
    sites.assign(site, dps)
    now = timezone.now()
    Transaction.objects.bulk_create(
        Transaction(charge_point=dp, connector_id=1, id_tag="TAG", meter_start=0, started_at="x", start_time=now - timedelta(minutes=n), meter_stop=10 if n % 2 else None, stop_time=now if n % 2 else None)
        for n, dp in enumerate(dps)
    )
    Alarm.objects.bulk_create(Alarm(charge_point=dp, kind=Alarm.KINDS[0][0], text="t", came_at=now) for dp in dps)
    TrackedCommand.objects.bulk_create(TrackedCommand(charge_point=dp, action="Reset", payload={"type": "Soft"}, timeout=30, created_at=now) for dp in dps)
    for n in range(0, count, 10):  # a schedule per 10 charge points, some one-time ones done
        at = now - timedelta(days=1) if n % 20 else None
        command = schedules.create_schedule(f"s-{start + n}", "Reset", {"type": "Soft"}, dps[n : n + 10], False, at=at, cron=None if at else "0 3 * * *", timeout=30)
        if at:
            command.periodic_task.enabled = False
            command.periodic_task.save()
    return site


def queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(captured), response.json()


LISTS = ["/api/charge-points/", "/api/transactions/", "/api/alarms/", "/api/commands/", "/api/schedules/"]


@pytest.mark.parametrize("who", ["operator", "superuser"])
def test_list_queries_do_not_grow_with_the_page(who):
    site = fleet(20)
    user = User.objects.create_superuser("root") if who == "superuser" else User.objects.create_user("op")
    if who == "operator":
        sites.set_role(user, site, "operator")
    client = Client(headers={"authorization": f"Bearer {tokens.create(user)[1]}"})
    client.get("/api/charge-points/")  # last_used_at written once: not counted below
    small = {path: queries(client, path + "?page_size=1000") for path in LISTS}
    fleet(180, start=20)
    large = {path: queries(client, path + "?page_size=1000") for path in LISTS}
    for path in LISTS:
        (few, small_body), (many, large_body) = small[path], large[path]
        assert len(large_body["results"]) > len(small_body["results"]) >= 2, path
        assert many == few, f"{path}: {few} queries for {len(small_body['results'])} rows, {many} for {len(large_body['results'])}"
        assert many <= 8, f"{path}: {many} queries"
