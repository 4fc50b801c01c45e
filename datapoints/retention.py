"""Retention of meter data: raw samples for OCPP_SAMPLE_DAYS, per-minute rollups for OCPP_ROLLUP_DAYS.

`prune()` does, in batches of `batch` rows (each batch one short transaction, one bounded DELETE):
  1. MeterSample rows received (received_at, server time) before the cutoff are folded into
     MeterRollup (one row per charger, connector, minute, measurand, phase, unit: count, minimum,
     maximum, mean and last of value_number) and deleted. The minute is that of the charger's
     timestamp (when the value was measured), else that of received_at. Rows without a number
     (SignedData, empty, not numeric) are deleted without a rollup: there is nothing to sum.
  2. Older rows with no received_at (stored before it existed) are judged by their charger
     timestamp, parsed; a row whose timestamp cannot be parsed is left alone (counted as `kept`),
     since nothing says how old it is.
  3. ElementChange rows of Metering.* paths changed before the cutoff are deleted.
  4. MeterRollup rows of minutes before OCPP_ROLLUP_DAYS are deleted.
A minute cut across batches (or runs) is merged into its existing rollup: counts add up, the
mean is weighted, the last value is the later row's (rows are taken in id order, the order they
arrived). On PostgreSQL a batch runs only under a transaction-level advisory lock, so two
processes pruning at once (every Daphne and Celery beat run this hourly) never fold the same
rows twice: the one that does not get the lock stops.

`manage.py metering_prune` runs it and prints the progress.
"""
import asyncio
import logging
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import ElementChange, MeterRollup, MeterSample

log = logging.getLogger(__name__)
BATCH = 5000
PRUNE_INTERVAL = 3600.0
_LOCK_KEY = 0x6F637070_7072756E  # "ocppprun": pg_try_advisory_xact_lock
_FIELDS = ("id", "charge_point_id", "connector_id", "timestamp", "measurand", "phase", "unit", "value_number", "received_at")
_STATS = ("count", "minimum", "maximum", "mean", "last")


def prune(days=None, rollup_days=None, batch=BATCH, now=None, progress=None):
    """Apply the retention; returns a Counter: rolled_up (samples folded), rollups (rollup rows
    written or merged), deleted (samples deleted), kept (old-looking samples with an unreadable
    time, left), changes (history rows deleted), rollups_deleted. `progress(text)` is called after
    every batch (the command prints it; the periodic task logs it)."""
    now = now or timezone.now()
    days = settings.OCPP_SAMPLE_DAYS if days is None else days
    rollup_days = settings.OCPP_ROLLUP_DAYS if rollup_days is None else rollup_days
    cutoff = now - timedelta(days=days)
    report = Counter()
    say = progress or (lambda text: log.info("meter retention: %s", text))
    if _fold_samples(cutoff, batch, report, say):
        _delete_in_batches("Metering.* history", ElementChange.objects.filter(path__startswith="Metering.", changed_at__lt=cutoff), batch, report, "changes", say)
        _delete_in_batches("rollups", MeterRollup.objects.filter(minute__lt=now - timedelta(days=rollup_days)), batch, report, "rollups_deleted", say)
    say("done: " + (", ".join(f"{key} {value}" for key, value in sorted(report.items())) or "nothing to do"))
    return report


def _fold_samples(cutoff, batch, report, say):
    """Steps 1 and 2; False if another process holds the lock."""
    for legacy in (False, True):
        last_id = 0
        while True:
            with transaction.atomic():
                if not _locked():
                    say("another process is pruning; stopped")
                    return False
                rows = _next_rows(legacy, cutoff, last_id, batch)
                if not rows:
                    break
                last_id = rows[-1][0]
                old = [row for row in rows if not legacy or _is_old(row, cutoff, report)]
                if old:
                    report["rollups"] += _fold(old)
                    report["rolled_up"] += sum(1 for row in old if row[7] is not None)
                    report["deleted"] += MeterSample.objects.filter(id__in=[row[0] for row in old]).delete()[0]
            say(f"samples: {report['deleted']} deleted, {report['rolled_up']} rolled up into {report['rollups']} rollup writes" + (" (judged by charger time)" if legacy else ""))
            if len(rows) < batch:
                break
    return True


