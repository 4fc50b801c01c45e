"""Creating charge point and connector datapoints, and finding them by name or ClientId."""
import re

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from .events import publish_on_commit
from .elements import CHARGE_POINT, CONNECTOR, REGISTRATION_STATUSES
from .models import Datapoint, Element, UnknownChargePoint
from .writes import DpRef, ref, write_elements

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
    with transaction.atomic():
        created, changes = create_charge_points([client_id], registration_status)
        publish_on_commit(changes)
    if client_id not in created:
        raise IntegrityError(f"a charge point with ClientId {client_id!r} exists")
    return created[client_id]


def create_charge_points(client_ids, registration_status="Pending"):
    """Create datapoints for the ClientIds that have none, numbered in order, in one transaction.

    Returns ({client_id: Datapoint} of those created, [Change]); ids that exist (perhaps created by
    another node meanwhile) are skipped. Call inside a transaction; publish the changes after it.
    """
    for client_id in client_ids:
        check_client_id(client_id)
    if registration_status not in REGISTRATION_STATUSES:
        raise ValueError(f"registration status must be one of {', '.join(REGISTRATION_STATUSES)}")
    for _attempt in range(5):  # another node may take the same numbers at once: retry
        existing = set(Datapoint.objects.filter(client_id__in=client_ids).values_list("client_id", flat=True))
        wanted = [c for c in dict.fromkeys(client_ids) if c not in existing]
        if not wanted:
            return {}, []
        first = (Datapoint.objects.filter(dp_type=CHARGE_POINT).aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                dps = Datapoint.objects.bulk_create(
                    Datapoint(name=Datapoint.charge_point_name(n), dp_type=CHARGE_POINT, client_id=c, number=n)
                    for n, c in enumerate(wanted, first)
                )
                if not all(dp.id for dp in dps):  # backends that return no ids (old SQLite)
                    dps = list(Datapoint.objects.filter(client_id__in=wanted))
                changes = write_elements([(dp, path, value) for dp in dps for path, value in _initial_elements(dp, registration_status)])
                UnknownChargePoint.objects.filter(client_id__in=wanted).delete()
                return {dp.client_id: dp for dp in dps}, changes
        except IntegrityError:
            continue
    raise IntegrityError("could not allocate datapoint numbers")


def _initial_elements(dp, registration_status):
    return [
        ("ClientId", dp.client_id),
        ("Config.RegistrationStatus", registration_status),
        ("Common.ConnState", "Disconnected"),
        ("State.Connected", False),
        ("State.ReconnectCount", 0),
    ]


def connector(charge_point, connector_id):
    """The connector datapoint `<cp>-<n>`, created on first use (DpRef)."""
    refs, writes = create_connectors([(charge_point, connector_id)])
    write_elements(writes)
    return refs[(charge_point.id, connector_id)]


def create_connectors(wanted):
    """Connector datapoints for [(charge point DpRef, connector id)], created where missing.

    Returns ({(charge point id, connector id): DpRef}, [the created ones' initial element writes],
    for the caller to store). Asked for when a session has not seen a connector yet, so they usually
    do not exist: one INSERT .. ON CONFLICT DO NOTHING RETURNING for all of them (no savepoints),
    and a SELECT only for those that existed after all.
    """
    wanted = list(dict.fromkeys((cp, n) for cp, n in wanted))
    refs, writes = {}, []
    now = timezone.now()
    for chunk in _chunks(wanted, 1000):
        rows = [(Datapoint.connector_name(cp.name, n), CONNECTOR, cp.id, n, now) for cp, n in chunk]
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_CONNECTORS_SQL.format(rows=", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))), [v for row in rows for v in row])
            created = cursor.fetchall()
        names = {(cp.id, n): name for (cp, n), (name, *_rest) in zip(chunk, rows)}
        for dp_id, cp_id, n in created:
            dp = refs[(cp_id, n)] = DpRef(dp_id, names[(cp_id, n)], CONNECTOR)
            writes += [(dp, "ConnectorId", n), (dp, "Transaction.CurrentTransactionId", 0)]
        existed = {(cp.id, n) for cp, n in chunk if (cp.id, n) not in refs}
        if existed:
            query = Datapoint.objects.filter(charge_point_id__in={c for c, _n in existed}, connector_id__in={n for _c, n in existed})
            for dp in query.only("id", "name", "dp_type", "charge_point_id", "connector_id"):
                if (dp.charge_point_id, dp.connector_id) in existed:  # the filter is a cross product
                    refs[(dp.charge_point_id, dp.connector_id)] = ref(dp)
    return refs, writes


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


_INSERT_CONNECTORS_SQL = (
    f"INSERT INTO {Datapoint._meta.db_table} (name, dp_type, charge_point_id, connector_id, created_at) "
    "VALUES {rows} ON CONFLICT DO NOTHING RETURNING id, charge_point_id, connector_id"
)


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
