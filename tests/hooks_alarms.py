"""A change hook on the alarm mirror (tests/test_alarms.py): it writes what it saw into
Config.Description, where the test reads it back."""
import json

from datapoints.hooks import on_change
from datapoints.paths import set_value


@on_change("_OCPP_1_6_ChargePoint.Alarms.Active")
def alarms_changed(cp, old, new):
    set_value(f"{cp.name}.Config.Description", json.dumps({"old": old, "new": new}))
