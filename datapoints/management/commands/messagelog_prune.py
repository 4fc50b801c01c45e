from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datapoints.messagelog import prune


class Command(BaseCommand):
    help = "Delete OCPP message log rows older than OCPP_MESSAGE_LOG_DAYS days and print how many were deleted."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help=f"keep this many days instead (default OCPP_MESSAGE_LOG_DAYS, now {settings.OCPP_MESSAGE_LOG_DAYS}; 0 deletes all)")

    def handle(self, days, **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more")
        self.stdout.write(str(prune(days)))
