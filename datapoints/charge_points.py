"""Creating charge point and connector datapoints, and finding them by name or ClientId."""
import re

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from .events import publish_changes_sync
from .elements import CHARGE_POINT, CONNECTOR, REGISTRATION_STATUSES
from .models import Datapoint, Element, UnknownChargePoint
from .writes import ref, write_elements

CLIENT_ID_RE = re.compile(r"^[\x21-\x7e\u00a0-\uffff][\x20-\x7e\u00a0-\uffff]{0,47}$")


class ClientIdError(ValueError):
    pass


def check_client_id(client_id):
    if not 1 <= len(client_id) <= 48:
        raise ClientIdError("a ClientId has 1 to 48 characters")
    if "/" in client_id or not client_id.isprintable() or not CLIENT_ID_RE.match(client_id):
        raise ClientIdError("a ClientId has printable characters only, and no '/'")
    return client_id


def create_charge_point(client_id, registration_status="Pending"):
    """Create `_ChargePointNNNN` for `client_id`; return it. Raises IntegrityError if it exists."""
    check_client_id(client_id)
    if registration_status not in REGISTRATION_STATUSES:
        raise ValueError(f"registration status must be one of {', '.join(REGISTRATION_STATUSES)}")
    for _attempt in range(5):  # two nodes may pick the same number at once: retry
        number = (Datapoint.objects.filter(dp_type=CHARGE_POINT).aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                dp = Datapoint.objects.create(
                    name=Datapoint.charge_point_name(number), dp_type=CHARGE_POINT, client_id=client_id, number=number
                )
                changes = write_elements(
                    [
                        (dp, "ClientId", client_id),
                        (dp, "Config.RegistrationStatus", registration_status),
                        (dp, "Common.ConnState", "Disconnected"),
                        (dp, "State.Connected", False),
                        (dp, "State.ReconnectCount", 0),
                    ]
                )
                UnknownChargePoint.objects.filter(client_id=client_id).delete()
                transaction.on_commit(lambda: publish_changes_sync(changes))
                return dp
        except IntegrityError:
            if Datapoint.objects.filter(client_id=client_id).exists():
                raise
    raise IntegrityError("could not allocate a datapoint number")


def connector(charge_point, connector_id):
    """The connector datapoint `<cp>-<n>`, created on first use (DpRef)."""
    name = Datapoint.connector_name(charge_point.name, connector_id)
    dp, created = Datapoint.objects.get_or_create(
        charge_point_id=charge_point.id,
        connector_id=connector_id,
        defaults={"name": name, "dp_type": CONNECTOR},
    )
    if created:
        write_elements([(dp, "ConnectorId", connector_id), (dp, "Transaction.CurrentTransactionId", 0)])
    return ref(dp)


def find_charge_point(name_or_client_id):
    """A charge point by datapoint name or by ClientId; Datapoint.DoesNotExist otherwise."""
    return Datapoint.objects.filter(dp_type=CHARGE_POINT).filter(
        name=name_or_client_id
    ).first() or Datapoint.objects.get(dp_type=CHARGE_POINT, client_id=name_or_client_id)


def record_unknown(client_id, remote_address):
    now = timezone.now()
    row, created = UnknownChargePoint.objects.get_or_create(
        client_id=client_id, defaults={"remote_address": remote_address, "attempts": 1, "last_seen": now}
    )
    if not created:
        UnknownChargePoint.objects.filter(pk=row.pk).update(
            attempts=F("attempts") + 1, remote_address=remote_address, last_seen=now
        )


def element_values(dp_id, paths):
    return dict(Element.objects.filter(datapoint_id=dp_id, path__in=paths).values_list("path", "value"))
