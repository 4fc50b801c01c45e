"""Keeping State.Connected true only while a charger really is connected.

A connection's own close writes it false. A node that dies cannot, so its chargers' address
records (addresses.py) are the lease: the holding process refreshes them every OCPP_ADDRESS_TTL / 3
seconds, and they expire OCPP_ADDRESS_TTL seconds after it stops. `sweep()` marks disconnected
every charge point whose State.Connected is true but whose address record is gone. Every Daphne
process sweeps every OCPP_SWEEP_INTERVAL seconds, and Celery beat runs it too, so the elements are
corrected even when every node is down.
"""
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .addresses import address_book
from .elements import CHARGE_POINT
from .events import publish_on_commit
from .models import Element
from .periodic import ensure_periodic
from .writes import DpRef, write_elements

log = logging.getLogger(__name__)


def disconnected_writes(dp, now):
    """The element writes of a charge point whose connection ended at `now`."""
    return [
        (dp, "State.Connected", False),
        (dp, "State.DisconnectedSince", now.isoformat()),
        (dp, "Common.ConnState", "Disconnected"),
    ]


def sweep():
    """Mark disconnected the charge points connected on paper but held by no process. Returns
    their names. Database and address book, synchronously."""
    connected = (
        Element.objects.filter(path="State.Connected", value=True, datapoint__dp_type=CHARGE_POINT)
        .values_list("datapoint_id", "datapoint__name", "datapoint__client_id")
    )
    book = address_book()
    swept = []
    for dp_id, name, client_id in connected:
        if book.lookup_sync(client_id) is not None:
            continue
        with transaction.atomic():
            # Lock the element, then look again: a connection that came meanwhile claimed its
            # address record before writing State.Connected, so it is seen here and kept.
            still = Element.objects.select_for_update().filter(datapoint_id=dp_id, path="State.Connected", value=True).exists()
            if not still or book.lookup_sync(client_id) is not None:
                continue
            changes = write_elements(disconnected_writes(DpRef(dp_id, name, CHARGE_POINT), timezone.now()))
            publish_on_commit(changes)
        swept.append(name)
    if swept:
        log.warning("marked %d charge point(s) disconnected: no process holds them (a node stopped?): %s", len(swept), ", ".join(swept[:20]))
    return swept


def ensure_sweeper():
    """Start this process's periodic sweep (called when the first charger connects)."""
    ensure_periodic("sweep", settings.OCPP_SWEEP_INTERVAL, sweep)
