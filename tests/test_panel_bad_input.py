"""Bad input to the panel and the shared domain modules, each found once as a 500 (or a hung
download) by the REST API's review and fixed in the shared module the panel, the API and the CLI
all use: times at the calendar's edge (datapoints.periods: OverflowError on SQLite), NUL text
(datapoints.access, datapoints.values, panel/edge.py: PostgreSQL refuses it), payloads nested
hundreds of levels deep (datapoints.commands.refuse_unstorable: schedules.render recursed) and
numbers outside an element's range (datapoints.elements: Config.HeartbeatInterval took -5).
Django's test client re-raises a view's exception, so a 500 fails these tests; the CSV is read
from a real Daphne. Run on SQLite and on PostgreSQL."""
import json
import urllib.request
import zoneinfo
from datetime import datetime, timezone as dt_timezone

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import Http404
from django.test import Client

from datapoints import access, audit, schedules, sites
from datapoints.charge_points import create_charge_point
from datapoints.commands import CommandRefused, check_command
from datapoints.elements import CHARGE_POINT, element
from datapoints.models import AuditEntry, IdTag, ScheduledCommand, Transaction
from datapoints.paths import get_value
from datapoints.periods import parse_moment

pytestmark = pytest.mark.django_db
EDGES = ("0001-01-01T00:00+01:00", "9999-12-31T23:59-05:00")
NUL_JSON = '{"type": "Soft", "x": "a\\u0000b"}'  # the JSON escape: no NUL in the form's text


def deep(levels):
    return '{"type": "Soft", "x": ' + "[" * levels + "]" * levels + "}"


@pytest.fixture
def world(db):
    site = sites.create_site("site-a", time_zone="Europe/Berlin")
    cp = create_charge_point("BAD-A", "Accepted")
    sites.assign(site, [cp])
    Transaction.objects.create(charge_point=cp, connector_id=1, id_tag="T1", meter_start=0, started_at="2026-11-20T10:00:00Z", start_time=datetime(2026, 11, 20, 10, tzinfo=dt_timezone.utc))
    root = User.objects.create_superuser("root", password=None)
    client = Client()
    client.force_login(root)
    return {"cp": cp, "root": root, "client": client}


# --- times at the calendar's edge -------------------------------------------------------------------
@pytest.mark.parametrize("text", [*EDGES, "0001-01-01"])
def test_parse_moment_refuses_times_whose_utc_leaves_the_calendar(text):
    with pytest.raises(ValueError, match="out of range: give a time between 0001-01-02 and 9999-12-30"):
        parse_moment(text, dt_timezone.utc if "T" in text else zoneinfo.ZoneInfo("Europe/Berlin"))
    assert parse_moment("2026-11-20", dt_timezone.utc) == datetime(2026, 11, 20, tzinfo=dt_timezone.utc)


@pytest.mark.parametrize("page", ["/sessions/", "/sessions/table", "/sessions.csv", "/audit/", "/messages/"])
def test_every_page_taking_times_says_an_edge_time_is_out_of_range(world, page):
    for edge in EDGES:
        for field in ("since", "until"):
            response = world["client"].get(page, {field: edge})
            assert response.status_code == 200, (page, field, edge)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if page == "/sessions.csv":
                assert body.decode().count("\n") == 2  # the header and the one session: the bad bound is left open
            elif page == "/sessions/table":  # the fragment the list fetches again; the list says the problem
                assert "1 session" in body.decode()
            else:
                assert "out of range" in body.decode(), (page, field, edge)


def test_forms_taking_a_time_refuse_an_edge_time(world):
    client = world["client"]
    response = client.post("/id-tags/new", {"id_tag": "EDGE", "status": "Accepted", "expiry_date": "9999-12-31T23:59-05:00"})
    assert response.status_code == 400 and "out of range" in response.context["form"].errors["expiry_date"][0]
    assert not IdTag.objects.filter(id_tag="EDGE").exists()
    form = {"name": "edge", "action": "Reset", "payload": '{"type": "Soft"}', "targets": ["BAD-A"], "when": "once", "at": "0001-01-01T00:00+01:00", "cron": "", "timeout": "30"}
    response = client.post("/schedules/new", form)
    assert "out of range" in response.context["form"].errors["at"][0]
    assert not ScheduledCommand.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_streamed_csv_with_an_edge_time_completes_on_a_real_daphne(server, world):
    cookie = f"sessionid={world['client'].cookies['sessionid'].value}"
    for edge in EDGES:
        for page in ("/sessions.csv", "/sessions/"):
            request = urllib.request.Request(f"{server.http}{page}?until={urllib.request.quote(edge)}&since={urllib.request.quote(edge)}", headers={"Cookie": cookie})
            with urllib.request.urlopen(request, timeout=20) as response:  # the CSV hung here: a 200, then the stream broke
                body = response.read().decode()
            assert response.status == 200
            assert body.startswith("transaction_id,") and "BAD-A" in body if page == "/sessions.csv" else "out of range" in body


