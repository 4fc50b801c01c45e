from django.core.management.base import BaseCommand, CommandError

from datapoints import passwords
from datapoints.charge_points import element_values
from datapoints.commands import send_command
from datapoints.management.arguments import charge_point_argument
from datapoints.paths import set_value


class Command(BaseCommand):
    help = (
        "Set a charge point's 20-byte key (HTTP Basic password, security profiles 1-2). Prints the key "
        "once as 40 hex digits; only a salted hash is stored. When the charger is connected and "
        "accepted, the key is first sent to it (ChangeConfiguration AuthorizationKey) and stored only "
        "if the charger accepts it; otherwise the old key stays in force."
    )

    def add_arguments(self, parser):
        parser.add_argument("charge_point", help="datapoint name (_ChargePoint0001) or ClientId")
        parser.add_argument("--key", help="use this key (40 hex digits) instead of a random one")
        parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger to accept the key")

    def handle(self, charge_point, key=None, timeout=30, **options):
        dp = charge_point_argument(charge_point)
        try:
            raw = passwords.parse_key_hex(key) if key else passwords.new_key()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if self._online_and_accepted(dp):
            self._send_to_charger(dp, raw, timeout)
        else:
            self.stderr.write(f"{dp.name} is not connected and accepted: set this key on the charger itself (AuthorizationKey).")
        set_value(f"{dp.name}.Config.Password", passwords.make_hash(raw), operator=False)
        self.stdout.write(raw.hex())

    @staticmethod
    def _online_and_accepted(dp):
        state = element_values(dp.id, ["State.Connected", "State.RegistrationStatus"])
        return state.get("State.Connected") is True and state.get("State.RegistrationStatus") == "Accepted"

    def _send_to_charger(self, dp, raw, timeout):
        outcome = send_command(dp, "ChangeConfiguration", {"key": "AuthorizationKey", "value": raw.hex()}, timeout=timeout)
        status = (outcome.response or {}).get("status") if outcome.status == "answered" else None
        if status not in ("Accepted", "RebootRequired"):
            why = f"it answered {status}" if status else f"{outcome.status}: {outcome.error}"
            raise CommandError(f"{dp.name} did not accept the new key ({why}); the old key stays in force. Retry, or disconnect the charger and set the key on both sides.")
        self.stderr.write(f"{dp.name} accepted the new key ({status}); it uses it from its next connection.")
