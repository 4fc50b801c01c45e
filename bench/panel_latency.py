"""Live-update latency of the panel: a charger's StatusNotification on the wire -> the new value
visible on the charge point's page in headless Chromium.

  python bench/panel_latency.py [--changes 50] [--database-url URL] [--redis-url URL]

Starts one Daphne (a fresh SQLite file by default; a PostgreSQL --database-url is recreated), a raw websocket charger and Debian's Chromium
(PANEL_CHROMIUM, default /usr/bin/chromium) through Playwright. For each change the clock starts
when the charger sends the frame and stops when the page shows the value (polled every animation
frame). Prints the median, p95 and max in milliseconds.
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import free_port, recreate_database, wait_port  # noqa: E402

PASSWORD = "bench-panel-pw-1"


def start_server(var_dir, database_url, redis_url):
    env = {**os.environ, "OCPP_VAR_DIR": var_dir, "DATABASE_URL": database_url, "OCPP_AUTO_CREATE_CHARGE_POINTS": "1", "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "LOG_LEVEL": "WARNING"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(manage + ["shell", "-c", f"from django.contrib.auth.models import User; User.objects.filter(username='bench').exists() or User.objects.create_superuser('bench', password='{PASSWORD}')"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--websocket_timeout", "-1", "ocpp_dp.asgi:application"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


class Charger:
    """A raw OCPP 1.6 charger on an event loop in a thread."""

    def __init__(self, url):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.ws = self.run(self._connect(url))
        self.n = 0

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def _connect(self, url):
        import websockets

        return await websockets.connect(url, subprotocols=["ocpp1.6"])

    async def _call(self, action, payload):
        self.n += 1
        await self.ws.send(json.dumps([2, str(self.n), action, payload]))
        sent = time.monotonic()
        while True:
            frame = json.loads(await self.ws.recv())
            if frame[0] == 3 and frame[1] == str(self.n):
                return sent

    def call(self, action, payload):
        return self.run(self._call(action, payload))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    var_dir = tempfile.mkdtemp(prefix="panel-bench-")
    if args.database_url.startswith("postgres"):
        recreate_database(args.database_url)
    proc, port = start_server(var_dir, args.database_url or f"sqlite:///{var_dir}/db.sqlite3", args.redis_url)
    try:
        charger = Charger(f"ws://127.0.0.1:{port}/ocpp/LAT-1")
        charger.call("BootNotification", {"chargePointVendor": "bench", "chargePointModel": "latency"})
        charger.call("StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("PANEL_CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"])
            page = browser.new_page()
            base = f"http://127.0.0.1:{port}"
            page.goto(base + "/accounts/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.goto(base + "/charge-points/LAT-1/")
            page.wait_for_selector("#live:text('live')")
            cell = 'tr[data-element="_ChargePoint0001-1.Status.status"] td.value span'
            latencies = []
            for i in range(args.changes):
                status = ("Charging", "SuspendedEV")[i % 2]
                sent = charger.call("StatusNotification", {"connectorId": 1, "status": status, "errorCode": "NoError"})
                try:
                    page.wait_for_function("([sel, want]) => document.querySelector(sel).textContent === want", arg=[cell, status], polling="raf", timeout=10000)
                except Exception:
                    page.screenshot(path="/tmp/panel-latency-failure.png")
                    raise SystemExit(f"change {i}: the page did not show {status!r} within 10 s (screenshot /tmp/panel-latency-failure.png)")
                latencies.append(1000 * (time.monotonic() - sent))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(f"panel live latency over {len(latencies)} changes (frame sent -> visible): median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms")


if __name__ == "__main__":
    main()
