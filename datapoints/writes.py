"""Writing element values: one bulk upsert plus history rows, for any number of datapoints.

Both the websocket path (in group-commit batches, see recorder.py) and the operators' path
(dp_set, admin, panel) write through `write_elements`, so history and change events are the same
whichever way a value arrives.
"""
import json
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from .elements import element
from .models import Element, ElementChange, MeterSample


class DpRef(NamedTuple):
    """What the hot path needs to know of a datapoint, without holding a model instance."""

    id: int
    name: str
    dp_type: str


class Change(NamedTuple):
    datapoint: str
    path: str
    value: object
    changed_at: str
    dp_type: str = ""


def ref(datapoint):
    return DpRef(datapoint.id, datapoint.name, datapoint.dp_type)


def write_elements(writes, now=None):
    """Store [(dp, path, value), ...]; call inside a transaction. Returns the Change list.

    A path written twice in one call keeps its last value; both writes go to the history.
    """
    now = now or timezone.now()
    latest = {}
    history = []
    changes = []
    stamp = now.isoformat()
    for dp, path, value in writes:
        spec = element(dp.dp_type, path)
        latest[(dp.id, path)] = value
        if spec.history:
            history.append((dp.id, path, value))
        changes.append(Change(dp.name, path, value, stamp, dp.dp_type))
    if not latest:
        return changes
    if connection.vendor == "postgresql":
        _write_postgres(latest, history, now)
        return changes
    Element.objects.bulk_create(
        [Element(datapoint_id=dp_id, path=path, value=value, changed_at=now) for (dp_id, path), value in latest.items()],
        update_conflicts=True,
        unique_fields=["datapoint", "path"],
        update_fields=["value", "changed_at"],
    )
    ElementChange.objects.bulk_create(ElementChange(datapoint_id=i, path=p, value=v, changed_at=now) for i, p, v in history)
    return changes


# On PostgreSQL the whole batch travels as one JSON parameter and PostgreSQL unpacks it:
# json.dumps runs in C, while Django's bulk_create (UNNEST of arrays) has psycopg dump every
# array element in Python, which was a third of a busy server's CPU (docs/decisions/0006).
# The upsert and the history rows go in one statement (a data-modifying CTE), one round trip.
_WRITE_SQL = f"""
WITH upsert AS (
  INSERT INTO {Element._meta.db_table} (datapoint_id, path, value, changed_at)
  SELECT (e->>0)::bigint, e->>1, e->2, %(now)s FROM jsonb_array_elements(%(latest)s::jsonb) AS e
  ON CONFLICT (datapoint_id, path) DO UPDATE SET value = EXCLUDED.value, changed_at = EXCLUDED.changed_at
)
INSERT INTO {ElementChange._meta.db_table} (datapoint_id, path, value, changed_at)
SELECT (e->>0)::bigint, e->>1, e->2, %(now)s FROM jsonb_array_elements(%(history)s::jsonb) AS e
"""


def _write_postgres(latest, history, now):
    rows = [[dp_id, path, value] for (dp_id, path), value in latest.items()]
    params = {"now": now, "latest": json.dumps(rows, separators=(",", ":")), "history": json.dumps(history, separators=(",", ":"))}
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, params)


_SAMPLE_FIELDS = [f for f in MeterSample._meta.concrete_fields if not f.primary_key]
_RECORDSET_TYPES = {"BigIntegerField": "bigint", "PositiveIntegerField": "bigint", "ForeignKey": "bigint", "FloatField": "double precision"}
_SAMPLE_SQL = "INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS x({types})".format(
    table=MeterSample._meta.db_table,
    columns=", ".join(f.column for f in _SAMPLE_FIELDS),
    types=", ".join(f"{f.column} {_RECORDSET_TYPES.get(f.get_internal_type(), 'text')}" for f in _SAMPLE_FIELDS),
)


def insert_samples(samples):
    """Store MeterSample objects (unsaved) in one statement."""
    if not samples:
        return
    if connection.vendor != "postgresql":
        MeterSample.objects.bulk_create(samples)
        return
    rows = [{f.column: getattr(s, f.attname) for f in _SAMPLE_FIELDS} for s in samples]
    with connection.cursor() as cursor:
        cursor.execute(_SAMPLE_SQL, [json.dumps(rows, separators=(",", ":"))])
