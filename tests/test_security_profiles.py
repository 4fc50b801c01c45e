"""Security profiles 0-3 (Config.SecurityProfile), end to end: a real nginx from `nginx_config` with
TLS and the client-certificate listener (`--client-ca`) in front of a real Daphne that trusts only
nginx's address (OCPP_TRUSTED_PROXIES), certificates made by openssl here. nginx reaches Daphne from
127.0.0.2 (proxy_bind), so a test connecting to Daphne directly from 127.0.0.1 is an untrusted peer
whose proxy headers must count for nothing."""
import asyncio
import ssl
import subprocess
import urllib.request

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from datapoints.paths import set_value

from .chargers import basic_auth, create_charge_point, dp_get
from .conftest import _free_ports, _serving
from .test_nginx import Nginx, nginx_config, with_key

pytestmark = pytest.mark.django_db(transaction=True)
NGINX_ADDRESS = "127.0.0.2"
ORGANIZATION = "Test Charging GmbH"


def openssl_certificate(directory, name, subject, ca=None, server=False):
    """(cert, key) files; signed by ca=(cert, key) or self-signed."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", subject, "-keyout", str(key), "-out", str(cert)]
    if ca:
        command += ["-CA", str(ca[0]), "-CAkey", str(ca[1]), "-addext", "basicConstraints=critical,CA:FALSE"]
    if server:
        command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


class Cluster:
    """nginx with TLS on `https`, plain HTTP on `http`, client certificates on `mtls`."""

    def __init__(self, directory, daphne):
        self.dir, self.daphne = directory, daphne
        self.ca = openssl_certificate(directory, "ca", f"/CN=Operator CA/O={ORGANIZATION}")
        self.server_cert = openssl_certificate(directory, "server", "/CN=localhost", self.ca, server=True)
        self.https, self.http, self.mtls = _free_ports(3)
        site = nginx_config(
            "--listen", str(self.https), "--http-listen", str(self.http), "--node", f"127.0.0.1:{daphne.port}",
            "--tls-cert", str(self.server_cert[0]), "--tls-key", str(self.server_cert[1]),
            "--client-ca", str(self.ca[0]), "--client-cert-listen", str(self.mtls),
        )  # fmt: skip
        site = site.replace("proxy_pass http://ocpp_nodes;", f"proxy_pass http://ocpp_nodes;\n        proxy_bind {NGINX_ADDRESS};")
        self.nginx = Nginx(directory, site)
        checked = self.nginx.check()
        assert checked.returncode == 0, checked.stderr

    def tls(self, client=None):
        context = ssl.create_default_context(cafile=str(self.ca[0]))
        if client:
            context.load_cert_chain(str(client[0]), str(client[1]))
        return context

    def client_certificate(self, name, subject, ca=True):
        return openssl_certificate(self.dir, name, subject, self.ca if ca else None)


@pytest.fixture
def cluster(servers, transactional_db, settings, tmp_path):
    serving = _serving(servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=0, OCPP_TRUSTED_PROXIES=NGINX_ADDRESS, OCPP_CERT_ORGANIZATION=ORGANIZATION)
    cluster = Cluster(tmp_path, next(serving))
    with cluster.nginx:
        for port in (cluster.https, cluster.http, cluster.mtls):
            cluster.nginx.wait_for(port)
        yield cluster
    next(serving, None)


async def boot(url, headers=None, tls=None):
    """Connect, boot, close; the BootNotification's status."""
    async with websockets.connect(url, subprotocols=["ocpp1.6"], additional_headers=headers, ssl=tls) as ws:
        await ws.send('[2,"1","BootNotification",{"chargePointVendor":"v","chargePointModel":"m"}]')
        answer = await asyncio.wait_for(ws.recv(), 10)
        return answer.split('"status":"')[1].split('"')[0]


async def refused(url, headers=None, tls=None):
    """(HTTP status, reason) of a refused handshake: Daphne's refusal says why in the status line."""
    with pytest.raises(InvalidStatus) as refusal:
        await boot(url, headers, tls)
    response = refusal.value.response
    return response.status_code, response.reason_phrase


