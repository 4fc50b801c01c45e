"""/healthz and /readyz (datapoints/health.py) on a real Daphne: alive without asking anything,
ready with the database (and Redis when configured), 503 with the reason when Redis is unreachable."""
import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from .conftest import _serving

pytestmark = pytest.mark.django_db(transaction=True)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_healthz_says_alive_without_a_login(server):
    status, headers, body = get(server.http + "/healthz")
    assert (status, body["status"]) == (200, "alive")
    assert headers["Content-Type"] == "application/json" and "no-cache" in headers["Cache-Control"]


def test_readyz_checks_the_database_and_redis(server):
    status, _headers, body = get(server.http + "/readyz")
    assert (status, body["status"], body["checks"]["database"], body["checks"]["draining"]) == (200, "ready", "ok", "no")
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not configured (single node: the in-memory channel layer)")


@pytest.fixture
def server_with_dead_redis(servers, transactional_db, settings):
    """Redis configured on a port nothing listens on."""
    yield from _serving(servers, settings, REDIS_URL="redis://127.0.0.1:9/0", OCPP_NODE_NAME="node-without-redis")


def test_readyz_is_503_and_says_why_when_redis_is_unreachable(server_with_dead_redis):
    status, _headers, body = get(server_with_dead_redis.http + "/readyz")
    assert (status, body["status"], body["node"], body["checks"]["database"]) == (503, "unavailable", "node-without-redis", "ok")
    assert body["checks"]["redis"].startswith("unreachable: ConnectionError") and "check REDIS_URL" in body["checks"]["redis"]
    assert get(server_with_dead_redis.http + "/healthz")[0] == 200  # alive all the same: no restart for a dependency


def test_readyz_is_503_while_draining(client, monkeypatch):
    from datapoints import health

    monkeypatch.setattr(health, "_draining", False)
    assert client.get("/readyz").status_code == 200
    health.start_draining()  # what a graceful stop will call
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["checks"]["draining"]) == (503, "yes: a graceful stop has begun")
    assert client.get("/healthz").status_code == 200
