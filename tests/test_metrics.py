"""/metrics (datapoints/metrics.py, datapoints/metrics_endpoint.py) on real Daphne processes with
real chargers: what a test does shows in the counts, two processes sharing one multiprocess
directory are summed, a killed process leaves the connected-chargers gauge, and only a token or
this machine may read it."""
import asyncio
import os
import signal
import urllib.error
import urllib.request

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import RequestFactory, override_settings
from prometheus_client.parser import text_string_to_metric_families

from datapoints.commands import send_command_async

from .chargers import RawCharger, create_charge_point, eventually
from .conftest import Server, _free_port, _serving, _settle, start_celery, stop_process

pytestmark = pytest.mark.django_db(transaction=True)
ON_REDIS = bool(os.environ.get("REDIS_URL"))
BOOT = {"chargePointVendor": "go-e", "chargePointModel": "go-eCharger_V4"}
TOKEN = "metrics-token-for-tests"


class Front:
    """Where a scrape goes: a server, or nginx in front of one."""

    def __init__(self, port):
        self.http = f"http://127.0.0.1:{port}"


def scrape_text(server, headers=None):
    request = urllib.request.Request(server.http + "/metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def parse(text):
    """{(sample name, frozenset(labels)): value}, read by prometheus_client's own parser."""
    return {(s.name, frozenset(s.labels.items())): s.value for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(server, headers=None):
    status, _type, text = await asyncio.to_thread(scrape_text, server, headers)
    assert status == 200, text
    return parse(text)


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture(scope="session")
def metrics_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("prometheus-multiproc")


@pytest.fixture
def metered(servers, transactional_db, settings, metrics_dir):
    yield from _serving(
        servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=1, OCPP_NEW_CHARGE_POINT_STATUS="Accepted", PROMETHEUS_MULTIPROC_DIR=metrics_dir, OCPP_NODE_NAME="metrics-a"
    )


async def test_boot_notifications_answers_and_the_connected_gauge(metered):
    before = await scrape(metered)
    charger = await RawCharger.connect(metered, "met-boot")
    try:
        for n in range(3):
            answer = await charger.call("BootNotification", BOOT, unique_id=f"b{n}")
            assert answer[2]["status"] == "Accepted"
        during = await scrape(metered)
        assert delta(before, during, "ocpp_messages_total", action="BootNotification", direction="in", result="answered") == 3
        assert delta(before, during, "ocpp_call_handling_seconds_count", action="BootNotification") == 3
        # Every answer took well under 10 s: all three are in the 10 s bucket, and the sum is positive.
        assert delta(before, during, "ocpp_call_handling_seconds_bucket", action="BootNotification", le="10.0") == 3
        assert delta(before, during, "ocpp_call_handling_seconds_sum", action="BootNotification") > 0
        assert delta(before, during, "ocpp_connected_chargers", node="metrics-a") == 1
        # The group commit ran at least once per message, for at least one unit each time.
        assert delta(before, during, "ocpp_recorder_flush_units_count", runner="Recorder") >= 3
        assert delta(before, during, "ocpp_recorder_flush_units_sum", runner="Recorder") >= 3
        assert delta(before, during, "ocpp_recorder_flush_seconds_count", runner="Recorder") >= 3
    finally:
        await charger.close()

    async def left_the_gauge():
        return value(await scrape(metered), "ocpp_connected_chargers", node="metrics-a") == value(before, "ocpp_connected_chargers", node="metrics-a")

    await eventually(left_the_gauge)


@pytest.fixture
def metered_closed(servers, transactional_db, settings, metrics_dir):
    """Auto-create off: unknown chargers are refused with 404."""
    yield from _serving(servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=0, PROMETHEUS_MULTIPROC_DIR=metrics_dir, OCPP_NODE_NAME="metrics-closed")


async def test_handshakes_by_outcome(metered_closed):
    await create_charge_point("met-known", "Accepted")
    before = await scrape(metered_closed)
    for _ in range(2):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await RawCharger.connect(metered_closed, "met-stranger")
        assert refused.value.response.status_code == 404
    with pytest.raises(websockets.InvalidStatus) as refused:
        await RawCharger.connect(metered_closed, "met-known", subprotocols=("ocpp2.0.1",))
    assert refused.value.response.status_code == 400
    charger = await RawCharger.connect(metered_closed, "met-known")
    await charger.close()
    after = await scrape(metered_closed)
    assert delta(before, after, "ocpp_handshakes_total", outcome="unknown_404") == 2
    assert delta(before, after, "ocpp_handshakes_total", outcome="bad_subprotocol_400") == 1
    assert delta(before, after, "ocpp_handshakes_total", outcome="accepted") == 1


async def test_callerrors_are_counted_with_their_code(metered):
    charger = await RawCharger.connect(metered, "met-errors")
    try:
        await charger.call("BootNotification", BOOT)
        before = await scrape(metered)
        answer = await charger.call("MadeUpAction", {}, unique_id="x1")
        assert answer[:3] == [4, "x1", "NotImplemented"]
        answer = await charger.call("Heartbeat", {"unexpected": 1}, unique_id="x2")
        assert answer[0] == 4
        code = answer[2]
        await charger.send("[2, 17")  # not JSON, no usable id: no answer, counted
        await charger.no_answer()
        after = await scrape(metered)
    finally:
        await charger.close()
    # A made-up action is counted as "other": a charger cannot create label values.
    assert delta(before, after, "ocpp_messages_total", action="other", direction="in", result="callerror") == 1
    assert delta(before, after, "ocpp_callerrors_total", code="NotImplemented", direction="out") == 1
    assert delta(before, after, "ocpp_messages_total", action="Heartbeat", direction="in", result="callerror") == 1
    assert delta(before, after, "ocpp_callerrors_total", code=code, direction="out") == 1
    assert delta(before, after, "ocpp_unanswerable_frames_total") == 1
    assert not any(("MadeUpAction" in dict(labels).values()) for _name, labels in after)


async def test_commands_and_their_outcomes(metered):
    await create_charge_point("met-cmd", "Accepted")
    charger = await RawCharger.connect(metered, "met-cmd")
    try:
        await charger.call("BootNotification", BOOT)
        before = await scrape(metered)
        for answer_with_error in (False, True):
            sending = asyncio.create_task(send_command_async("met-cmd", "Reset", {"type": "Soft"}, timeout=5))
            call = await charger.recv()
            assert call[2] == "Reset"
            await charger.send([4, call[1], "NotSupported", "no reset here", {}] if answer_with_error else [3, call[1], {"status": "Accepted"}])
            outcome = await sending
            assert outcome.status == ("error" if answer_with_error else "answered")
        after = await scrape(metered)
    finally:
        await charger.close()
    assert delta(before, after, "ocpp_commands_total", action="Reset", outcome="answered") == 1
    assert delta(before, after, "ocpp_commands_total", action="Reset", outcome="error") == 1
    assert delta(before, after, "ocpp_messages_total", action="Reset", direction="out", result="answered") == 1
    assert delta(before, after, "ocpp_messages_total", action="Reset", direction="out", result="callerror") == 1
    assert delta(before, after, "ocpp_callerrors_total", code="NotSupported", direction="in") == 1


async def test_transaction_replays_and_active_transactions(metered):
    charger = await RawCharger.connect(metered, "met-tx")
    start = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": "2026-11-21T10:00:00Z"}
    try:
        await charger.call("BootNotification", BOOT)
        before = await scrape(metered)
        first = await charger.call("StartTransaction", start, unique_id="s1")
        again = await charger.call("StartTransaction", start, unique_id="s2")
        assert first[2]["transactionId"] == again[2]["transactionId"]
        running = await scrape(metered)
        stop = {"transactionId": first[2]["transactionId"], "meterStop": 2000, "timestamp": "2026-11-21T11:00:00Z"}
        await charger.call("StopTransaction", stop, unique_id="t1")
        await charger.call("StopTransaction", stop, unique_id="t2")
        after = await scrape(metered)
    finally:
        await charger.close()
    assert delta(before, after, "ocpp_transaction_replays_total", action="StartTransaction") == 1
    assert delta(before, after, "ocpp_transaction_replays_total", action="StopTransaction") == 1
    # From the database at scrape time (a charger in no site: site="").
    assert (value(before, "ocpp_active_transactions", site=""), value(running, "ocpp_active_transactions", site=""), value(after, "ocpp_active_transactions", site="")) == (0, 1, 0)


@pytest.fixture
def metered_with_hooks(servers, transactional_db, settings, metrics_dir, tmp_path):
    env = {
        "OCPP_HOOK_MODULES": "tests.hooks_for_tests", "OCPP_HOOK_TIMEOUT": 2.0, "OCPP_AUTO_CREATE_CHARGE_POINTS": 1,
        "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "OCPP_NODE_NAME": "metrics-hooks",
    }
    srv = servers(**env)
    settings.OCPP_LOCAL_API_URL = srv.http
    worker = start_celery(tmp_path, "worker", "--concurrency", "1", "--without-gossip", "--without-mingle", ready="ready.", env={k: str(v) for k, v in env.items()}) if ON_REDIS else None
    yield srv
    if worker:
        stop_process(worker)
    _settle()


async def test_hook_fallbacks_by_reason(metered_with_hooks):
    charger = await RawCharger.connect(metered_with_hooks, "met-hook")
    try:
        await charger.call("BootNotification", BOOT)

        async def hook_answers():  # the registry reaches the server within its refresh interval
            answer = await charger.call("Authorize", {"idTag": "BLOCK-1"})
            return answer[2]["idTagInfo"].get("parentIdTag") == "HOOK"

        await eventually(hook_answers, timeout=15, interval=0.5)
        before = await scrape(metered_with_hooks)
        for tag in ("RAISE", "BAD", "HANG"):
            assert (await charger.call("Authorize", {"idTag": tag}, unique_id=tag))[2] == {"idTagInfo": {"status": "Accepted"}}
        after = await scrape(metered_with_hooks)
    finally:
        await charger.close()
    assert delta(before, after, "ocpp_hook_fallbacks_total", action="Authorize", reason="failed") == 2
    assert delta(before, after, "ocpp_hook_fallbacks_total", action="Authorize", reason="timeout") == 1


@pytest.fixture
def two_nodes(transactional_db, settings, tmp_path):
    """Two Daphne processes of one machine: one multiprocess directory of their own."""
    shared = tmp_path / "multiproc"
    env = {"OCPP_AUTO_CREATE_CHARGE_POINTS": "1", "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    nodes = [Server({**env, "OCPP_NODE_NAME": name}, tmp_path / f"{name}.log") for name in ("node-a", "node-b")]
    settings.OCPP_LOCAL_API_URL = nodes[0].http
    try:
        yield nodes
        from datapoints.models import Element

        Element.objects.filter(path="State.Connected").update(value=False)  # node-b was killed holding its charger
        _settle()
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.stop()


async def test_two_processes_are_summed_and_a_killed_one_leaves_the_gauge(two_nodes):
    a, b = two_nodes
    on_a = await RawCharger.connect(a, "met-on-a")
    on_b = await RawCharger.connect(b, "met-on-b")
    try:
        for n in range(2):
            await on_a.call("BootNotification", BOOT, unique_id=f"a{n}")
        await on_b.call("BootNotification", BOOT, unique_id="b0")
        from_a, from_b = await scrape(a), await scrape(b)
        for samples in (from_a, from_b):  # either node shows the machine: both processes summed
            assert value(samples, "ocpp_messages_total", action="BootNotification", direction="in", result="answered") == 3
            assert value(samples, "ocpp_call_handling_seconds_count", action="BootNotification") == 3
            assert value(samples, "ocpp_connected_chargers", node="node-a") == 1
            assert value(samples, "ocpp_connected_chargers", node="node-b") == 1
        b.process.send_signal(signal.SIGKILL)  # no atexit, no disconnect: its files stay behind
        b.process.wait(10)
        after = await scrape(a)
    finally:
        await on_a.close()
        await on_b.ws.close()
    # The dead process's live gauge is gone; its counts stay, so the machine's counters never drop.
    assert ("ocpp_connected_chargers", frozenset({("node", "node-b")})) not in after
    assert value(after, "ocpp_connected_chargers", node="node-a") == 1
    assert value(after, "ocpp_messages_total", action="BootNotification", direction="in", result="answered") == 3


# --- who may read it ---------------------------------------------------------------------------------
@pytest.fixture
def token_server(servers, transactional_db, settings, metrics_dir):
    yield from _serving(servers, settings, PROMETHEUS_MULTIPROC_DIR=metrics_dir, OCPP_METRICS_TOKEN=TOKEN, OCPP_NODE_NAME="metrics-token")


def test_with_a_token_only_its_bearer_reads_the_metrics(token_server):
    status, content_type, text = scrape_text(token_server)
    assert (status, content_type) == (403, "text/plain; charset=utf-8") and "Authorization: Bearer <OCPP_METRICS_TOKEN>" in text
    assert scrape_text(token_server, {"Authorization": "Bearer wrong"})[0] == 403
    assert scrape_text(token_server, {"Authorization": f"Basic {TOKEN}"})[0] == 403
    status, content_type, text = scrape_text(token_server, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and content_type.startswith("text/plain; version=") and "# TYPE ocpp_active_transactions gauge" in text
    # Through a proxy too, with the token.
    assert scrape_text(token_server, {"Authorization": f"Bearer {TOKEN}", "X-Real-IP": "203.0.113.9"})[0] == 200


def test_without_a_token_only_this_machine_reads_the_metrics(metered):
    status, _type, text = scrape_text(metered)
    assert status == 200 and "# TYPE ocpp_unanswerable_frames_total counter" in text
    # What nginx forwards (X-Real-IP from its edge): a user elsewhere, even though the peer is local.
    status, content_type, text = scrape_text(metered, {"X-Real-IP": "203.0.113.9"})
    assert (status, content_type) == (403, "text/plain; charset=utf-8") and "came through a proxy" in text
    assert "login" not in text.lower()


@override_settings(OCPP_METRICS_TOKEN="")
def test_a_peer_that_is_not_loopback_is_refused():
    from datapoints.metrics_endpoint import metrics_view

    factory = RequestFactory()
    answer = metrics_view(factory.get("/metrics", REMOTE_ADDR="192.0.2.2"))
    assert answer.status_code == 403 and b"came from 192.0.2.2" in answer.content
    assert metrics_view(factory.get("/metrics", REMOTE_ADDR="::1")).status_code == 200
    assert metrics_view(factory.get("/metrics", REMOTE_ADDR="127.0.0.1")).status_code == 200


# --- nginx (templates/deploy/nginx.conf): /metrics goes through only when a token guards it -------
async def test_nginx_does_not_pass_metrics_without_a_token(metered, tmp_path):
    from .test_nginx import Nginx, nginx_config

    port = _free_port()
    site = await sync_to_async(nginx_config)("--listen", str(port), "--node", f"127.0.0.1:{metered.port}")
    nginx = Nginx(tmp_path, site)
    assert nginx.check().returncode == 0
    with nginx:
        nginx.wait_for(port)
        status, _type, text = await asyncio.to_thread(scrape_text, Front(port))
    assert status == 403 and "not served through nginx while OCPP_METRICS_TOKEN is unset" in text
    assert scrape_text(metered)[0] == 200  # the node itself still answers this machine


async def test_nginx_passes_metrics_to_the_token_holder(token_server, tmp_path, settings):
    from .test_nginx import Nginx, nginx_config

    settings.OCPP_METRICS_TOKEN = TOKEN  # what `nginx_config` sees when run with the nodes' environment
    port = _free_port()
    site = await sync_to_async(nginx_config)("--listen", str(port), "--node", f"127.0.0.1:{token_server.port}")
    assert "location = /metrics" not in site
    nginx = Nginx(tmp_path, site)
    assert nginx.check().returncode == 0
    with nginx:
        nginx.wait_for(port)
        refused = await asyncio.to_thread(scrape_text, Front(port))
        status, _type, text = await asyncio.to_thread(scrape_text, Front(port), {"Authorization": f"Bearer {TOKEN}"})
    assert refused[0] == 403 and "Authorization: Bearer <OCPP_METRICS_TOKEN>" in refused[2]  # the node's answer
    assert status == 200 and "# TYPE ocpp_active_transactions gauge" in text