# --- NUL --------------------------------------------------------------------------------------------
def test_a_nul_in_a_charge_point_url_is_404(world):
    with pytest.raises(Http404):
        access.charge_point_for(world["root"], "a\x00b")
    client = world["client"]
    for url in ("/charge-points/a%00b/", "/charge-points/BAD-A/history/a%00b/Config.MaxCurrent", "/charge-points/BAD-A/history/_ChargePoint0001/Configuration.a%00b", "/fleet/row/a%00b"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("url", ["/?q=a%00b", "/sessions/?tag=a%00b", "/sessions.csv?charger=a%00b", "/alarms/?charger=a%00b", "/audit/?charger=a%00b", "/messages/?text=a%00b", "/id-tags/?q=a%00b", "/sites/?q=a%00b"])
def test_a_nul_in_a_filter_is_a_400_saying_so(world, url):
    response = world["client"].get(url)
    assert response.status_code == 400 and "NUL character" in response.content.decode()


def test_a_nul_in_a_form_is_refused_and_nothing_is_written(world):
    client, name = world["client"], world["cp"].name
    response = client.post("/charge-points/BAD-A/write", {"path": "Config.Description", "value": "bay\x003"})
    assert response.status_code == 400 and "NUL character" in response.content.decode()
    assert get_value(f"{name}.Config.Description") is None
    response = client.post("/sites/new", {"slug": "nul", "name": "a\x00b", "time_zone": "UTC"})
    assert response.status_code == 400
    response = client.post("/schedules/new", {"name": "nul", "action": "Reset", "payload": NUL_JSON, "targets": ["BAD-A"], "when": "cron", "cron": "0 3 * * *", "timeout": "30"})
    assert "NUL character" in response.context["form"].errors["payload"][0]
    assert not ScheduledCommand.objects.exists()


def test_an_element_value_or_command_with_a_nul_is_refused_by_the_domain(world):
    with pytest.raises(ValueError, match="NUL character"):
        element(CHARGE_POINT, "Config.Description").check("bay\x003")
    with pytest.raises(CommandRefused, match="NUL character"):
        check_command("Reset", {"type": "Soft\x00"})


def test_the_console_refuses_a_payload_with_a_nul_and_audits_the_refusal(world):
    response = world["client"].post("/charge-points/BAD-A/console/send", {"action": "SetChargingProfile", "connectorId": "1", "csChargingProfiles": '{"chargingProfileId": 1, "note": "a\\u0000b"}'})
    assert response.status_code == 200 and "NUL character" in response.content.decode()
    entry = AuditEntry.objects.get(action="command")
    assert not entry.ok and "NUL character" in entry.outcome and "a\\u0000b" in entry.detail["as_text"]


def test_the_audit_log_keeps_a_refusal_holding_a_nul(world):
    entry = audit.record(world["root"], "element_write", charge_point=world["cp"], target="x.a\x00b", detail={"value": "a\x00b"}, ok=False, outcome="no\x00")
    entry.refresh_from_db()
    assert (entry.target, entry.outcome) == ("x.a\\u0000b", "no\\u0000")
    assert entry.detail["unstorable"].startswith("text may not contain") and "a\\u0000b" in entry.detail["as_text"]


# --- deep nesting -----------------------------------------------------------------------------------
def test_a_payload_nested_hundreds_deep_is_refused_where_payloads_are_taken(world):
    response = world["client"].post("/schedules/new", {"name": "deep", "action": "Reset", "payload": deep(500), "targets": ["BAD-A"], "when": "cron", "cron": "0 3 * * *", "timeout": "30"})
    assert "nested deeper than 32 levels" in response.context["form"].errors["payload"][0]
    assert not ScheduledCommand.objects.exists()
    with pytest.raises(CommandRefused, match="nested deeper than 32 levels"):
        schedules.check_payload("Reset", json.loads(deep(500)))  # render would have recursed 500 deep
    response = world["client"].post("/charge-points/BAD-A/console/send", {"action": "SetChargingProfile", "connectorId": "1", "csChargingProfiles": '{"chargingProfileId": 1, "x": ' + "[" * 40 + "]" * 40 + "}"})
    assert "nested deeper than 32 levels" in response.content.decode()
    schedules.check_payload("Reset", {"type": "Soft"})  # a normal one passes


# --- numbers outside an element's range ---------------------------------------------------------------
@pytest.mark.parametrize(
    "path, bad, good, says",
    [
        ("Config.HeartbeatInterval", ["-5", "2147483648", "9", "86401", "1" * 5000], ["0", "10", "86400"], "give 10 to 86400, or 0 for the default"),
        ("Config.MaxConnectors", ["-1", "1001"], ["0", "1", "1000"], "give 1 to 1000, or 0 for the default"),
        ("Config.MaxCurrent", ["-1", "5000.5", "1e400"], ["0", "16", "5000", ""], "give 0 to 5000, or leave it empty for none"),
    ],
)
def test_writable_numbers_keep_to_their_range_in_the_panel_and_the_cli(world, path, bad, good, says):
    client, full = world["client"], f"{world['cp'].name}.{path}"
    for text in bad:
        response = client.post("/charge-points/BAD-A/write", {"path": path, "value": text}, follow=True)
        assert response.status_code == 200 and says in response.content.decode(), text[:20]
        assert get_value(full) is None
        with pytest.raises(CommandError, match=says):
            call_command("dp_set", full, text)
    for text in good:
        client.post("/charge-points/BAD-A/write", {"path": path, "value": text})
        assert get_value(full) == element(CHARGE_POINT, path).parse(text), text
    assert AuditEntry.objects.filter(action="element_write", ok=False).count() == len(bad)
