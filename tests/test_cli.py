"""The CLI contract: dp_get / dp_set / dp_create, their errors, and the generated element docs."""
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from datapoints.docs import datapoints_markdown
from datapoints.models import ElementChange

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_docs_match_the_element_catalogue():
    assert (ROOT / "docs/datapoints.md").read_text() == datapoints_markdown()


def test_create_names_grow_and_client_id_is_unique():
    assert run("dp_create", "cli-a") == "_ChargePoint0001"
    assert run("dp_create", "cli-b") == "_ChargePoint0002"
    with pytest.raises(CommandError, match="already has datapoint _ChargePoint0001"):
        run("dp_create", "cli-a")
    with pytest.raises(CommandError, match="no '/'"):
        run("dp_create", "a/b")
    assert json.loads(run("dp_get", "_ChargePoint0002.ClientId")) == "cli-b"


def test_set_get_and_history():
    run("dp_create", "cli-c")
    assert json.loads(run("dp_get", "_ChargePoint0001.Config.RegistrationStatus")) == "Pending"
    run("dp_set", "_ChargePoint0001.Config.RegistrationStatus", "Accepted")
    run("dp_set", "_ChargePoint0001.Config.HeartbeatInterval", "120")
    assert json.loads(run("dp_get", "_ChargePoint0001.Config.RegistrationStatus")) == "Accepted"
    assert json.loads(run("dp_get", "_ChargePoint0001.Config.HeartbeatInterval")) == 120
    history = list(ElementChange.objects.filter(path="Config.RegistrationStatus").order_by("id").values_list("value", flat=True))
    assert history == ["Pending", "Accepted"]


