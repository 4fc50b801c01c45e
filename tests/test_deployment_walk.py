"""docs/deployment.md part 2, walked step by step on this machine with the project's own files: the
env template filled in, migrate/collectstatic/createsuperuser/site_create/operator_create, two
Daphne nodes and a Celery worker started from the systemd units' ExecStart and Environment lines,
nginx from `nginx_config` with the documented arguments and TLS, then the checks of step 7 from
outside: /readyz over https, chargers over wss spread over both nodes, a command crossing nodes,
an operator's panel through nginx. Needs PostgreSQL and Redis (make test's second pass)."""
import asyncio
import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
import websockets

from .conftest import ROOT, _free_ports
from .test_nginx import Nginx

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the documented cluster runs on PostgreSQL and Redis (make test's second pass)",
)
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def test_step_2_the_release_runs_on_exactly_its_pinned_requirements():
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s#]+)", (ROOT / "requirements.txt").read_text(), flags=re.M)
    assert len(pins) > 20
    wrong = {name: (wanted, _installed(name)) for name, wanted in pins if _installed(name) != wanted}
    assert not wrong, f"installed versions differ from requirements.txt: {wrong}"


def _installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def filled_env_file(tmp_path, database_url, redis_url):
    """Step 3: the template, filled in as a deployer would (values for this machine)."""
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "walk-" + "x" * 50,
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "OCPP_CHANNEL_PREFIX": f"walk{os.getpid()}",
        "OCPP_TRUSTED_PROXIES": "127.0.0.1,::1",
    }
    lines = []
    for line in (DEPLOY / "ocpp.env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if name in values else line)
    assert not values, f"the template lacks {sorted(values)}"
    path = tmp_path / "ocpp.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def environment_file(path):
    """What systemd's EnvironmentFile= gives a unit: KEY=VALUE lines, comments skipped."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}


def unit_command(name, instance, tmp_path, env_file):
    """A unit's ExecStart and environment, with /opt/ocpp/.venv/bin, %i and %H filled in for here."""
    text = (DEPLOY / name).read_text()
    fields = [line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")]
    env = {**os.environ, **environment_file(env_file)}
    for key, value in fields:
        if key == "Environment":
            var, _, setting = value.partition("=")
            env[var] = setting.replace("%H", socket.gethostname()).replace("%i", str(instance))
    if "PROMETHEUS_MULTIPROC_DIR" in env:  # RuntimeDirectory= makes it under /run; here a temp dir
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(exist_ok=True)
    command = dict(fields)["ExecStart"].replace("%i", str(instance)).replace("/opt/ocpp/.venv/bin/", f"{BIN}/")
    return shlex.split(command), env


def manage(env_file, *args, extra=None):
    env = {**os.environ, **environment_file(env_file), **(extra or {})}
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"manage.py {' '.join(args)}: {out.stderr[-2000:]}"
    return out.stdout.strip()


def fresh_database(name):
    import psycopg

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def wait_ready(url, context=None, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as answer:
                return answer.status, answer.read().decode()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def cluster(tmp_path):
    database_url = fresh_database(f"walk_{os.getpid()}")
    env_file = filled_env_file(tmp_path, database_url, os.environ["REDIS_URL"])
    processes = []
    try:
        yield env_file, processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_deployment_part_2_step_by_step(cluster, tmp_path):
    env_file, processes = cluster
    # Step 4: database and static files, the first login, a site and an operator.
    manage(env_file, "migrate", "--noinput")
    manage(env_file, "collectstatic", "--noinput", "-v0", extra={"STATIC_ROOT": str(tmp_path / "static")})
    manage(env_file, "createsuperuser", "--noinput", "--username", "admin", "--email", "a@example.com", extra={"DJANGO_SUPERUSER_PASSWORD": "walk-admin-pw-1"})
    assert manage(env_file, "site_create", "plant-a", "--name", "Plant A") == "plant-a"
    manage(env_file, "operator_create", "op", "--site", "plant-a", "--role", "operator", extra={"OPERATOR_PASSWORD": "walk-op-pw-1"})
    assert (tmp_path / "static" / "panel").is_dir()
    # Step 5: two Daphne nodes and a worker, as their units start them.
    ports = _free_ports(2)
    for port in ports:
        command, env = unit_command("ocpp-daphne@.service", port, tmp_path, env_file)
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(tmp_path / f"daphne-{port}.log", "w"), stderr=subprocess.STDOUT))
    command, env = unit_command("ocpp-celery-worker.service", "", tmp_path, env_file)
    processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT))
    for port in ports:
        status, body = wait_ready(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and '"ready"' in body
    # Step 6: nginx with TLS, as documented (ports of this test instead of 443/80).
    cert, key = tmp_path / "ocpp.pem", tmp_path / "ocpp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    https, http = _free_ports(2)
    nodes = [arg for port in ports for arg in ("--node", f"127.0.0.1:{port}")]
    site = manage(env_file, "nginx_config", "--listen", str(https), "--http-listen", str(http), *nodes, "--tls-cert", str(cert), "--tls-key", str(key), "--server-name", "localhost", extra={"STATIC_ROOT": str(tmp_path / "static")})
    (tmp_path / "nginx").mkdir()
    nginx = Nginx(tmp_path / "nginx", site)
    checked = nginx.check()
    assert checked.returncode == 0, checked.stderr
    with nginx:
        nginx.wait_for(https)
        tls = ssl.create_default_context(cafile=str(cert))
        # Step 7: from outside.
        status, body = wait_ready(f"https://127.0.0.1:{https}/readyz", tls)
        assert status == 200 and '"ready"' in body
        asyncio.run(_chargers_and_a_command(env_file, https, tls))
        _panel_through_nginx(https, tls)
        _metrics_and_an_api_token(env_file, ports[0], https, tls)


async def _chargers_and_a_command(env_file, https, tls):
    client_ids = [f"WALK-{n}" for n in range(6)]
    names = []
    for client_id in client_ids:  # the template keeps auto-create off: chargers are created first
        names.append(await asyncio.to_thread(manage, env_file, "dp_create", client_id, "--status", "Accepted"))
    await asyncio.to_thread(manage, env_file, "site_assign", "plant-a", *client_ids)
    sockets = []
    for client_id in client_ids:
        ws = await websockets.connect(f"wss://127.0.0.1:{https}/ocpp/{client_id}", subprotocols=["ocpp1.6"], ssl=tls)
        await ws.send('[2,"b","BootNotification",{"chargePointVendor":"walk","chargePointModel":"m"}]')
        assert '"Accepted"' in await asyncio.wait_for(ws.recv(), 10)
        sockets.append(ws)
    nodes = {await asyncio.to_thread(manage, env_file, "dp_get", f"{name}.State.Node") for name in names}
    assert len(nodes) == 2, nodes  # least_conn spread them over both nodes
    # A command from the shell reaches a charger on whichever node holds it.
    command = asyncio.create_task(asyncio.to_thread(manage, env_file, "ocpp_command", "WALK-0", "Reset", '{"type": "Soft"}', "--timeout", "10"))
    frame = await asyncio.wait_for(sockets[0].recv(), 15)
    assert '"Reset"' in frame
    unique_id = frame.split('"')[1]
    await sockets[0].send(f'[3,"{unique_id}",{{"status":"Accepted"}}]')
    assert '"Accepted"' in await command
    for ws in sockets:
        await ws.close()


def _panel_through_nginx(https, tls):
    from http.cookiejar import CookieJar

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls), urllib.request.HTTPCookieProcessor(CookieJar()))
    login = f"https://localhost:{https}/accounts/login/"
    page = opener.open(login, timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "op", "password": "walk-op-pw-1", "csrfmiddlewaretoken": token}).encode()
    request = urllib.request.Request(login, data=body, headers={"Referer": login})
    fleet = opener.open(request, timeout=10).read().decode()
    assert "WALK-0" in fleet and "WALK-5" in fleet  # the operator sees plant-a's chargers


def _metrics_and_an_api_token(env_file, node_port, https, tls):
    """Step 8: /metrics on the machine itself, not through nginx (no token set); a script's token."""
    status, body = wait_ready(f"http://127.0.0.1:{node_port}/metrics")
    assert status == 200 and "ocpp_handshakes_total" in body
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"https://127.0.0.1:{https}/metrics", timeout=10, context=tls)
    assert refused.value.code == 403
    token = manage(env_file, "api_token", "op").split()[-1]
    request = urllib.request.Request(f"https://127.0.0.1:{https}/api/charge-points/?search=WALK-", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10, context=tls) as answer:
        listed = json.loads(answer.read())
    assert {row["client_id"] for row in listed["results"]} == {f"WALK-{n}" for n in range(6)}