def _next_rows(legacy, cutoff, last_id, batch):
    rows = MeterSample.objects.filter(id__gt=last_id)
    rows = rows.filter(received_at__isnull=True) if legacy else rows.filter(received_at__lt=cutoff)
    return list(rows.order_by("id").values_list(*_FIELDS)[:batch])


def _is_old(row, cutoff, report):
    measured = charger_time(row[3])
    if measured is None:
        report["kept"] += 1
        return False
    return measured < cutoff


def charger_time(text):
    """A charger's ISO 8601 timestamp as an aware datetime (UTC when it names no offset); None if
    it cannot be read."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def _minute(row):
    moment = charger_time(row[3]) or row[8]
    return moment.astimezone(dt_timezone.utc).replace(second=0, microsecond=0)


def _fold(rows):
    """Fold sample rows (id order) into MeterRollup; returns how many rollup rows were written."""
    folded = {}
    for row in sorted((r for r in rows if r[7] is not None), key=lambda r: (_minute(r), r[0])):
        key = (row[1], row[2], _minute(row), row[4], row[5], row[6])
        value = row[7]
        stats = folded.get(key)
        if stats is None:
            folded[key] = [1, value, value, value, value]
        else:
            count = stats[0] + 1
            folded[key] = [count, min(stats[1], value), max(stats[2], value), stats[3] + (value - stats[3]) / count, value]
    if not folded:
        return 0
    existing = _existing(folded)
    new, changed = [], []
    for key, stats in folded.items():
        rollup = existing.get(key)
        if rollup is None:
            new.append(MeterRollup(charge_point_id=key[0], connector_id=key[1], minute=key[2], measurand=key[3], phase=key[4], unit=key[5], **dict(zip(_STATS, stats))))
            continue
        count = rollup.count + stats[0]
        rollup.mean = (rollup.mean * rollup.count + stats[3] * stats[0]) / count
        rollup.count, rollup.minimum, rollup.maximum, rollup.last = count, min(rollup.minimum, stats[1]), max(rollup.maximum, stats[2]), stats[4]
        changed.append(rollup)
    MeterRollup.objects.bulk_create(new, batch_size=1000)
    MeterRollup.objects.bulk_update(changed, list(_STATS), batch_size=500)
    return len(new) + len(changed)


def _existing(folded):
    """The rollups already stored for the keys of `folded`, by key."""
    charge_points = {key[0] for key in folded}
    minutes = {key[2] for key in folded}
    stored = MeterRollup.objects.filter(charge_point_id__in=charge_points, minute__in=minutes)
    found = {}
    for rollup in stored:
        key = (rollup.charge_point_id, rollup.connector_id, rollup.minute.astimezone(dt_timezone.utc), rollup.measurand, rollup.phase, rollup.unit)
        if key in folded:
            found[key] = rollup
    return found


def _delete_in_batches(what, rows, batch, report, counter, say):
    while True:
        with transaction.atomic():
            if not _locked():
                return
            ids = list(rows.order_by().values_list("id", flat=True)[:batch])
            deleted, _ = rows.model.objects.filter(id__in=ids).delete()
        report[counter] += deleted
        if deleted:
            say(f"{what}: {report[counter]} deleted")
        if deleted < batch:
            return


def _locked():
    """Inside a transaction: may this process prune now? (PostgreSQL: the advisory lock; other
    databases lock the whole file on write anyway.)"""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
        return cursor.fetchone()[0]


# --- the server process's periodic work -----------------------------------------------------------
def ensure_periodic_tasks():
    """Start this process's hourly prune (called when a charger connects); the first an hour after
    the start (Celery beat prunes hourly too): a restart storm is no time for it."""
    from .periodic import ensure_periodic

    ensure_periodic("meter-retention", PRUNE_INTERVAL, _prune_in_background)


async def _prune_in_background():
    from .hook_runner import in_own_connection

    await asyncio.get_running_loop().run_in_executor(None, in_own_connection, prune)
