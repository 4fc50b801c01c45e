"""The panel's schedules at /schedules/ and the admin's ScheduledCommand, with Django's test client:
creating makes the PeriodicTask (crontab or clocked time), pause/resume flip PeriodicTask.enabled,
delete removes the task too, clear errors that create nothing, rights across sites (never a hidden
charger's name), runs with each charger's outcome, every change in the audit log."""
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask

from datapoints import schedules, sites
from datapoints.charge_points import create_charge_point
from datapoints.elements import CSMS_ACTIONS
from datapoints.models import AuditEntry, ScheduledCommand, ScheduledOutcome, ScheduledRun

pytestmark = pytest.mark.django_db
RESET = '{"type": "Soft"}'


@pytest.fixture
def fleet(db):
    """Site A with CP-A, site B with CP-B (both Accepted); root, op-a (operator of A), viewer-a."""
    a, b = sites.create_site("site-a"), sites.create_site("site-b")
    people = {"root": User.objects.create_superuser("root", password=None)}  # no passwords: force_login, no hashing
    cps = {}
    for client_id, site in (("CP-A", a), ("CP-B", b)):
        cps[client_id] = create_charge_point(client_id, "Accepted")
        sites.assign(site, [cps[client_id]])
    for username, role in (("op-a", "operator"), ("viewer-a", "viewer")):
        people[username] = User.objects.create_user(username)
        sites.set_role(people[username], a, role)
    return {**cps, **people}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def form(**fields):
    """A valid new-schedule form (Reset Soft on CP-A, daily at 03:00), with `fields` changed."""
    data = {"name": "night reset", "action": "Reset", "payload": RESET, "targets": ["CP-A"], "when": "cron", "cron": "0 3 * * *", "at": "", "timeout": "30"}
    data.update(fields)
    return data


