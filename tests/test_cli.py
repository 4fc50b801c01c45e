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
