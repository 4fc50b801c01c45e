"""The REST API: POST /api/charge-points/<cp>/commands/<Action>, login and the operator role on the
charge point's site required."""
import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from datapoints import sites
from datapoints.charge_points import find_charge_point
from datapoints.models import AuditEntry
from django.test import AsyncClient

from .chargers import CommandCharger, connected_library_charger, create_charge_point, dp_get

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def operator(may_send, client_id, slug="site-a"):
    """A login with the operator (or viewer) role on the site that `client_id` is put into."""
    site = sites.get_site(slug) if sites.Site.objects.filter(slug=slug).exists() else sites.create_site(slug)
    sites.assign(site, [find_charge_point(client_id)])
    user = User.objects.create_user("op" if may_send else "viewer", password="pw-for-tests")
    sites.set_role(user, site, "operator" if may_send else "viewer")
    return user


async def post(client, cp, action, payload, **params):
    query = "".join(f"?{k}={v}" for k, v in params.items())
    response = await client.post(f"/api/charge-points/{cp}/commands/{action}{query}", json.dumps(payload), content_type="application/json")
    return response.status_code, json.loads(response.content)


async def test_login_and_the_operator_role_are_required(server):
    await create_charge_point("api-1", "Accepted")
    await create_charge_point("api-other-site", "Accepted")
    client = AsyncClient()
    status, body = await post(client, "api-1", "Reset", {"type": "Soft"})
    assert status == 401 and "log in" in body["error"]
    await client.aforce_login(await operator(False, "api-1"))
    status, body = await post(client, "api-1", "Reset", {"type": "Soft"})
    assert status == 403 and "operator role" in body["error"]
    await sync_to_async(sites.assign)(await sync_to_async(sites.create_site)("site-b"), [await sync_to_async(find_charge_point)("api-other-site")])
    status, body = await post(client, "api-other-site", "Reset", {"type": "Soft"})
    assert status == 404 and "api-other-site" not in json.dumps(await sync_to_async(lambda: list(AuditEntry.objects.values()))(), default=str)


async def test_outcomes_map_to_http_statuses(server):
    name = await create_charge_point("api-2", "Accepted")
    client = AsyncClient()
    await client.aforce_login(await operator(True, "api-2"))
    status, body = await post(client, name, "Reset", {"type": "Soft"})
    assert (status, body["status"]) == (503, "offline")
    status, body = await post(client, name, "Reset", {"type": "Later"})
    assert status == 400 and "schema" in body["error"]
    async with connected_library_charger(server, "api-2", charger_class=CommandCharger) as cp:
        await cp.boot()
        status, body = await post(client, "api-2", "UnlockConnector", {"connectorId": 1}, timeout=5)
        assert (status, body["response"]) == (200, {"status": "Unlocked"})
        assert cp.received == [("UnlockConnector", {"connector_id": 1})]
    assert await dp_get(f"{name}.Commands.UnlockConnector.Response") == {"status": "Unlocked"}
    audited = await sync_to_async(lambda: list(AuditEntry.objects.filter(action="command").order_by("at").values_list("username", "detail__command", "ok")))()
    assert audited == [("op", "Reset", False), ("op", "Reset", False), ("op", "UnlockConnector", True)]


async def test_the_session_cookie_needs_the_csrf_token(server):
    """Another site's page cannot make a logged-in operator's browser send a command."""
    name = await create_charge_point("api-csrf", "Accepted")
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(await operator(True, "api-csrf"))
    status, body = await post(client, name, "Reset", {"type": "Soft"})
    assert status == 403 and "X-CSRFToken" in body["error"]
    assert await sync_to_async(lambda: AuditEntry.objects.filter(action="command").exists())() is False  # nothing was sent or recorded
    await client.get("/accounts/login/")  # sets the csrftoken cookie, as the panel's pages do
    token = client.cookies["csrftoken"].value
    response = await client.post(f"/api/charge-points/{name}/commands/Reset", json.dumps({"type": "Soft"}), content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 503 and json.loads(response.content)["status"] == "offline"  # checked, then sent (the charger is offline)
