"""send_command and ocpp_command: every 1.6 command to a schema-validating charger, the outcomes
(answered, CALLERROR, invalid answer, timeout, offline), refusals before sending, queue order, and
the CLI's exit codes. On the Redis pass the test process is a different process from the Daphne
that holds the charger, so every command here crosses processes through Redis."""
import asyncio
import io
import json
import os
import subprocess
import sys
import time

import pytest

from datapoints.command_examples import EXAMPLES, commands_markdown
from datapoints.commands import CommandRefused, send_command_async
from datapoints.elements import CSMS_ACTIONS

from .chargers import CommandCharger, RawCharger, answer_json, basic_auth, connected_library_charger, create_charge_point, dp_get
from .conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_docs_match_the_examples():
    assert set(EXAMPLES) == set(CSMS_ACTIONS)
    assert (ROOT / "docs/commands.md").read_text() == commands_markdown()


async def test_every_command_reaches_a_schema_validating_charger(server):
    name = await create_charge_point("cmd-all", "Accepted")
    async with connected_library_charger(server, "cmd-all", charger_class=CommandCharger) as cp:
        await cp.boot()
        for action, (_meaning, payload) in EXAMPLES.items():
            outcome = await send_command_async(name, action, payload, timeout=5)
            assert outcome.status == "answered", (action, outcome)
            assert outcome.response == answer_json(action), action
            assert await dp_get(f"{name}.Commands.{action}.Response") == outcome.response
            request = await dp_get(f"{name}.Commands.{action}.Request")
            assert request == payload or action == "TriggerMessage", action
        received = [action for action, _request in cp.received]
        assert received == [a for a in EXAMPLES if a != "TriggerMessage"]
    # Answers that carry state update the datapoints.
    assert await dp_get(f"{name}.Configuration.HeartbeatInterval") == "300"
    assert await dp_get(f"{name}.Configuration.MeterValueSampleInterval") == "60"  # accepted ChangeConfiguration
    assert await dp_get(f"{name}.Configuration.AuthorizationKey") is None  # secrets are never stored
    assert await dp_get(f"{name}.State.ConfigurationReadOnly") == ["NumberOfConnectors"]
    assert await dp_get(f"{name}.State.ConfigurationUnknownKeys") == ["NoSuchKey"]
    assert await dp_get(f"{name}.State.LocalListVersion") == 2  # SendLocalList (2) came after GetLocalListVersion (5)
    assert (await dp_get(f"{name}.State.LastReset"))["status"] == "Accepted"
    assert await dp_get(f"{name}-1.State.Availability") == "Inoperative"


async def test_refused_before_sending(server):
    name = await create_charge_point("cmd-refuse", "Pending")
    with pytest.raises(CommandRefused, match="unknown command 'Reboot'"):
        await send_command_async(name, "Reboot", {})
    with pytest.raises(CommandRefused, match="no charge point with name or ClientId 'nobody'"):
        await send_command_async("nobody", "Reset", {"type": "Soft"})
    with pytest.raises(CommandRefused, match="schema.*type"):
        await send_command_async(name, "Reset", {"type": "Gentle"})
    with pytest.raises(CommandRefused, match="schema.*connectorId"):
        await send_command_async(name, "UnlockConnector", {})
    with pytest.raises(CommandRefused, match="is not registered: RemoteStartTransaction goes only to an Accepted charger"):
        await send_command_async(name, "RemoteStartTransaction", {"idTag": "RFID-1"})
    assert await dp_get(f"{name}.Commands.RemoteStartTransaction.Request") is None


async def test_offline_is_known_at_once_and_recorded(server):
    name = await create_charge_point("cmd-offline", "Accepted")
    started = time.perf_counter()
    outcome = await send_command_async(name, "Reset", {"type": "Hard"}, timeout=10)
    assert outcome.status == "offline" and time.perf_counter() - started < 1.0
    assert await dp_get(f"{name}.Commands.Reset.Request") == {"type": "Hard"}
    assert (await dp_get(f"{name}.Commands.Reset.Error")).startswith("offline:")


async def _accepted_raw(server, client_id):
    name = await create_charge_point(client_id, "Accepted")
    charger = await RawCharger.connect(server, client_id)
    answer = await charger.call("BootNotification", {"chargePointVendor": "raw", "chargePointModel": "raw"})
    assert answer[2]["status"] == "Accepted"
    return name, charger