async def charger(client_id, profile, password=True):
    name = await create_charge_point(client_id, "Accepted")
    key = (await sync_to_async(with_key)(client_id)).encode() if password else None
    if profile is not None:
        await sync_to_async(set_value)(f"{name}.Config.SecurityProfile", profile)
    return name, (basic_auth(client_id, key) if key else None)


async def test_profile_2_only_over_tls_through_a_trusted_proxy(cluster):
    name, auth = await charger("SP2-1", 2)
    assert await boot(f"wss://127.0.0.1:{cluster.https}/ocpp/SP2-1", auth, cluster.tls()) == "Accepted"
    # The charger's address is nginx's X-Forwarded-For (127.0.0.1), not nginx's own 127.0.0.2.
    assert await dp_get(f"{name}.State.RemoteAddress") == "127.0.0.1"
    # Plain ws through nginx: a password in clear is refused by nginx (426) ...
    assert (await refused(f"ws://127.0.0.1:{cluster.http}/ocpp/SP2-1", auth))[0] == 426
    # ... and without one the server refuses profile 2 for want of TLS.
    status, body = await refused(f"ws://127.0.0.1:{cluster.http}/ocpp/SP2-1")
    assert status == 403 and "connect over TLS" in body
    # Straight to Daphne, claiming TLS: the peer is no trusted proxy, so the header counts for nothing.
    status, body = await refused(f"{cluster.daphne.url}/ocpp/SP2-1", {**auth, "X-Forwarded-Proto": "https"})
    assert status == 403 and "connect over TLS" in body
    # Over TLS with a wrong password: 401 as ever.
    wrong = basic_auth("SP2-1", b"0" * 40)
    assert (await refused(f"wss://127.0.0.1:{cluster.https}/ocpp/SP2-1", wrong, cluster.tls()))[0] == 401
    # /metrics counts the refusals by outcome.
    refusals = await sync_to_async(handshakes)(cluster.daphne, "profile_not_met_403")
    assert refusals >= 2


def handshakes(daphne, outcome):
    with urllib.request.urlopen(daphne.http + "/metrics", timeout=10) as answer:
        families = text_string_to_metric_families(answer.read().decode())
    return sum(s.value for f in families if f.name == "ocpp_handshakes" for s in f.samples if s.name == "ocpp_handshakes_total" and s.labels["outcome"] == outcome)


async def test_an_untrusted_peer_cannot_choose_its_address(cluster):
    name, _auth = await charger("SP0-SPOOF", None, password=False)
    assert await boot(f"{cluster.daphne.url}/ocpp/SP0-SPOOF", {"X-Forwarded-For": "198.51.100.7"}) == "Accepted"
    assert await dp_get(f"{name}.State.RemoteAddress") == "127.0.0.1"


async def test_profile_0_over_plain_ws_and_profile_1_needs_a_password_set(cluster):
    await charger("SP0-1", 0, password=False)
    assert await boot(f"ws://127.0.0.1:{cluster.http}/ocpp/SP0-1") == "Accepted"  # plain ws, no password
    await charger("SP1-NOPW", 1, password=False)
    status, body = await refused(f"wss://127.0.0.1:{cluster.https}/ocpp/SP1-NOPW", None, cluster.tls())
    assert status == 403 and "manage.py ocpp_password SP1-NOPW" in body
    _name, auth = await charger("SP0-PW", 0)  # profile 0 with a password set: still asked
    assert (await refused(f"wss://127.0.0.1:{cluster.https}/ocpp/SP0-PW", None, cluster.tls()))[0] == 401
    assert await boot(f"wss://127.0.0.1:{cluster.https}/ocpp/SP0-PW", auth, cluster.tls()) == "Accepted"


