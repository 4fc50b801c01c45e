import json
import sys

from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.commands import CommandRefused, send_command
from datapoints.management.arguments import charge_point_argument, json_argument


class Command(BaseCommand):
    help = (
        "Send an OCPP 1.6 command to a charger, through whichever node holds it, and print the "
        "answer as JSON. Exit codes: 0 answered, 2 CALLERROR (or an invalid answer), 3 timeout, "
        "4 charger offline, 1 refused before sending (unknown charger or action, bad payload)."
    )

    def add_arguments(self, parser):
        parser.add_argument("charge_point", help="datapoint name (_ChargePoint0001) or ClientId")
        parser.add_argument("action", help="e.g. Reset, ChangeConfiguration, TriggerMessage")
        parser.add_argument("payload", nargs="?", default="{}", help="the payload as JSON, e.g. '{\"type\": \"Soft\"}'")
        parser.add_argument("--timeout", type=float, help="seconds to wait for the charger's answer (default OCPP_CALL_TIMEOUT)")

    def handle(self, charge_point, action, payload, timeout=None, **options):
        data = json_argument(payload)
        dp = charge_point_argument(charge_point)
        try:
            outcome = send_command(dp, action, data, timeout=timeout)
        except CommandRefused as exc:
            audit.record_command(None, dp, action, data, None, str(exc))
            raise CommandError(str(exc)) from None
        audit.record_command(None, dp, action, data, outcome)
        if outcome.status == "answered":
            self.stdout.write(json.dumps(outcome.response))
            return
        self.stdout.write(json.dumps(outcome.as_dict()))
        self.stderr.write(self._explain(outcome))
        sys.exit(outcome.exit_code)

    @staticmethod
    def _explain(outcome):
        if outcome.status == "offline":
            return f"charger offline: {outcome.error}. The command was recorded in Commands.*.Error; send it again once the charger is connected."
        if outcome.status == "timeout":
            return f"timeout: {outcome.error}. The charger may still act on it; check its state before sending it again."
        if outcome.status == "invalid":
            return f"the charger answered with a payload that breaks the 1.6 schema: {outcome.error}"
        return f"the charger answered CALLERROR {outcome.error_code}: {outcome.error}"
