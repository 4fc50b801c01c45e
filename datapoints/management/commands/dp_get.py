import json

from django.core.management.base import BaseCommand, CommandError

from datapoints.paths import PathError, get_value


class Command(BaseCommand):
    help = "Print an element's value as JSON, e.g. dp_get _ChargePoint0001.DeviceInfo.chargePointVendor"

    def add_arguments(self, parser):
        parser.add_argument("path", help="<datapoint>.<element path>")

    def handle(self, path, **options):
        try:
            value = get_value(path)
        except PathError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(value, ensure_ascii=False))
