"""Keeping State.Connected true only while a charger really is connected.

A connection's own close writes it false. A node that dies cannot, so its chargers' address
records (addresses.py) are the lease: the holding process refreshes them every OCPP_ADDRESS_TTL / 3
seconds, and they expire OCPP_ADDRESS_TTL seconds after it stops. `sweep()` marks disconnected
every charge point whose State.Connected is true but whose address record is gone. Every Daphne
process sweeps every OCPP_SWEEP_INTERVAL seconds, and Celery beat runs it too, so the elements are
corrected even when every node is down.
"""
import logging
from datetime import datetime, timedelta

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
    if not settings.REDIS_URL:
        connected = _from_before_this_process(connected)
    book = address_book()
    if not book.settled_sync():
        log.info("Redis restarted less than a lease ago: no sweep until the nodes wrote their address records again")
        return []
    swept = []
    for dp_id, name, client_id in connected:
        if book.lookup_sync(client_id) is not None:
            continue
        with transaction.atomic():
            # Lock the element, then look again: a connection that came meanwhile claimed its
            # address record before writing State.Connected, so it is seen here and kept.
            still = Element.objects.select_for_update().filter(datapoint_id=dp_id, path="State.Connected", value=True).exists()
            if not still or book.lookup_sync(client_id) is not None or not book.settled_sync():
                continue
            changes = write_elements(disconnected_writes(DpRef(dp_id, name, CHARGE_POINT), timezone.now()))
            publish_on_commit(changes)
        swept.append(name)
    if swept:
        log.warning("marked %d charge point(s) disconnected: no process holds them (a node stopped?): %s", len(swept), ", ".join(swept[:20]))
    return swept


def _from_before_this_process(connected):
    """Without Redis each process has an address book of its own and cannot know another's
    connections (only tests run several servers on one database that way). It sweeps only what
    claims to be connected since before it started: those connections belong to a process that is
    gone (a crash, a restart)."""
    rows = list(connected)
    since = dict(Element.objects.filter(datapoint_id__in=[r[0] for r in rows], path="State.ConnectedSince").values_list("datapoint_id", "value"))
    return [r for r in rows if not since.get(r[0]) or _parsed(since[r[0]]) < PROCESS_STARTED]


def _parsed(text):
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return PROCESS_STARTED - timedelta(seconds=1)  # unreadable: treat it as from before


PROCESS_STARTED = timezone.now()


def ensure_sweeper():
    """Start this process's periodic sweep (called when the first charger connects)."""
    ensure_periodic("sweep", settings.OCPP_SWEEP_INTERVAL, sweep)
