"""Baseline: a minimal OCPP 1.6J server on the `ocpp` package's ChargePoint over the `websockets`
package. It validates (the library does) and answers, and stores nothing.

Usage: python bench/baseline_server.py PORT   (chargers connect to ws://127.0.0.1:PORT/ocpp/<id>)
"""
import asyncio
import logging
import sys
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus

logging.getLogger("ocpp").setLevel(logging.WARNING)


def now():
    return datetime.now(timezone.utc).isoformat()


class BaselineChargePoint(ChargePoint):
    @on(Action.boot_notification)
    def on_boot(self, **kwargs):
        return call_result.BootNotification(current_time=now(), interval=300, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status(self, **kwargs):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs):
        return call_result.MeterValues()


async def on_connect(ws):
    client_id = ws.request.path.rsplit("/", 1)[-1]
    try:
        await BaselineChargePoint(client_id, ws).start()
    except websockets.ConnectionClosed:
        pass


async def main(port):
    async with websockets.serve(on_connect, "127.0.0.1", port, subprotocols=["ocpp1.6"], ping_interval=None, compression=None, max_queue=4):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