def local_input(moment):
    """A time as the browser's datetime-local input sends it, in TIME_ZONE."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def text(response):
    return response.content.decode()


def audit_actions():
    return list(AuditEntry.objects.order_by("id").values_list("username", "action", "target", "ok"))


# --- create -----------------------------------------------------------------------------------------
def test_creating_a_cron_schedule_makes_its_periodic_task(fleet):
    client = client_for(fleet["op-a"])
    new = client.get("/schedules/new")
    assert new.status_code == 200
    page = text(new)
    assert '<label for="command">Command</label>' in page
    assert re.findall(r'<select id="command".*?</select>', page, re.S)[0].count("<option") == len(CSMS_ACTIONS) == 26
    assert "&quot;type&quot;: &quot;Soft&quot;" in page  # Reset's example prefills the payload
    response = client.post("/schedules/new", form(cron="0  16 * * 1-5", timeout="12"))
    command = ScheduledCommand.objects.get(name="night reset")
    assert response.status_code == 302 and response["Location"] == f"/schedules/{command.pk}/"
    assert (command.action, command.payload, command.timeout, command.all_accepted) == ("Reset", {"type": "Soft"}, 12, False)
    assert [dp.client_id for dp in command.charge_points.all()] == ["CP-A"]
    task = PeriodicTask.objects.get(pk=command.periodic_task_id)
    assert task.task == "datapoints.tasks.run_scheduled_command" and json.loads(task.kwargs) == {"scheduled_command_id": command.pk}
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == ("0", "16", "*", "*", "1-5")
    assert task.enabled and not task.one_off and task.clocked is None
    listing = text(client.get("/schedules/"))
    assert "night reset" in listing and "cron <code>0 16 * * 1-5</code>" in listing and ">active<" in listing and ">never<" in listing
    entry = AuditEntry.objects.get(action="schedule_create")
    assert (entry.username, entry.target, entry.ok, entry.site.slug) == ("op-a", "night reset", True, "site-a")
    assert entry.detail["targets"] == "CP-A" and entry.detail["when"] == "cron 0 16 * * 1-5 (UTC)"


def test_a_one_time_schedule_gets_a_clocked_time_read_in_time_zone(fleet, settings):
    settings.TIME_ZONE = "Europe/Vienna"
    at = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    client = client_for(fleet["root"])
    response = client.post("/schedules/new", form(name="once", when="once", at=local_input(at), cron="not used"))
    assert response.status_code == 302
    task = ScheduledCommand.objects.get(name="once").periodic_task
    assert task.one_off and task.crontab is None and task.clocked.clocked_time == at
    shown = timezone.localtime(at, timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M")
    assert f"once, {shown} (Europe/Vienna)" in text(client.get(response["Location"]))


def test_every_accepted_charge_point_is_for_superusers(fleet):
    response = client_for(fleet["root"]).post("/schedules/new", form(name="all", targets=[], all_accepted="on"))
    assert response.status_code == 302
    command = ScheduledCommand.objects.get(name="all")
    assert command.all_accepted and {dp.client_id for dp in command.targets()} == {"CP-A", "CP-B"}
    op = client_for(fleet["op-a"])
    assert "every accepted charge point (at the time" not in text(op.get("/schedules/new"))  # not offered
    refused = op.post("/schedules/new", form(name="all too", targets=[], all_accepted="on"))
    assert refused.status_code == 403 and "Only a superuser may schedule a command on every accepted charge point" in text(refused)
    assert not ScheduledCommand.objects.filter(name="all too").exists()
    assert ("op-a", "schedule_create", "all too", False) in audit_actions()


@pytest.mark.parametrize(
    "fields, field_error",
    [
        ({"cron": "0 16 * *"}, "a cron has 5 fields, &#x27;minute hour day-of-month month day-of-week&#x27;"),
        ({"cron": "99 16 * * *"}, "bad cron &#x27;99 16 * * *&#x27;: Invalid end range: 99 &gt; 59. (a cron has 5 fields"),
        ({"cron": ""}, "write a cron: a cron has 5 fields"),
        ({"payload": '{"type": "Soft"'}, "not JSON: Expecting &#x27;,&#x27; delimiter"),
        ({"payload": "[1, 2]"}, "the payload must be a JSON object {…}, not list"),
        ({"payload": '{"type": "Now"}'}, "payload refused by the OCPP 1.6 schema"),
        ({"action": "Reboot"}, "Select a valid choice. Reboot is not one of the available choices."),
        ({"targets": []}, "tick at least one charge point"),
        ({"when": "once", "at": ""}, "choose the date and time of the one run"),
        ({"when": "once", "at": "2020-01-01T00:00"}, "2020-01-01 00:00 (UTC) has passed; choose a later time"),
        ({"name": ""}, "This field is required."),
        ({"timeout": "0"}, "Ensure this value is greater than or equal to 1."),
    ],
)
def test_bad_input_gets_a_clear_error_and_creates_nothing(fleet, fields, field_error):
    client = client_for(fleet["op-a"])
    response = client.post("/schedules/new", form(**fields))
    page = text(response)
    assert response.status_code == 400 and "Not scheduled: fix what is marked below." in page
    assert field_error in page, page[page.find("errorlist") - 300 : page.find("errorlist") + 400]
    assert ScheduledCommand.objects.count() == 0 and PeriodicTask.objects.filter(name__startswith="ocpp:").count() == 0
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.ok, entry.username) == ("schedule_create", False, "op-a") and entry.outcome


def test_a_name_taken_is_refused(fleet):
    client = client_for(fleet["root"])
    assert client.post("/schedules/new", form()).status_code == 302
    again = client.post("/schedules/new", form(cron="0 4 * * *"))
    assert again.status_code == 400 and "a schedule named &#x27;night reset&#x27; exists; choose another name" in text(again)
    assert ScheduledCommand.objects.get().periodic_task.crontab.hour == "3"


def test_the_example_payload_follows_the_command(fleet):
    client = client_for(fleet["op-a"])
    part = text(client.get("/schedules/example?action=GetConfiguration"))
    assert "HeartbeatInterval" in part and "Read configuration keys" in part and 'name="payload"' in part
    assert client.get("/schedules/example?action=Reboot").status_code == 404


# --- pause, resume, delete ---------------------------------------------------------------------------
def test_pause_and_resume_flip_the_periodic_task(fleet):
    client = client_for(fleet["op-a"])
    client.post("/schedules/new", form())
    command = ScheduledCommand.objects.get()
    paused = client.post(f"/schedules/{command.pk}/pause", {"back": "list"})
    assert paused.status_code == 302 and paused["Location"] == "/schedules/"
    assert PeriodicTask.objects.get(pk=command.periodic_task_id).enabled is False
    listing = text(client.get("/schedules/"))
    assert "paused: it does not run until resumed" in listing and 'class="st-paused">paused<' in listing and ">Resume</button>" in listing
    again = client.post(f"/schedules/{command.pk}/pause", follow=True)
    assert "&#x27;night reset&#x27; is paused already." in text(again)
    resumed = client.post(f"/schedules/{command.pk}/resume")
    assert resumed["Location"] == f"/schedules/{command.pk}/"
    assert PeriodicTask.objects.get(pk=command.periodic_task_id).enabled is True
    actions = [(a, ok) for _u, a, _t, ok in audit_actions()]
    assert actions == [("schedule_create", True), ("schedule_pause", True), ("schedule_pause", False), ("schedule_resume", True)]


def test_a_one_time_schedule_past_its_time_is_not_resumed(fleet):
    client = client_for(fleet["root"])
    client.post("/schedules/new", form(when="once", at=local_input(timezone.now() + timedelta(hours=2))))
    command = ScheduledCommand.objects.get()
    client.post(f"/schedules/{command.pk}/pause")
    ClockedSchedule.objects.filter(pk=command.periodic_task.clocked_id).update(clocked_time=timezone.now() - timedelta(minutes=5))
    assert "not run (paused at its time)" in text(client.get("/schedules/"))
    response = client.post(f"/schedules/{command.pk}/resume", follow=True)
    assert "has passed; make a new schedule" in text(response)
    assert PeriodicTask.objects.get(pk=command.periodic_task_id).enabled is False


def test_delete_asks_first_then_removes_the_task_and_its_clocked_time(fleet):
    client = client_for(fleet["root"])
    client.post("/schedules/new", form(when="once", at=local_input(timezone.now() + timedelta(days=1))))
    command = ScheduledCommand.objects.get()
    task_id, clocked_id = command.periodic_task_id, command.periodic_task.clocked_id
    ScheduledRun.objects.create(command=command, started_at=timezone.now(), targets=1)
    confirm = client.get(f"/schedules/{command.pk}/delete")
    assert confirm.status_code == 200 and "Delete the schedule night reset?" in text(confirm) and "its 1 run with" in text(confirm)
    assert ScheduledCommand.objects.exists()  # asking deleted nothing
    response = client.post(f"/schedules/{command.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/schedules/"
    assert not ScheduledCommand.objects.exists() and not ScheduledRun.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists() and not ClockedSchedule.objects.filter(pk=clocked_id).exists()
    entry = AuditEntry.objects.get(action="schedule_delete")
    assert entry.ok and entry.target == "night reset" and entry.detail["runs"] == 1
    assert client.get(f"/schedules/{command.pk}/").status_code == 404


def test_pause_resume_delete_need_a_post_and_a_login(fleet):
    client = client_for(fleet["root"])
    client.post("/schedules/new", form())
    pk = ScheduledCommand.objects.get().pk
    assert client.get(f"/schedules/{pk}/pause").status_code == 405
    for url in ("/schedules/", "/schedules/new", f"/schedules/{pk}/", f"/schedules/{pk}/delete"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    Client().post(f"/schedules/{pk}/delete")
    assert ScheduledCommand.objects.filter(pk=pk).exists()


# --- rights ------------------------------------------------------------------------------------------
def test_an_operator_of_site_a_cannot_target_site_b(fleet):
    client = client_for(fleet["op-a"])
    page = text(client.get("/schedules/new"))
    assert 'value="CP-A"' in page and "CP-B" not in page and fleet["CP-B"].name not in page
    response = client.post("/schedules/new", form(targets=["CP-A", "CP-B"]))
    assert response.status_code == 404 and "No such charge point: CP-B. Nothing was scheduled." in text(response)
    assert not ScheduledCommand.objects.exists() and not PeriodicTask.objects.filter(name__startswith="ocpp:").exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.ok, entry.site) == ("schedule_create", False, None)


def test_a_viewer_of_a_site_may_not_target_it(fleet):
    client = client_for(fleet["viewer-a"])
    assert client.get("/schedules/new").status_code == 403
    response = client.post("/schedules/new", form())
    assert response.status_code == 403 and "needs the operator role" in text(response)
    assert not ScheduledCommand.objects.exists()
    # an operator elsewhere who only views site A: the refusal names what to ask for
    sites.set_role(fleet["viewer-a"], sites.create_site("site-c"), "operator")
    refused = client.post("/schedules/new", form())
    assert refused.status_code == 403 and "you may not send commands to CP-A: ask for the operator role on its site" in text(refused)
    assert not ScheduledCommand.objects.exists()


def test_a_viewer_sees_schedules_but_no_buttons(fleet):
    client_for(fleet["root"]).post("/schedules/new", form())
    command = ScheduledCommand.objects.get()
    viewer = client_for(fleet["viewer-a"])
    listing = text(viewer.get("/schedules/"))
    assert "night reset" in listing and "CP-A" in listing
    assert "New schedule" not in listing and ">Pause</button>" not in listing and ">Delete</a>" not in listing
    assert viewer.post(f"/schedules/{command.pk}/pause").status_code == 403
    assert viewer.get(f"/schedules/{command.pk}/delete").status_code == 403
    assert viewer.post(f"/schedules/{command.pk}/delete").status_code == 403
    assert ScheduledCommand.objects.exists() and command.periodic_task.enabled
    assert [(u, a, ok) for u, a, _t, ok in audit_actions()] == [("root", "schedule_create", True), ("viewer-a", "schedule_pause", False), ("viewer-a", "schedule_delete", False)]


def test_hidden_targets_are_counted_never_named(fleet):
    root = client_for(fleet["root"])
    root.post("/schedules/new", form(name="both sites", targets=["CP-A", "CP-B"]))
    root.post("/schedules/new", form(name="site b only", targets=["CP-B"]))
    root.post("/schedules/new", form(name="everywhere", targets=[], all_accepted="on"))
    both = ScheduledCommand.objects.get(name="both sites")
    run = ScheduledRun.objects.create(command=both, started_at=timezone.now(), finished_at=timezone.now(), targets=2, answered=1)
    ScheduledOutcome.objects.create(run=run, charge_point=fleet["CP-A"], status="answered", response={"status": "Accepted"})
    ScheduledOutcome.objects.create(run=run, charge_point=fleet["CP-B"], status="offline", error="CP-B is not connected")
    op = client_for(fleet["op-a"])
    hidden = ("CP-B", fleet["CP-B"].name, "site b only")
    listing = text(op.get("/schedules/"))
    assert "both sites" in listing and "(a charge point you may not see)" in listing and "everywhere" in listing
    assert "1/2 answered" in listing
    page = text(op.get(f"/schedules/{both.pk}/"))
    assert "CP-A" in page and "One outcome is on a charge point you may not see." in page and "Accepted" in page
    for secret in hidden:
        assert secret not in listing and secret not in page, secret
    assert op.get(f"/schedules/{ScheduledCommand.objects.get(name='site b only').pk}/").status_code == 404
    # not an operator of every target: no change (and a superuser's "every accepted" neither)
    assert op.post(f"/schedules/{both.pk}/pause").status_code == 403
    assert op.post(f"/schedules/{ScheduledCommand.objects.get(name='everywhere').pk}/delete").status_code == 403
    assert all(c.periodic_task.enabled for c in ScheduledCommand.objects.all()) and ScheduledCommand.objects.count() == 3
    full = text(root.get(f"/schedules/{both.pk}/"))
    assert "CP-B" in full and "offline" in full and "CP-B is not connected" in full and "you may not see" not in full


# --- runs ----------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_run_against_an_offline_charger_shows_its_outcome(server, fleet):
    client = client_for(fleet["op-a"])
    client.post("/schedules/new", form(action="GetLocalListVersion", payload="{}", timeout="3"))
    command = ScheduledCommand.objects.get()
    run = schedules.run_scheduled(command.id)
    assert (run.targets, run.answered) == (1, 0)
    page = text(client.get(f"/schedules/{command.pk}/"))
    assert "Runs (1)" in page and "0/1 answered" in page and 'class="st-offline">offline<' in page and "not connected" in page
    assert 'class="st-failed">0/1 answered' in text(client.get("/schedules/"))


def test_runs_are_paged_newest_first(fleet):
    client_for(fleet["root"]).post("/schedules/new", form())
    command = ScheduledCommand.objects.get()
    start = timezone.now() - timedelta(days=30)
    ScheduledRun.objects.bulk_create(ScheduledRun(command=command, started_at=start + timedelta(days=i), targets=1, answered=i % 2) for i in range(25))
    client = client_for(fleet["op-a"])
    first = text(client.get(f"/schedules/{command.pk}/"))
    assert "Runs (25)" in first and "page 1 of 2" in first and first.count('<details class="run"') == 20
    newest = timezone.localtime(start + timedelta(days=24)).strftime("%Y-%m-%d %H:%M:%S")
    assert first.index(newest) < first.index("page 1 of 2")
    assert text(client.get(f"/schedules/{command.pk}/?page=2")).count('<details class="run"') == 5


# --- the admin -----------------------------------------------------------------------------------------
def admin_form(fleet, **fields):
    data = {
        "name": "admin reset",
        "action": "Reset",
        "payload": RESET,
        "charge_points": [fleet["CP-A"].pk],
        "timeout": "30",
        "at_0": "",
        "at_1": "",
        "cron": "15 2 * * *",
        "active": "on",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def test_the_admin_makes_and_updates_the_periodic_task(fleet):
    client = client_for(fleet["root"])
    response = client.post("/admin/datapoints/scheduledcommand/add/", admin_form(fleet))
    assert response.status_code == 302, text(response)
    command = ScheduledCommand.objects.get(name="admin reset")
    task = command.periodic_task
    assert (task.crontab.minute, task.crontab.hour) == ("15", "2") and task.enabled and task.name == "ocpp: admin reset"
    assert json.loads(task.kwargs) == {"scheduled_command_id": command.pk}
    # to a one time, renamed, paused
    at = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    change = admin_form(fleet, name="admin once", cron="", at_0=at.strftime("%Y-%m-%d"), at_1=at.strftime("%H:%M:%S"))
    del change["active"]
    assert client.post(f"/admin/datapoints/scheduledcommand/{command.pk}/change/", change).status_code == 302
    task = PeriodicTask.objects.get(pk=task.pk)
    assert task.one_off and task.crontab is None and task.clocked.clocked_time == at and not task.enabled and task.name == "ocpp: admin once"
    page = text(client.get(f"/schedules/{command.pk}/"))
    assert "admin once" in page and 'class="st-paused">paused<' in page
    assert [a for _u, a, _t, _ok in audit_actions()] == ["schedule_create", "schedule_change"]
    assert client.post(f"/admin/datapoints/scheduledcommand/{command.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not ScheduledCommand.objects.exists() and not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert not ClockedSchedule.objects.exists()


def test_the_admin_refuses_what_would_not_run(fleet):
    client = client_for(fleet["root"])
    for fields, error in (
        ({"cron": "0 3 * *"}, "a cron has 5 fields"),
        ({"cron": ""}, "Give a time (one run) or a cron (runs again and again)."),
        ({"at_0": "2026-01-01", "at_1": "03:00:00"}, "Give a time or a cron, not both."),
        ({"cron": "", "at_0": "2020-01-01", "at_1": "03:00:00"}, "has passed; choose a later time; or untick Active."),
        ({"payload": '{"type": "Now"}'}, "payload refused by the OCPP 1.6 schema"),
        ({"charge_points": []}, "Choose the charge points, or tick"),
    ):
        response = client.post("/admin/datapoints/scheduledcommand/add/", admin_form(fleet, **fields))
        assert response.status_code == 200 and error in text(response), (fields, error)
    assert not ScheduledCommand.objects.exists() and not PeriodicTask.objects.exists()
