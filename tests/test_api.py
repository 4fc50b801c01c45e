"""The REST API: POST /api/charge-points/<cp>/commands/<Action>, login and permission required."""
import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.test import AsyncClient

from .chargers import CommandCharger, connected_library_charger, create_charge_point, dp_get

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def operator(may_send):
    user = User.objects.create_user("op" if may_send else "viewer", password="pw-for-tests")
    if may_send:
        user.user_permissions.add(Permission.objects.get(codename="send_command"))
    return user


async def post(client, cp, action, payload, **params):
    query = "".join(f"?{k}={v}" for k, v in params.items())
    response = await client.post(f"/api/charge-points/{cp}/commands/{action}{query}", json.dumps(payload), content_type="application/json")
    return response.status_code, json.loads(response.content)


async def test_login_and_permission_are_required(server):
    await create_charge_point("api-1", "Accepted")
    client = AsyncClient()
    status, body = await post(client, "api-1", "Reset", {"type": "Soft"})
    assert status == 401 and "log in" in body["error"]
    await client.aforce_login(await operator(may_send=False))
    status, body = await post(client, "api-1", "Reset", {"type": "Soft"})
    assert status == 403 and "datapoints.send_command" in body["error"]


async def test_outcomes_map_to_http_statuses(server):
    name = await create_charge_point("api-2", "Accepted")
    client = AsyncClient()
    await client.aforce_login(await operator(may_send=True))
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
