"""Test chargers: the `ocpp` package's ChargePoint (a schema-validating third-party client) and a
raw websocket client for frames no well-behaved library would send."""
import asyncio
import base64
import io
import json

import websockets
from asgiref.sync import sync_to_async
from django.core.management import call_command
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import Action

from datapoints.paths import get_value

dp_get = sync_to_async(get_value)


@sync_to_async
def create_charge_point(client_id, status="Pending"):
    """`dp_create CLIENT_ID --status STATUS`; returns the datapoint name it prints."""
    out = io.StringIO()
    call_command("dp_create", client_id, "--status", status, stdout=out)
    return out.getvalue().strip()


def basic_auth(client_id, password_bytes):
    token = base64.b64encode(client_id.encode() + b":" + password_bytes).decode()
    return {"Authorization": f"Basic {token}"}


class LibraryCharger(ChargePoint):
    """Answers TriggerMessage(BootNotification) by booting again, as a real charger does."""

    def __init__(self, client_id, connection):
        super().__init__(client_id, connection)
        self.boot_results = []
        self.triggered = asyncio.Event()

    async def boot(self):
        result = await self.call(call.BootNotification(charge_point_vendor="go-e", charge_point_model="go-eCharger_V4", charge_point_serial_number="237512", firmware_version="59.4"), suppress=False)
        self.boot_results.append(result)
        return result

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message, **kwargs):
        from ocpp.v16 import call_result

        if requested_message == "BootNotification":
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(self._triggered_boot()))
        return call_result.TriggerMessage(status="Accepted")

    async def _triggered_boot(self):
        await self.boot()
        self.triggered.set()


class connected_library_charger:
    """async with connected_library_charger(server, "CP1") as cp: ..."""

    def __init__(self, server, client_id, headers=None):
        self.url = server.ws(client_id)
        self.client_id = client_id
        self.headers = headers

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"], additional_headers=self.headers)
        self.cp = LibraryCharger(self.client_id, self.ws)
        self.task = asyncio.create_task(self.cp.start())
        return self.cp

    async def __aexit__(self, *exc):
        self.task.cancel()
        await self.ws.close()


class RawCharger:
    def __init__(self, ws):
        self.ws = ws

    @classmethod
    async def connect(cls, server, client_id, headers=None, subprotocols=("ocpp1.6",)):
        ws = await websockets.connect(server.ws(client_id), subprotocols=list(subprotocols) or None, additional_headers=headers)
        return cls(ws)

    async def send(self, frame):
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    async def recv(self, timeout=5):
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def call(self, action, payload, unique_id="1"):
        await self.send([2, unique_id, action, payload])
        return await self.recv()

    async def no_answer(self, timeout=0.5):
        try:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            return True
        raise AssertionError(f"expected no answer, got {frame}")

    async def close(self):
        await self.ws.close()


async def eventually(check, timeout=5.0, interval=0.05):
    """Poll `check()` (sync or async) until it returns truthy; return that value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
