import json

from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.paths import NotWritable, PathError, resolve, set_value


class Command(BaseCommand):
    help = (
        "Write an element an operator may write (Config.*). "
        "Approve a charger: dp_set _ChargePoint0001.Config.RegistrationStatus Accepted"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="<datapoint>.<element path>")
        parser.add_argument("value", help="the value: text, a number, true/false, or JSON for JSON elements")

    def handle(self, path, value, **options):
        try:
            dp, spec = resolve(path)
            parsed = spec.parse(value)
            set_value(path, parsed)
        except (PathError, NotWritable) as exc:
            raise CommandError(str(exc)) from None
        except ValueError as exc:
            raise CommandError(f"bad value for {path}: {exc}") from None
        audit.record(None, "element_write", charge_point=dp if dp.is_charge_point else dp.charge_point, target=path, detail={"path": spec.path, "value": parsed}, outcome="written")
        self.stdout.write(json.dumps(parsed, ensure_ascii=False))
