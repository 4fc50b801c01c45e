"""REST API bad input over real HTTP: each found once as a 500 (or a hung download) against a
real Daphne, now a 4xx in JSON naming what is wrong. Run on SQLite and on PostgreSQL: NUL text
was a 500 only on PostgreSQL, times at the calendar's edge only on SQLite."""
import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from datapoints.models import AuditEntry, ScheduledCommand, Transaction

from .api_client import Api, people

pytestmark = pytest.mark.django_db(transaction=True)


def new_log(server, since):
    return server.logs()[since:]

EDGES = ["0001-01-01T00:00%2B01:00", "9999-12-31T23:59-05:00", "0001-01-01"]


def test_times_at_the_calendar_edge_are_400_not_500(server):
    p = people(server, "bad-t-a", "bad-t-b")
    log_start = len(server.logs())
    viewer = p["viewer"]
    for edge in EDGES:
        for path in (f"/api/transactions/?since={edge}", f"/api/transactions/?until={edge}", f"/api/charge-points/bad-t-a/history/?path=Config.MaxCurrent&since={edge}"):
            status, body = viewer.get(path)
            assert status == 400 and "out of range" in json.dumps(body) and "0001-01-02" in json.dumps(body), (path, status, body)
        status, text, headers = viewer.call("GET", f"/api/transactions/csv/?until={edge}", raw=True)  # answered, not streamed into a hang
        assert status == 400 and headers["Content-Type"] == "application/json" and "out of range" in text
    status, body = viewer.get("/api/transactions/?since=last+tuesday")
    assert status == 400 and "is not a time" in body["since"][0]
    assert viewer.get("/api/transactions/?since=&until=")[0] == 200  # blank: no bound, as the panel's form sends it
    assert "Traceback" not in new_log(server, log_start) and "could not publish" not in new_log(server, log_start)


