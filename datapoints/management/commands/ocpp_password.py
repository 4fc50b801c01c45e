from django.core.management.base import BaseCommand, CommandError

from datapoints import passwords
from datapoints.charge_points import find_charge_point
from datapoints.models import Datapoint
from datapoints.paths import set_value


class Command(BaseCommand):
    help = (
        "Set a charge point's 20-byte key (HTTP Basic password, security profiles 1-2). Prints the key "
        "once as 40 hex digits; only a salted hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("charge_point", help="datapoint name (_ChargePoint0001) or ClientId")
        parser.add_argument("--key", help="use this key (40 hex digits) instead of a random one")

    def handle(self, charge_point, key=None, **options):
        try:
            dp = find_charge_point(charge_point)
        except Datapoint.DoesNotExist:
            raise CommandError(f"no charge point with name or ClientId {charge_point!r}") from None
        try:
            raw = passwords.parse_key_hex(key) if key else passwords.new_key()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        set_value(f"{dp.name}.Config.Password", passwords.make_hash(raw), operator=False)
        self.stdout.write(raw.hex())
