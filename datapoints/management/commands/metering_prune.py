from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datapoints.retention import BATCH, prune


class Command(BaseCommand):
    help = (
        "Roll meter samples older than OCPP_SAMPLE_DAYS up into per-minute rollups and delete them, delete Metering.* "
        "history older than that and rollups older than OCPP_ROLLUP_DAYS, in batches, printing the progress."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help=f"keep raw samples this many days instead (default OCPP_SAMPLE_DAYS, now {settings.OCPP_SAMPLE_DAYS})")
        parser.add_argument("--rollup-days", type=int, default=None, help=f"keep rollups this many days instead (default OCPP_ROLLUP_DAYS, now {settings.OCPP_ROLLUP_DAYS})")
        parser.add_argument("--batch", type=int, default=BATCH, help=f"rows per transaction (default {BATCH})")

    def handle(self, days, rollup_days, batch, **options):
        if (days is not None and days < 0) or (rollup_days is not None and rollup_days < 0):
            raise CommandError("--days and --rollup-days must be 0 or more")
        if batch < 1:
            raise CommandError("--batch must be 1 or more")
        prune(days, rollup_days, batch, progress=self.stdout.write)
