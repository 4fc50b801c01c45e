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

    def __init__(self, server, client_id, headers=None, charger_class=None):
        self.url = server.ws(client_id)
        self.client_id = client_id
        self.headers = headers
        self.charger_class = charger_class or LibraryCharger

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"], additional_headers=self.headers)
        self.cp = self.charger_class(self.client_id, self.ws)
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


# What CommandCharger answers to every central-system command (snake_case, for the ocpp package's
# call_result classes; it turns them into camelCase JSON and validates them against the schema).
ANSWERS = {
    "CancelReservation": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted", "data": "ok"},
    "GetCompositeSchedule": {"status": "Accepted", "connector_id": 1},
    "GetConfiguration": {
        "configuration_key": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            {"key": "AuthorizationKey", "readonly": False, "value": "not-to-be-stored"},
        ],
        "unknown_key": ["NoSuchKey"],
    },
    "GetDiagnostics": {"file_name": "diagnostics.zip"},
    "GetLocalListVersion": {"list_version": 5},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "SetChargingProfile": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
    "ExtendedTriggerMessage": {"status": "Accepted"},
    "GetLog": {"status": "Accepted", "filename": "security.log"},
    "SignedUpdateFirmware": {"status": "Accepted"},
    "InstallCertificate": {"status": "Accepted"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "DeleteCertificate": {"status": "Accepted"},
    "CertificateSigned": {"status": "Accepted"},
}


def _camel(value):
    if isinstance(value, dict):
        return {k.split("_")[0] + "".join(p.title() for p in k.split("_")[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def answer_json(action):
    """CommandCharger's answer to `action` as it travels: camelCase JSON."""
    return _camel(ANSWERS[action])


class CommandCharger(LibraryCharger):
    """The ocpp package's ChargePoint answering every 1.6 command (ANSWERS); it validates each
    request against the 1.6 schema before its handler runs. `received` lists what arrived."""

    def __init__(self, client_id, connection):
        super().__init__(client_id, connection)
        self.received = []


def _answering(action, answer):
    from ocpp.v16 import call_result

    def handler(self, **request):
        self.received.append((action, request))
        return getattr(call_result, action)(**answer)

    handler.__name__ = f"on_{action}"
    return on(action)(handler)


for _action, _answer in ANSWERS.items():
    if _action != "TriggerMessage":  # LibraryCharger's own handler answers it (and reboots on BootNotification)
        setattr(CommandCharger, f"on_{_action}", _answering(_action, _answer))