async def test_callerror_garbage_timeout_and_disconnect(server):
    name, charger = await _accepted_raw(server, "cmd-bad")
    try:
        # CALLERROR: recorded with its code.
        task = asyncio.create_task(send_command_async(name, "Reset", {"type": "Soft"}, timeout=5))
        frame = await charger.recv()
        assert frame[0] == 2 and frame[2] == "Reset" and frame[3] == {"type": "Soft"}
        await charger.send([4, frame[1], "NotSupported", "no resets here", {}])
        outcome = await task
        assert (outcome.status, outcome.error_code, outcome.error) == ("error", "NotSupported", "no resets here")
        assert await dp_get(f"{name}.Commands.Reset.Error") == "NotSupported: no resets here"
        # An answer that breaks the schema: invalid, recorded as such.
        task = asyncio.create_task(send_command_async(name, "UnlockConnector", {"connectorId": 1}, timeout=5))
        frame = await charger.recv()
        await charger.send([3, frame[1], {"status": "Maybe"}])
        outcome = await task
        assert outcome.status == "invalid" and outcome.response == {"status": "Maybe"}
        assert (await dp_get(f"{name}.Commands.UnlockConnector.Error")).startswith("invalid answer")
        # No answer: timeout, and the queue moves on to the next command.
        first = asyncio.create_task(send_command_async(name, "ClearCache", {}, timeout=1))
        await asyncio.sleep(0.1)  # the order of sending
        second = asyncio.create_task(send_command_async(name, "GetLocalListVersion", {}, timeout=5))
        ignored = await charger.recv()
        assert ignored[2] == "ClearCache"
        assert (await first).status == "timeout"
        nxt = await charger.recv(timeout=5)
        assert nxt[2] == "GetLocalListVersion"
        await charger.send([3, nxt[1], {"listVersion": 3}])
        assert (await second).response == {"listVersion": 3}
        assert (await dp_get(f"{name}.Commands.ClearCache.Error")).startswith("timeout")
        # Disconnect mid-command: offline, recorded.
        task = asyncio.create_task(send_command_async(name, "Reset", {"type": "Soft"}, timeout=10))
        await charger.recv()
        await charger.close()
        outcome = await task
        assert outcome.status == "offline"
        assert (await dp_get(f"{name}.Commands.Reset.Error")).startswith("offline")
    finally:
        await charger.close()


async def test_one_call_at_a_time_in_the_order_sent(server):
    name, charger = await _accepted_raw(server, "cmd-queue")
    try:
        tasks = []
        for key in range(6):
            tasks.append(asyncio.create_task(send_command_async(name, "GetConfiguration", {"key": [f"K{key}"]}, timeout=10)))
            await asyncio.sleep(0.05)  # defines the order in which the senders send
        seen = []
        for _ in range(6):
            frame = await charger.recv()
            seen.append(frame[3]["key"][0])
            await charger.no_answer(0.1)  # nothing else is sent while this one is unanswered
            await charger.send([3, frame[1], {"unknownKey": frame[3]["key"]}])
        outcomes = await asyncio.gather(*tasks)
        assert seen == [f"K{k}" for k in range(6)]
        assert [o.response["unknownKey"] for o in outcomes] == [[f"K{k}"] for k in range(6)]
    finally:
        await charger.close()


def _cli(server, *args):
    from django.db import connection

    from .conftest import _database_url

    env = {**os.environ, "DATABASE_URL": _database_url(connection.settings_dict), "OCPP_LOCAL_API_URL": server.http}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "manage.py", "ocpp_command", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return result, time.perf_counter() - started


async def test_cli_exit_codes(server):
    name = await create_charge_point("cmd-cli", "Accepted")
    result, _ = await asyncio.to_thread(_cli, server, name, "Reset", '{"type": "Soft"}')
    assert result.returncode == 4 and "charger offline" in result.stderr
    result, _ = await asyncio.to_thread(_cli, server, name, "Reset", '{"type": 1}')
    assert result.returncode == 1 and "schema" in result.stderr
    result, _ = await asyncio.to_thread(_cli, server, "ghost", "Reset", '{"type": "Soft"}')
    assert result.returncode == 1 and "no charge point" in result.stderr
    async with connected_library_charger(server, "cmd-cli", charger_class=CommandCharger) as cp:
        await cp.boot()
        result, _ = await asyncio.to_thread(_cli, server, "cmd-cli", "GetLocalListVersion", "{}")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"listVersion": 5}
        assert cp.received == [("GetLocalListVersion", {})]


async def test_a_new_password_goes_to_a_connected_charger_first(server):
    from asgiref.sync import sync_to_async
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from datapoints import passwords

    @sync_to_async
    def ocpp_password(*args):
        out = io.StringIO()
        call_command("ocpp_password", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue().strip()

    name = await create_charge_point("cmd-pw", "Accepted")
    async with connected_library_charger(server, "cmd-pw", charger_class=CommandCharger) as cp:
        await cp.boot()
        key = await ocpp_password(name)
        assert cp.received == [("ChangeConfiguration", {"key": "AuthorizationKey", "value": key})]
    stored = await dp_get(f"{name}.Config.Password")
    assert passwords.password_matches(key.encode(), stored)
    assert await dp_get(f"{name}.Commands.ChangeConfiguration.Request") == {"key": "AuthorizationKey", "value": "********"}
    assert await dp_get(f"{name}.Configuration.AuthorizationKey") is None
    assert key not in server.logs()

    # A charger that refuses the key: the old one stays in force.
    charger = await RawCharger.connect(server, "cmd-pw", headers=basic_auth("cmd-pw", key.encode()))
    try:
        assert (await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["status"] == "Accepted"
        attempt = asyncio.create_task(ocpp_password(name))
        frame = await charger.recv()
        assert frame[2] == "ChangeConfiguration" and frame[3]["key"] == "AuthorizationKey"
        await charger.send([3, frame[1], {"status": "Rejected"}])
        with pytest.raises(CommandError, match="did not accept the new key \\(it answered Rejected\\); the old key stays in force"):
            await attempt
        assert await dp_get(f"{name}.Config.Password") == stored
    finally:
        await charger.close()
