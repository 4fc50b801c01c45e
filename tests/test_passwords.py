"""HTTP Basic passwords: both key encodings, wrong keys, throttling; the key is never stored."""
import io

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.management import call_command

from datapoints.models import Datapoint
from datapoints.paths import get_value

from .chargers import RawCharger, basic_auth

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def with_key(client_id, key=None):
    call_command("dp_create", client_id, "--status", "Accepted", stdout=io.StringIO())
    out = io.StringIO()
    args = ["--key", key] if key else []
    call_command("ocpp_password", client_id, *args, stdout=out)
    return out.getvalue().strip()


async def refused_status(server, client_id, headers):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws(client_id), subprotocols=["ocpp1.6"], additional_headers=headers)
    return refused.value.response


async def test_random_key_as_hex_and_as_raw_bytes(server):
    key_hex = await with_key("pw-1")
    assert len(key_hex) == 40 and int(key_hex, 16) >= 0
    name = (await Datapoint.objects.aget(client_id="pw-1")).name
    stored = await sync_to_async(get_value)(f"{name}.Config.Password")
    assert key_hex not in stored and stored.startswith("sha256$")
    for password in (key_hex.encode(), key_hex.upper().encode(), bytes.fromhex(key_hex)):
        charger = await RawCharger.connect(server, "pw-1", headers=basic_auth("pw-1", password))
        assert (await charger.call("Heartbeat", {}))[0] == 4  # connected; not booted yet -> SecurityError
        await charger.close()


async def test_given_key_with_a_colon_in_its_raw_bytes(server):
    key = "3a" * 20  # every raw byte is ':'
    assert await with_key("pw-colon", key) == key
    charger = await RawCharger.connect(server, "pw-colon", headers=basic_auth("pw-colon", bytes.fromhex(key)))
    await charger.close()


async def test_wrong_missing_and_foreign_credentials_get_401(server):
    key_hex = await with_key("pw-2")
    await with_key("pw-other")
    cases = [
        None,
        basic_auth("pw-2", b"0" * 40),
        basic_auth("pw-other", key_hex.encode()),  # right key, wrong user name
        {"Authorization": "Bearer " + key_hex},
        {"Authorization": "Basic !!!not-base64"},
    ]
    for headers in cases:
        response = await refused_status(server, "pw-2", headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert key_hex not in server.logs()


async def test_repeated_failures_are_throttled_even_for_the_right_key(server):
    key_hex = await with_key("pw-3")
    for _ in range(5):
        assert (await refused_status(server, "pw-3", basic_auth("pw-3", b"f" * 40))).status_code == 401
    response = await refused_status(server, "pw-3", basic_auth("pw-3", key_hex.encode()))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


async def test_bad_key_argument_is_a_clear_cli_error(server):
    await sync_to_async(call_command)("dp_create", "pw-4", stdout=io.StringIO())
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="40 hex digits"):
        await sync_to_async(call_command)("ocpp_password", "pw-4", "--key", "abc")
    with pytest.raises(CommandError, match="no charge point"):
        await sync_to_async(call_command)("ocpp_password", "nobody")