def test_the_csv_streams_every_row_after_the_first_ones_it_runs_early(server):
    """The view takes the header and first row before answering (a query error is then an error
    response, not a 200 that never ends); the rest still streams."""
    p = people(server, "bad-c-a", "bad-c-b")
    now = timezone.now()
    Transaction.objects.bulk_create(Transaction(charge_point=p["a"], connector_id=1, id_tag=f"T{n}", meter_start=0, started_at="x", start_time=now - timedelta(minutes=n)) for n in range(5))
    status, text, _ = p["viewer"].call("GET", "/api/transactions/csv/?sort=start", raw=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert status == 200 and rows[0][0] == "transaction_id" and [r[5] for r in rows[1:]] == ["T4", "T3", "T2", "T1", "T0"]
    as_csv = Api(server, p["viewer"].token, headers={"Accept": "text/csv"})  # was a 406: DRF knew only JSON
    status, text, headers = as_csv.call("GET", "/api/transactions/csv/", raw=True)
    assert status == 200 and headers["Content-Type"].startswith("text/csv") and len(text.splitlines()) == 6
    status, text, headers = as_csv.call("GET", "/api/transactions/csv/?since=never", raw=True)
    assert status == 400 and headers["Content-Type"] == "application/json" and "is not a time" in text


def test_nul_text_numbers_beyond_64_bits_and_deep_nesting_are_400_on_every_database(server):
    """NUL: PostgreSQL's jsonb refuses it (a 500). Integers beyond 64 bits: msgpack, on which the
    channel layer carries commands and change events, refuses them (the event was lost, logged).
    500 levels of nesting: a schedule's payload is rendered recursively (a RecursionError)."""
    p = people(server, "bad-n-a", "bad-n-b")
    log_start = len(server.logs())
    op, nul = p["op"], "a\u0000b"
    status, body = op.post("/api/commands/", {"charge_point": "bad-n-a", "action": "DataTransfer", "payload": {"vendorId": "v", nul: 1}})
    assert status == 400 and "NUL" in body["payload"][0]
    status, body = op.post("/api/commands/", {"charge_point": "bad-n-a", "action": "DataTransfer", "payload": {"vendorId": nul}})
    assert status == 400 and "NUL" in body["payload"][0]
    status, body = op.post("/api/schedules/", {"name": "n", "action": "DataTransfer", "payload": {"vendorId": [nul]}, "charge_points": ["bad-n-a"], "cron": "0 3 * * *"})
    assert status == 400 and "NUL" in body["payload"][0] and not ScheduledCommand.objects.exists()
    status, body = op.put("/api/charge-points/bad-n-a/elements/Config.Description/", {"value": nul})
    assert status == 400 and "NUL" in body["value"][0]
    status, body = op.put("/api/charge-points/bad-n-a/elements/Config.HeartbeatInterval/", {"value": 2**70})
    assert status == 400 and "out of range; give 10 to 86400" in body["value"][0]  # the element's range (datapoints.elements)
    status, body = op.put("/api/charge-points/bad-n-a/elements/Config.HeartbeatInterval/", {"value": str(2**70)})  # parsed to that int
    assert status == 400 and "out of range; give 10 to 86400" in body["value"][0]
    status, body = op.post("/api/commands/", {"charge_point": "bad-n-a", "action": "ChangeAvailability", "payload": {"connectorId": 2**64, "type": "Operative"}})
    assert status == 400 and "beyond 64 bits" in body["payload"][0]
    assert op.put("/api/charge-points/bad-n-a/elements/Config.HeartbeatInterval/", {"value": 86400})[0] == 200
    deep = json.loads("[" * 500 + "]" * 500)  # parses, but a schedule's run walks it recursively: was a 500
    status, body = op.post("/api/schedules/", {"name": "deep", "action": "DataTransfer", "payload": {"vendorId": "v", "data": deep}, "charge_points": ["bad-n-a"], "cron": "0 3 * * *"})
    assert status == 400 and body["payload"] == ["nested deeper than 32 levels"]
    assert op.post("/api/commands/", {"charge_point": "bad-n-a", "action": "DataTransfer", "payload": {"vendorId": "v", "data": deep}})[1] == {"payload": ["nested deeper than 32 levels"]}
    assert op.get("/api/charge-points/a%00b/") == (404, {"detail": "no such charge point"})
    assert op.post("/api/commands/", {"charge_point": nul, "action": "Reset", "payload": {"type": "Soft"}})[0] == 400
    assert not AuditEntry.objects.filter(action="command").exists()
    assert "Traceback" not in new_log(server, log_start) and "could not publish" not in new_log(server, log_start)


def test_bodies_too_deep_or_too_big_pages_and_unknown_urls(server):
    p = people(server, "bad-b-a", "bad-b-b")
    log_start = len(server.logs())
    op = p["op"]
    status, body, _ = op.call("POST", "/api/charge-points/", b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and body == {"detail": "JSON parse error - nested too deeply"}
    status, body, _ = op.call("POST", "/api/charge-points/", b" " * 3_000_000)
    assert status == 413 and "too big" in body["detail"]
    status, body, _ = op.call("POST", "/api/charge-points/", b"\xff\xfe")
    assert status == 400 and "JSON parse error" in body["detail"]
    for bad in ("abc", "0", "-1", "1e3", "99999999999999999999"):
        assert op.get(f"/api/charge-points/?page={bad}") == (400, {"page": [f"{bad!r} is not a positive whole number (1, 2, …)"]})
        assert op.get(f"/api/transactions/?page_size={bad}")[1] == {"page_size": [f"{bad!r} is not a positive whole number (1, 2, …)"]}
    assert op.get("/api/charge-points/?page=last")[1]["results"][0]["client_id"] == "bad-b-a"
    assert op.get("/api/charge-points/?page_size=5000")[0] == 200  # capped at 1000, as documented
    assert op.get("/api/charge-points/?page=7")[0] == 404  # past the last page
    status, body, headers = op.call("GET", "/api/commands/not-a-uuid/")
    assert status == 404 and headers["Content-Type"] == "application/json" and "/api/docs/" in body["detail"]
    assert op.get("/api/nothing-here")[0] == 404
    assert op.post("/api/charge-points/bad-b-a/commands/Reset", {"type": "Soft"})[0] == 503  # the older endpoint still routed
    assert "Traceback" not in new_log(server, log_start) and "could not publish" not in new_log(server, log_start)


WRONG = [None, True, -1, 2**70, 1.5, 1e308, "", "x" * 5000, "a\u0000", "é", [], [1, "a"], {}, {"a": {"b": [None]}}, "0001-01-01T00:00:00+05:00"]


def test_every_field_of_every_write_given_wrong_values_is_never_a_500(server):
    """Each field of each write, one wrong value at a time (types, huge numbers, NUL, nesting):
    a 2xx or a 4xx, never a 5xx (a command to the offline charger may be 503 with wait)."""
    p = people(server, "bad-w-a", "bad-w-b")
    log_start = len(server.logs())
    writes = {
        ("POST", "/api/charge-points/"): {"client_id": "bad-w-new", "registration_status": "Pending", "site": "site-a"},
        ("PUT", "/api/charge-points/bad-w-a/site/"): {"site": "site-a"},
        ("POST", "/api/charge-points/bad-w-a/password/"): {"timeout": 1},
        ("PUT", "/api/charge-points/bad-w-a/elements/Config.Description/"): {"value": "x"},
        ("PUT", "/api/charge-points/bad-w-a/elements/Config.HeartbeatInterval/"): {"value": 60},
        ("POST", "/api/commands/"): {"charge_point": "bad-w-a", "action": "Reset", "payload": {"type": "Soft"}, "timeout": 1, "wait": False},
        ("POST", "/api/id-tags/"): {"id_tag": "BAD-W", "status": "Accepted", "expiry_date": None, "parent_id_tag": "", "max_concurrent_tx": None, "in_local_list": False, "note": ""},
        ("POST", "/api/schedules/"): {"name": "bad-w", "action": "Reset", "payload": {"type": "Soft"}, "charge_points": ["bad-w-a"], "all_accepted": False, "at": None, "cron": "0 3 * * *", "timeout": 30},
    }
    answered = set()
    for (method, path), good in writes.items():
        cases = [(field, value) for field in good for value in WRONG] + [("payload.type", value) for value in WRONG if "payload" in good]
        for field, value in cases:
            body = {**good, "payload": {"type": value}} if field == "payload.type" else {**good, field: value}
            status, text, _ = p["root"].call(method, path, body, raw=True)
            assert status < 500 or (path == "/api/commands/" and status == 503), (method, path, field, value, status, text[:300])
            answered.add(status)
    assert {200, 400} <= answered
    assert "Traceback" not in new_log(server, log_start) and "could not publish" not in new_log(server, log_start)