@pytest.mark.parametrize(
    "args,message",
    [
        (("dp_get", "_ChargePoint0009.ClientId"), "no datapoint named '_ChargePoint0009'"),
        (("dp_get", "_ChargePoint0001.No.Such"), "has no element 'No.Such'"),
        (("dp_get", "nodot"), "is not a path"),
        (("dp_set", "_ChargePoint0001.ClientId", "other"), "not writable"),
        (("dp_set", "_ChargePoint0001.Config.RegistrationStatus", "Maybe"), "not one of Accepted, Pending, Rejected"),
        (("dp_set", "_ChargePoint0001.Config.HeartbeatInterval", "soon"), "bad value"),
    ],
)
def test_errors_say_what_is_wrong(args, message):
    run("dp_create", "cli-d")
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_unknown_path_exits_non_zero_from_the_shell(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "OCPP_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    done = subprocess.run([sys.executable, "manage.py", "dp_get", "_ChargePoint0001.ClientId"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "no datapoint named" in done.stderr


# ---- sites and operators: site_create, site_assign, operator_create -------------------------------


def test_site_create_and_what_it_refuses():
    from datapoints.models import AuditEntry, Site

    assert run("site_create", "plant-a", "--name", "Plant A", "--time-zone", "Europe/Vienna") == "plant-a"
    site = Site.objects.get(slug="plant-a")
    assert (site.name, site.time_zone) == ("Plant A", "Europe/Vienna")
    assert run("site_create", "plant-b") == "plant-b"
    assert (Site.objects.get(slug="plant-b").name, Site.objects.get(slug="plant-b").time_zone) == ("plant-b", "UTC")
    with pytest.raises(CommandError, match=r"'Plant C' is not a slug; use lower-case letters, digits and hyphens, e.g. 'plant-c'"):
        run("site_create", "Plant C")
    with pytest.raises(CommandError, match=r"unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Vienna or UTC"):
        run("site_create", "plant-c", "--time-zone", "Mars/Olympus")
    with pytest.raises(CommandError, match=r"a site 'plant-a' exists already"):
        run("site_create", "plant-a", "--name", "Other")
    with pytest.raises(CommandError, match=r"'operators' is taken by the panel's pages"):
        run("site_create", "operators")
    assert sorted(Site.objects.values_list("slug", "name")) == [("plant-a", "Plant A"), ("plant-b", "plant-b")]
    assert list(AuditEntry.objects.filter(action="site_create").values_list("username", "target")) == [("", "plant-b"), ("", "plant-a")]


def test_site_create_sets_the_defaults_for_its_chargers():
    from datapoints.models import AuditEntry, Site

    run("site_create", "depot", "--auto-create", "yes", "--new-status", "Accepted", "--heartbeat-interval", "120")
    site = Site.objects.get(slug="depot")
    assert (site.auto_create, site.new_charge_point_status, site.heartbeat_interval) == (True, "Accepted", 120)
    assert AuditEntry.objects.get(action="site_create").detail["heartbeat_interval"] == 120
    with pytest.raises(CommandError, match="--heartbeat-interval must be 10 to 86400 seconds"):
        run("site_create", "depot-2", "--heartbeat-interval", "1")
    assert not Site.objects.filter(slug="depot-2").exists()


def test_site_assign_moves_a_charge_point_and_config_site_follows():
    run("site_create", "plant-a")
    run("site_create", "plant-b")
    run("dp_create", "CP-A")
    run("dp_create", "CP-B")
    assert run("site_assign", "plant-a", "CP-A", "_ChargePoint0002") == "_ChargePoint0001 (CP-A) -> plant-a\n_ChargePoint0002 (CP-B) -> plant-a"
    assert json.loads(run("dp_get", "_ChargePoint0001.Config.Site")) == "plant-a"
    assert run("site_assign", "plant-b", "CP-A") == "_ChargePoint0001 (CP-A) -> plant-b"  # a move: in one site at most
    assert json.loads(run("dp_get", "_ChargePoint0001.Config.Site")) == "plant-b"
    assert json.loads(run("dp_get", "_ChargePoint0002.Config.Site")) == "plant-a"
    history = list(ElementChange.objects.filter(datapoint__name="_ChargePoint0001", path="Config.Site").order_by("id").values_list("value", flat=True))
    assert history == ["plant-a", "plant-b"]
    with pytest.raises(CommandError, match=r"no site 'plant-z'; sites: plant-a, plant-b"):
        run("site_assign", "plant-z", "CP-A")
    with pytest.raises(CommandError, match=r"no charge point with name or ClientId 'CP-NONE'"):
        run("site_assign", "plant-a", "CP-NONE")
    assert json.loads(run("dp_get", "_ChargePoint0001.Config.Site")) == "plant-b"


def test_operator_create_with_the_password_from_the_environment(monkeypatch):
    from django.contrib.auth import authenticate
    from django.contrib.auth.models import User

    from datapoints.models import AuditEntry, SiteRole

    run("site_create", "plant-a")
    run("site_create", "plant-b")
    monkeypatch.setenv("OPERATOR_PASSWORD", "cli-operator-pw-1")
    assert run("operator_create", "olga", "--site", "plant-a", "--site", "plant-b", "--role", "operator") == "olga: operator of plant-a, plant-b (new login)"
    olga = User.objects.get(username="olga")
    assert sorted(SiteRole.objects.filter(user=olga).values_list("site__slug", "role")) == [("plant-a", "operator"), ("plant-b", "operator")]
    assert authenticate(username="olga", password="cli-operator-pw-1") == olga
    assert authenticate(username="olga", password="wrong") is None
    assert not olga.is_superuser and not olga.is_staff
    assert run("operator_create", "victor", "--site", "plant-a") == "victor: viewer of plant-a (new login)"  # viewer by default
    assert SiteRole.objects.get(user__username="victor").role == "viewer"
    assert sorted(AuditEntry.objects.filter(action="operator_create").values_list("target", "site__slug", "detail__role")) == [
        ("olga", "plant-a", "operator"), ("olga", "plant-b", "operator"), ("victor", "plant-a", "viewer")
    ]
    with pytest.raises(CommandError, match=r"no site 'plant-z'; sites: plant-a, plant-b"):
        run("operator_create", "zed", "--site", "plant-z")
    assert not User.objects.filter(username="zed").exists()


def test_operator_create_without_a_password_or_a_terminal_says_what_to_do(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "OCPP_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    def manage(*args, **extra_env):
        # A new session has no controlling terminal, and stdin is empty: getpass cannot ask.
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**env, **extra_env}, capture_output=True, text=True, stdin=subprocess.DEVNULL, start_new_session=True)

    assert manage("site_create", "plant-a").returncode == 0
    duplicate = manage("site_create", "plant-a")
    assert duplicate.returncode != 0 and "a site 'plant-a' exists already" in duplicate.stderr
    done = manage("operator_create", "olga", "--site", "plant-a")
    assert done.returncode != 0
    assert "no password: set OPERATOR_PASSWORD, or run the command in a terminal" in done.stderr
    done = manage("operator_create", "olga", "--site", "plant-a", OPERATOR_PASSWORD="cli-operator-pw-1")
    assert done.returncode == 0 and done.stdout.strip() == "olga: viewer of plant-a (new login)"