async def test_profile_3_accepts_a_verified_certificate_that_names_the_charger(cluster):
    name, _auth = await charger("SP3-1", 3, password=False)
    mine = await sync_to_async(cluster.client_certificate)("sp3-1", f"/CN=SP3-1/O={ORGANIZATION}")
    url = f"wss://127.0.0.1:{cluster.mtls}/ocpp/SP3-1"
    assert await boot(url, None, cluster.tls(mine)) == "Accepted"
    assert await dp_get(f"{name}.State.ConnectedSince")
    assert await dp_get(f"{name}.State.RemoteAddress") == "127.0.0.1"
    # Its serial number will do as the CN too.
    await sync_to_async(set_value)(f"{name}.DeviceInfo.chargePointSerialNumber", "SN-0042", operator=False)
    by_serial = await sync_to_async(cluster.client_certificate)("sn-42", f"/CN=SN-0042/O={ORGANIZATION}")
    assert await boot(url, None, cluster.tls(by_serial)) == "Accepted"


async def test_profile_3_refuses_every_other_certificate(cluster):
    await charger("SP3-2", 3, password=False)
    await charger("SP3-OTHER", 3, password=False)
    url = f"wss://127.0.0.1:{cluster.mtls}/ocpp/SP3-2"
    make = sync_to_async(cluster.client_certificate)
    another_charger = await make("other", f"/CN=SP3-OTHER/O={ORGANIZATION}")
    status, body = await refused(url, None, cluster.tls(another_charger))
    assert status == 403 and "names neither this ClientId" in body  # no charger can act as another
    wrong_organization = await make("wrong-o", "/CN=SP3-2/O=Someone Else")
    status, body = await refused(url, None, cluster.tls(wrong_organization))
    assert status == 403 and "OCPP_CERT_ORGANIZATION" in body
    self_signed = await make("self", f"/CN=SP3-2/O={ORGANIZATION}", ca=False)
    status, _reason = await refused(url, None, cluster.tls(self_signed))
    assert status == 400  # nginx itself ends it (ssl_verify_client optional refuses a certificate that fails)
    status, body = await refused(url, None, cluster.tls())  # no certificate at all
    assert status == 403 and "client certificate is required" in body
    # The certificate headers forged on the ordinary TLS listener: nginx clears them.
    good = await make("good", f"/CN=SP3-2/O={ORGANIZATION}")
    forged = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-Cert": good[0].read_text().replace("\n", "%0A")}
    status, body = await refused(f"wss://127.0.0.1:{cluster.https}/ocpp/SP3-2", forged, cluster.tls())
    assert status == 403 and "client certificate is required" in body
    # ... and straight to Daphne they count for nothing either.
    status, body = await refused(f"{cluster.daphne.url}/ocpp/SP3-2", forged)
    assert status == 403 and "connect over TLS" in body
    assert await boot(url, None, cluster.tls(good)) == "Accepted"


async def test_raising_the_profile_is_an_operator_write_checked_against_its_choices(cluster):
    name, _auth = await charger("SP-CHOICE", None, password=False)
    with pytest.raises(ValueError, match="one of 0, 1, 2, 3"):
        await sync_to_async(set_value)(f"{name}.Config.SecurityProfile", 4)
    await sync_to_async(set_value)(f"{name}.Config.SecurityProfile", 2)
    status, _body = await refused(f"{cluster.daphne.url}/ocpp/SP-CHOICE")
    assert status == 403


async def test_raising_a_connected_chargers_profile_closes_it_until_it_meets_it(cluster):
    name, _auth = await charger("SP-RAISE", 0, password=False)
    async with websockets.connect(f"ws://127.0.0.1:{cluster.http}/ocpp/SP-RAISE", subprotocols=["ocpp1.6"]) as ws:
        await ws.send('[2,"1","BootNotification",{"chargePointVendor":"v","chargePointModel":"m"}]')
        await asyncio.wait_for(ws.recv(), 10)
        await sync_to_async(set_value)(f"{name}.Config.SecurityProfile", 2)
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 1000  # closed by the server: it must come back over TLS
    status, reason = await refused(f"ws://127.0.0.1:{cluster.http}/ocpp/SP-RAISE")
    assert status == 403 and "connect over TLS" in reason
