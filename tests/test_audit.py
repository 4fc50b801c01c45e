"""Operator actions from the shell are audited too (user empty = a shell)."""
import io

import pytest
from django.core.management import call_command

from datapoints.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_dp_set_and_ocpp_command_from_the_shell_are_audited(server):
    name = io.StringIO()
    call_command("dp_create", "AUD-1", "--status", "Accepted", stdout=name)
    name = name.getvalue().strip()
    call_command("dp_set", f"{name}.Config.Description", "Bay 3", stdout=io.StringIO())
    with pytest.raises(SystemExit) as offline:
        call_command("ocpp_command", "AUD-1", "Reset", '{"type": "Soft"}', stdout=io.StringIO(), stderr=io.StringIO())
    assert offline.value.code == 4
    entries = list(AuditEntry.objects.order_by("at").values_list("username", "action", "target", "ok", "detail__value"))
    assert entries[0] == ("", "element_write", f"{name}.Config.Description", True, "Bay 3")
    assert entries[1][:4] == ("", "command", "AUD-1", False)
    assert AuditEntry.objects.get(action="command").outcome.startswith("offline")
