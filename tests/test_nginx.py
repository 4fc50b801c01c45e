"""`manage.py nginx_config` (templates/deploy/nginx.conf) with a real nginx on loopback in front of
a real Daphne: the config passes `nginx -t`, chargers connect through it with their subprotocol and
Basic auth intact, the panel's pages and health answer through it, TLS redirects plain HTTP and
refuses plain ws that carries a password. Security profiles through it: tests/test_security_profiles.py."""
import asyncio
import io
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError

from .chargers import basic_auth, connected_library_charger, create_charge_point, dp_get
from .conftest import _free_port, _free_ports

pytestmark = pytest.mark.django_db(transaction=True)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN = """daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/site.conf;
}}
"""


def nginx_config(*args):
    out = io.StringIO()
    call_command("nginx_config", *args, stdout=out)
    return out.getvalue()


class Nginx:
    def __init__(self, directory, site):
        self.dir = Path(directory)
        (self.dir / "site.conf").write_text(site)
        (self.dir / "nginx.conf").write_text(MAIN.format(d=self.dir))
        self.command = [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]

    def check(self):
        return subprocess.run(self.command + ["-t"], capture_output=True, text=True)

    def __enter__(self):
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE, text=True)
        return self

    def wait_for(self, port):
        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read())
            time.sleep(0.05)
        raise RuntimeError("nginx did not listen")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


class Front:
    """What connected_library_charger needs of a server: the websocket URL of a charger."""

    def __init__(self, port):
        self.http, self.url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"

    def ws(self, client_id):
        return f"{self.url}/ocpp/{client_id}"


def with_key(client_id):
    out = io.StringIO()
    call_command("ocpp_password", client_id, stdout=out)
    return out.getvalue().strip()


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_config_sets_what_deployments_get_wrong():
    site = nginx_config("--listen", "8080", "--node", "10.0.0.1:8001", "--node", "10.0.0.2:8001", "--server-name", "ocpp.example.com")
    assert "server 10.0.0.1:8001 max_fails=0;" in site and "server 10.0.0.2:8001 max_fails=0;" in site  # never marked down: see the template
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site and "$proxy_add_x_forwarded_for" not in site  # set, never appended
    assert "proxy_http_version 1.1;" in site and "proxy_set_header Upgrade $http_upgrade;" in site
    assert "proxy_connect_timeout 3s;" in site  # a vanished node machine costs 3 s, not 60, before the next is tried
    assert "proxy_read_timeout 3600s;" in site  # far above Daphne's 20 s ping: no drop after 60 s of silence
    assert "limit_req zone=ocpp_handshakes" in site and "server_name ocpp.example.com;" in site
    assert "&amp;" not in site and "&#x27;" not in site  # a config, not HTML


@pytest.mark.parametrize("args, message", [
    (("--listen", "80", "--node", "nohost"), "write HOST:PORT"),
    (("--listen", "443", "--node", "127.0.0.1:8001", "--tls-cert", "/etc/ssl/c.pem"), "both --tls-cert and --tls-key"),
    (("--listen", "8080", "--node", "127.0.0.1:8001", "--client-ca", "/etc/ssl/ca.pem"), "--client-ca needs TLS"),
])
def test_bad_arguments_say_what_to_write(args, message):
    with pytest.raises(CommandError, match=message):
        nginx_config(*args)


async def test_chargers_and_the_panel_through_a_real_nginx(server, tmp_path):
    port = _free_port()
    site = await sync_to_async(nginx_config)("--listen", str(port), "--node", f"127.0.0.1:{server.port}")
    nginx = Nginx(tmp_path, site)
    checked = nginx.check()
    assert checked.returncode == 0, checked.stderr
    name = await create_charge_point("via-nginx", "Accepted")
    key_hex = await sync_to_async(with_key)("via-nginx")
    with nginx:
        nginx.wait_for(port)
        front = Front(port)
        async with connected_library_charger(front, "via-nginx", headers=basic_auth("via-nginx", key_hex.encode())) as cp:  # Authorization passed through
            assert (await cp.boot()).status == "Accepted"
            assert await dp_get(f"{name}.State.Subprotocol") == "ocpp1.6"  # Sec-WebSocket-Protocol passed through
            await asyncio.sleep(0)
        status, body = await sync_to_async(get)(front.http + "/healthz")
        assert status == 200 and '"alive"' in body
        status, body = await sync_to_async(get)(front.http + "/accounts/login/")
        assert status == 200 and "password" in body.lower()
    assert "via-nginx" in (tmp_path / "access.log").read_text()  # it really went through nginx


def test_tls_redirects_the_panel_and_refuses_plain_ws_with_a_password(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    https_port, http_port = _free_ports(2)
    site = nginx_config("--listen", str(https_port), "--http-listen", str(http_port), "--node", "127.0.0.1:9", "--tls-cert", str(cert), "--tls-key", str(key))
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in site
    nginx = Nginx(tmp_path, site)
    assert nginx.check().returncode == 0
    with nginx:
        nginx.wait_for(http_port)
        upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
        with_password = urllib.request.Request(f"http://127.0.0.1:{http_port}/ocpp/CP1", headers={**upgrade, "Authorization": "Basic Q1AxOng="})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(with_password, timeout=5)
        assert refused.value.code == 426  # a password never crosses in clear: wss only
        without = urllib.request.Request(f"http://127.0.0.1:{http_port}/ocpp/CP1", headers=upgrade)
        with pytest.raises(urllib.error.HTTPError) as passed_on:
            urllib.request.urlopen(without, timeout=5)
        assert passed_on.value.code == 502  # passed on to the (here dead) node, which decides by profile
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as moved:
            opener.open(f"http://127.0.0.1:{http_port}/fleet", timeout=5)
        assert moved.value.code == 301 and moved.value.headers["Location"] == f"https://127.0.0.1:{https_port}/fleet"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
