"""Fleet simulator: N OCPP 1.6J chargers over real websockets.

  storm:       every charger connects, boots and sends one StatusNotification per connector,
               all at once; prints the seconds until the last one is done.
  closed-loop: every charger sends MeterValues and Heartbeat alternately, each as soon as the
               previous is answered, for a fixed time; prints answered calls per second.
  idle:        connect and boot N chargers, then hold them open (for RSS measurements) until
               stdin closes.

Usage: python bench/fleet.py URL MODE --chargers N [--connectors 2] [--seconds 10] [--prefix X]
"""
import argparse
import asyncio
import json
import sys
import time

import websockets

TS = "2026-11-21T10:00:00Z"


class Charger:
    def __init__(self, url, client_id):
        self.url = f"{url}/{client_id}"
        self.ws = None
        self.n = 0
        self.retries = 0  # handshakes that failed and were tried again

    async def connect(self):
        for attempt in range(20):
            try:
                self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"], ping_interval=None, compression=None, open_timeout=60, max_queue=4)
                return
            except (OSError, asyncio.TimeoutError, websockets.InvalidStatus, websockets.InvalidHandshake):
                self.retries += 1
                await asyncio.sleep(0.1 * (attempt + 1))
        raise RuntimeError(f"could not connect {self.url}")

    async def call(self, action, payload):
        self.n += 1
        await self.ws.send(json.dumps([2, str(self.n), action, payload]))
        answer = json.loads(await self.ws.recv())
        if answer[0] != 3:
            raise RuntimeError(f"{action} answered {answer}")
        return answer[2]

    async def boot(self, connectors):
        answer = await self.call("BootNotification", {"chargePointVendor": "bench", "chargePointModel": "sim"})
        if answer["status"] != "Accepted":
            raise RuntimeError(f"boot answered {answer}")
        for connector in range(1, connectors + 1):
            await self.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError", "status": "Available"})


def meter_values(i):
    return {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": TS,
                "sampledValue": [
                    {"value": str(1000 + i), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                ],
            }
        ],
    }


async def storm(url, n, connectors, prefix):
    chargers = [Charger(url, f"{prefix}{i:05d}") for i in range(n)]

    async def one(c):
        await c.connect()
        await c.boot(connectors)

    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in chargers))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(c.ws.close() for c in chargers), return_exceptions=True)
    retries = sum(c.retries for c in chargers)
    return {"mode": "storm", "chargers": n, "connectors": connectors, "seconds": round(elapsed, 3), "calls": n * (1 + connectors), "retries": retries}


async def closed_loop(url, n, seconds, prefix):
    chargers = [Charger(url, f"{prefix}{i:05d}") for i in range(n)]
    for i in range(0, n, 100):
        group = chargers[i : i + 100]
        await asyncio.gather(*(c.connect() for c in group))
        await asyncio.gather(*(c.boot(1) for c in group))
    counts = [0] * n
    stop_at = time.perf_counter() + seconds + 1.0

    async def loop(index, c):
        i = 0
        while time.perf_counter() < stop_at:
            if i % 2 == 0:
                await c.call("MeterValues", meter_values(i))
            else:
                await c.call("Heartbeat", {})
            i += 1
            if measuring[0]:
                counts[index] += 1

    measuring = [False]

    async def window():
        await asyncio.sleep(1.0)  # warm-up not counted
        before = sum(counts)
        measuring[0] = True
        t0 = time.perf_counter()
        await asyncio.sleep(seconds - 0.2)
        return sum(counts) - before, time.perf_counter() - t0

    loops = [asyncio.create_task(loop(i, c)) for i, c in enumerate(chargers)]
    calls, elapsed = await window()
    await asyncio.gather(*loops)
    await asyncio.gather(*(c.ws.close() for c in chargers), return_exceptions=True)
    return {"mode": "closed-loop", "chargers": n, "seconds": round(elapsed, 3), "calls": calls, "calls_per_s": round(calls / elapsed, 1)}


async def idle(url, n, prefix):
    chargers = [Charger(url, f"{prefix}{i:05d}") for i in range(n)]
    for i in range(0, n, 200):
        group = chargers[i : i + 200]
        await asyncio.gather(*(c.connect() for c in group))
        await asyncio.gather(*(c.boot(0) for c in group))
    print(json.dumps({"mode": "idle", "chargers": n, "ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(c.ws.close() for c in chargers), return_exceptions=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="e.g. ws://127.0.0.1:8000/ocpp")
    parser.add_argument("mode", choices=["storm", "closed-loop", "idle"])
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--prefix", default="SIM")
    args = parser.parse_args()
    if args.mode == "storm":
        result = asyncio.run(storm(args.url, args.chargers, args.connectors, args.prefix))
    elif args.mode == "closed-loop":
        result = asyncio.run(closed_loop(args.url, args.chargers, args.seconds, args.prefix))
    else:
        return asyncio.run(idle(args.url, args.chargers, args.prefix))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
