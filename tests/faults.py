"""The fault drills' cluster, all real processes on loopback: the generated nginx site
(`manage.py nginx_config`) in front of Daphne nodes of the test's own, which can be stopped
(SIGTERM), killed (SIGKILL) and started again on their port; and a fleet of raw-websocket chargers
that behave as real ones do on a fault: reconnect through nginx after a short back-off, boot
again, and resend every transaction message that was never answered, in order, with its original
unique id."""
import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import websockets
from asgiref.sync import sync_to_async

from .conftest import Server, _free_port, _free_ports
from .test_nginx import Nginx, nginx_config

NODE_ENV = {"OCPP_AUTO_CREATE_CHARGE_POINTS": 1, "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "OCPP_SWEEP_INTERVAL": 1}
RECONNECT_DELAY = 0.3  # seconds: chargers wait a moment before reconnecting (real ones wait longer)
TRANSACTION_ACTIONS = {"StartTransaction", "StopTransaction", "MeterValues"}  # queued and resent (OCPP 1.6 4.8)


class Cluster:
    """nginx on a free port in front of the named nodes. Every node's port is chosen up front, so
    nginx lists a node that is not started (yet): its connections are refused and go elsewhere."""

    def __init__(self, tmp_path, names, env=None, start=None):
        self.tmp = Path(tmp_path)
        self.env = {**NODE_ENV, **(env or {})}
        self.ports = dict(zip(names, _free_ports(len(names))))
        self.nodes, self.starts = {}, itertools.count()
        for name in names if start is None else start:
            self.start(name)
        self.port = _free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        nodes = [arg for name in names for arg in ("--node", f"127.0.0.1:{self.ports[name]}")]
        (self.tmp / "nginx").mkdir(exist_ok=True)
        self.nginx = Nginx(self.tmp / "nginx", nginx_config("--listen", str(self.port), *nodes, "--handshake-rate", "1000"))
        checked = self.nginx.check()
        assert checked.returncode == 0, checked.stderr
        self.nginx.__enter__()
        self.nginx.wait_for(self.port)

    def url(self, client_id):
        return f"ws://127.0.0.1:{self.port}/ocpp/{client_id}"

    def start(self, name):
        env = {k: str(v) for k, v in {**self.env, "OCPP_NODE_NAME": name}.items()}
        self.nodes[name] = Server(env, self.tmp / f"{name}-{next(self.starts)}.log", port=self.ports[name])
        return self.nodes[name]

    def stop(self, name, sig=signal.SIGTERM, timeout=15):
        """Signal the node and wait for it to exit; returns (exit code, seconds it took)."""
        process = self.nodes.pop(name).process
        started = time.monotonic()
        process.send_signal(sig)
        code = process.wait(timeout)
        return code, time.monotonic() - started

    def access_log(self):
        return (self.tmp / "nginx" / "access.log").read_text()

    def close(self):
        self.nginx.__exit__(None, None, None)
        for node in self.nodes.values():
            node.stop()


class Charger:
    """One charger's socket through nginx. `call` sends a CALL and returns the answer frame;
    transaction messages survive a lost connection (resent after the next boot), others fail with
    ConnectionError. CALLs from the central system are answered Accepted and kept in `received`."""

    def __init__(self, url, client_id):
        self.url, self.client_id = url, client_id
        self.ws = None
        self.ids = itertools.count(1)
        self.queued = {}  # unique id -> (frame, future): transaction messages not yet answered
        self.waiting = {}  # unique id -> future: other calls on the current socket
        self.received, self.close_codes, self.refusals = [], [], []
        self.connections = 0
        self.online = asyncio.Event()
        self.reconnecting = True
        self._reader = None

    async def connect(self):
        while True:
            try:
                self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"], open_timeout=10, ping_interval=None)
                break
            except websockets.InvalidStatus as exc:
                self.refusals.append(exc.response.status_code)
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake) as exc:
                self.refusals.append(type(exc).__name__)
            await asyncio.sleep(RECONNECT_DELAY)
        self.connections += 1
        self._reader = asyncio.create_task(self._read(self.ws))
        boot = await self._call_once("BootNotification", {"chargePointVendor": "faults", "chargePointModel": "drill"})
        assert boot[2]["status"] == "Accepted", boot
        for frame, _future in list(self.queued.values()):  # in the order first sent
            await self._send(frame)
        self.online.set()

    async def call(self, action, payload, timeout=60):
        unique_id = f"{self.client_id}-{next(self.ids)}"
        frame = json.dumps([2, unique_id, action, payload])
        future = asyncio.get_running_loop().create_future()
        if action in TRANSACTION_ACTIONS:
            self.queued[unique_id] = (frame, future)
            if self.online.is_set():
                await self._send(frame)
        else:
            self.waiting[unique_id] = future
            await self.ws.send(frame)
        return await asyncio.wait_for(future, timeout)

    async def _call_once(self, action, payload):
        unique_id = f"{self.client_id}-{next(self.ids)}"
        future = self.waiting[unique_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(future, 30)

    async def _send(self, frame):
        try:
            await self.ws.send(frame)
        except websockets.ConnectionClosed:
            pass  # resent after the reconnect

    async def _read(self, ws):
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    self.received.append((frame[2], frame[3]))
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                    continue
                entry = self.queued.pop(frame[1], None)
                future = entry[1] if entry else self.waiting.pop(frame[1], None)
                if future is not None and not future.done():
                    future.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        self.close_codes.append(ws.close_code)
        self.online.clear()
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{self.client_id}: connection closed ({ws.close_code})"))
        self.waiting.clear()
        if self.reconnecting:
            await asyncio.sleep(RECONNECT_DELAY)
            await self.connect()

    async def close(self):
        self.reconnecting = False
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


async def fleet(cluster, client_ids):
    """Chargers connected and booted through nginx, all at once."""
    chargers = [Charger(cluster.url(client_id), client_id) for client_id in client_ids]
    await asyncio.gather(*(charger.connect() for charger in chargers))
    return chargers


async def close_fleet(chargers):
    await asyncio.gather(*(charger.close() for charger in chargers), return_exceptions=True)


@sync_to_async
def element_values(client_ids, path):
    """{ClientId: value} of a charge point element."""
    from datapoints.models import Element

    rows = Element.objects.filter(path=path, datapoint__client_id__in=list(client_ids)).values_list("datapoint__client_id", "value")
    return dict(rows)


async def until(check, timeout, interval=0.1):
    """Poll `check` (async) until truthy; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


def all_on(chargers, node):
    """A check: every charger connected, on `node`, by its elements."""

    async def check():
        ids = [c.client_id for c in chargers]
        nodes, connected = await element_values(ids, "State.Node"), await element_values(ids, "State.Connected")
        return all(nodes.get(i) == node and connected.get(i) is True for i in ids)

    return check


async def until_all_connected(chargers, timeout=15):
    """Wait until every charger's State.Connected is true; returns {ClientId: State.Node}."""
    ids = [c.client_id for c in chargers]

    async def check():
        connected = await element_values(ids, "State.Connected")
        return all(connected.get(i) is True for i in ids)

    await until(check, timeout)
    return await element_values(ids, "State.Node")


class PrivateRedis:
    """A Redis of the test's own (never the shared one: this one is stopped and started again),
    without persistence, as a restarted production Redis without a dump comes back: empty."""

    def __init__(self, tmp_path):
        self.port, self.dir = _free_port(), Path(tmp_path)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self):
        import redis

        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return client.close()
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def serving(tmp_path, names, env=None, start=None):
    """A fixture's body: the cluster for one test, closed after it (`yield from serving(...)`)."""
    from .conftest import _settle

    built = Cluster(tmp_path, names, env, start)
    try:
        yield built
    finally:
        built.close()
        _settle()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb + pg_ctl from Debian's postgresql package, in
    a temporary directory, on a free port; never the shared one: this one is restarted), migrated."""

    def __init__(self):
        import glob
        import os
        import tempfile

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
        assert found, "PostgreSQL's server binaries are missing (make services installs them)"
        self.bin = Path(found[-1]).parent
        # Not under pytest's basetemp: its directories are private to this user, and as root the
        # server must run as postgres (initdb refuses root).
        self.dir = Path(tempfile.mkdtemp(prefix="ocpp-faults-pg-"))
        self.port = _free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/ocpp"
        self.as_owner = [] if os.geteuid() else ["runuser", "-u", "postgres", "--"]
        if not os.geteuid():
            os.chown(self.dir, *_uid_gid("postgres"))
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "ocpp")
        env = {**os.environ, "DATABASE_URL": self.url}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=Path(__file__).resolve().parent.parent, env=env, check=True)

    def _run(self, tool, *args):
        subprocess.run([*self.as_owner, str(self.bin / tool), *args], check=True, capture_output=True)

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.dir), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def remove(self):
        import shutil

        subprocess.run([*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _uid_gid(user):
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
