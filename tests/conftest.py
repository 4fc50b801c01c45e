"""Real parts: a Daphne process serving ocpp_dp.asgi on a free port, against the test database
(SQLite file or PostgreSQL) and, when REDIS_URL is set, the Redis channel layer."""
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    return _free_ports(1)[0]


def _free_ports(count):
    """`count` distinct free ports (asked for while all are held: one at a time, the kernel may
    hand out the same port twice; a test's nginx then refused its own listeners)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _database_url(settings_dict):
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"


class Server:
    def __init__(self, env_overrides, log_path, port=None):
        self.port = port or _free_port()  # a port of its own, or a stopped node's (tests/faults.py)
        self.url = f"ws://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        from django.db import connection

        env = dict(os.environ)
        env.update({"DATABASE_URL": _database_url(connection.settings_dict), "OCPP_CALL_TIMEOUT": "3", "PYTHONUNBUFFERED": "1", "DATABASE_POOL": "1"})
        env.update(env_overrides)
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "--websocket_timeout", "-1", "--websocket_connect_timeout", "60", "ocpp_dp.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {Path(self.log_path).read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.http + "/admin/login/", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("daphne did not start in 30 s")

    def ws(self, client_id):
        return f"{self.url}/ocpp/{client_id}"

    def logs(self):
        return Path(self.log_path).read_text()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def servers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Daphne processes by configuration, started once per session."""
    started = {}

    def get(**env):
        key = tuple(sorted(env.items()))
        if key not in started:
            with django_db_blocker.unblock():
                started[key] = Server({k: str(v) for k, v in env.items()}, tmp_path_factory.mktemp("daphne") / "daphne.log")
        return started[key]

    def stop_all():
        """Stop every server started so far (a later test that asks for one starts it again): for a
        cluster that shares the test database but not its Redis, whose connected chargers these
        servers' sweeps would find missing from their own address book and mark disconnected."""
        for server in started.values():
            server.stop()
        started.clear()

    get.stop_all = stop_all
    yield get
    for server in started.values():
        server.stop()


def _settle():
    """Before the test database is flushed: wait until the server has written every charger's
    disconnect (a flush racing those writes deadlocks on PostgreSQL), and close the connections
    the test's own sync_to_async threads opened."""
    from asgiref.sync import async_to_sync, sync_to_async
    from django.db import connections

    from datapoints.models import Element

    deadline = time.time() + 10
    while Element.objects.filter(path="State.Connected", value=True).exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.05)
    # In a thread of its own: a browser test's Playwright keeps an event loop running in this one.
    closer = threading.Thread(target=async_to_sync(sync_to_async(connections.close_all)))
    closer.start()
    closer.join(10)


def _flush_retrying_deadlocks():
    """The servers' periodic work (the connection sweep, the offline-alarm check, the charging and
    local-list follow-ups) may hold a row lock while the test database's TRUNCATE waits for its
    tables: PostgreSQL breaks such a deadlock by failing one side, sometimes the flush. Production
    never truncates; the test harness retries the flush, which is what a deadlock asks for."""
    from django.core.management.commands import flush
    from django.core.management.base import CommandError

    handle = flush.Command.handle

    def retrying(self, **options):
        for attempt in range(5):
            try:
                return handle(self, **options)
            except CommandError as exc:
                if "deadlock" not in str(exc.__cause__ or exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    flush.Command.handle = retrying


_flush_retrying_deadlocks()


def _serving(servers, settings, **env):
    srv = servers(**env)
    settings.OCPP_LOCAL_API_URL = srv.http  # where this process's dp_set reaches it without Redis
    yield srv
    _settle()


def _serving_alone(tmp_path, settings, **env):
    """A server of the test's own, stopped after it: for settings whose periodic work would reach
    other tests' chargers if the server lived on (the session-wide `servers` keep theirs running)."""
    srv = Server({k: str(v) for k, v in env.items()}, tmp_path / "daphne-alone.log")
    settings.OCPP_LOCAL_API_URL = srv.http
    try:
        yield srv
        _settle()
    finally:
        srv.stop()


@pytest.fixture
def server(servers, transactional_db, settings):
    """Auto-create on, new chargers Pending."""
    yield from _serving(servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=1, OCPP_NEW_CHARGE_POINT_STATUS="Pending")


@pytest.fixture
def closed_server(servers, transactional_db, settings):
    """Auto-create off: unknown chargers are refused."""
    yield from _serving(servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=0)


def start_celery(tmp_path, *args, ready, env=None):
    """A real Celery process (`worker` or `beat`) on this test database and REDIS_URL."""
    from django.db import connection

    full_env = {**os.environ, "DATABASE_URL": _database_url(connection.settings_dict), "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = tmp_path / f"celery-{args[0]}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "ocpp_dp", *args, "--loglevel", "INFO"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while ready not in log_path.read_text():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError(f"celery {args[0]} did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    return process


def stop_process(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(autouse=True)
def _clean_redis():
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        client = redis.from_url(url)
        for key in client.scan_iter("ocpp:authfail:*"):
            client.delete(key)
        for key in client.scan_iter(":1:ocpp:authfail:*"):
            client.delete(key)
        client.delete("ocpp:hooks")  # the request-hook registry a test's worker published
    yield


# --- the panel's browser tests: Debian's Chromium (make test installs it) ------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": os.environ.get("PANEL_CHROMIUM", "/usr/bin/chromium"), "args": ["--no-sandbox"]}


@pytest.fixture
def charger_loop():
    from .browser import ChargerLoop

    loop = ChargerLoop()
    yield loop
    loop.close()


def pytest_collection_modifyitems(items):
    """Browser tests last: pytest-playwright's sync API keeps an event loop running in the main
    thread from its first use to the end of the session, and async tests cannot run after it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
