"""Arguments the management commands share, turned into values or a CommandError that says what
to type instead."""
import json

from django.core.management.base import CommandError

from datapoints.charge_points import find_charge_point
from datapoints.models import Datapoint


def charge_point_argument(text):
    """A charge point by datapoint name or ClientId."""
    try:
        return find_charge_point(text)
    except Datapoint.DoesNotExist:
        raise CommandError(f"no charge point with name or ClientId {text!r}") from None


def json_argument(text, what="payload"):
    """An OCPP payload given as JSON text on the command line."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandError(f"the {what} is not JSON ({exc}); quote it, e.g. '{{\"type\": \"Soft\"}}'") from None
