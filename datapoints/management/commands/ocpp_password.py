from django.core.management.base import BaseCommand, CommandError

from datapoints import audit, passwords
from datapoints.keys import KeyNotAccepted, set_new_key
from datapoints.management.arguments import charge_point_argument


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
            raw = passwords.parse_key_hex(key) if key else None
            result = set_new_key(dp, raw, timeout)
        except (ValueError, KeyNotAccepted) as exc:
            audit.record(None, "password", charge_point=dp, ok=False, outcome=str(exc))
            raise CommandError(str(exc)) from None
        audit.record(None, "password", charge_point=dp, detail={"sent_to_charger": result.sent_to_charger}, outcome=result.message)
        self.stderr.write(result.message)
        self.stdout.write(result.key_hex)
