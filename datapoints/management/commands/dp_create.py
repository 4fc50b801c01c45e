from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from datapoints.charge_points import ClientIdError, create_charge_point
from datapoints.elements import REGISTRATION_STATUSES
from datapoints.models import Datapoint


class Command(BaseCommand):
    help = "Create the datapoint of a charger and print its name."

    def add_arguments(self, parser):
        parser.add_argument("client_id", help="the charger's OCPP identity (ClientId), 1-48 printable characters, no '/'")
        parser.add_argument("--status", default="Pending", choices=REGISTRATION_STATUSES, help="registration status (default Pending)")

    def handle(self, client_id, status, **options):
        try:
            dp = create_charge_point(client_id, status)
        except ClientIdError as exc:
            raise CommandError(f"bad ClientId {client_id!r}: {exc}") from None
        except IntegrityError:
            existing = Datapoint.objects.filter(client_id=client_id).first()
            raise CommandError(f"ClientId {client_id!r} already has datapoint {existing}") from None
        self.stdout.write(dp.name)
