"""Writing element values: one bulk upsert plus history rows, for any number of datapoints.

Both the websocket path (in group-commit batches, see recorder.py) and the operators' path
(dp_set, admin, panel) write through `write_elements`, so history and change events are the same
whichever way a value arrives.
"""
import json
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from .elements import ELEMENTS
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
        spec = ELEMENTS[dp.dp_type][path]
        latest[(dp.id, path)] = value
        if spec.history:
            history.append(ElementChange(datapoint_id=dp.id, path=path, value=value, changed_at=now))
        changes.append(Change(dp.name, path, value, stamp))
    if latest:
        if connection.vendor == "postgresql":
            _upsert_postgres(latest, now)
        else:
            Element.objects.bulk_create(
                [Element(datapoint_id=dp_id, path=path, value=value, changed_at=now) for (dp_id, path), value in latest.items()],
                update_conflicts=True,
                unique_fields=["datapoint", "path"],
                update_fields=["value", "changed_at"],
            )
    if history:
        ElementChange.objects.bulk_create(history)
    return changes


# On PostgreSQL the whole batch travels as one JSON parameter and PostgreSQL unpacks it:
# json.dumps runs in C, while Django's bulk_create (UNNEST of arrays) has psycopg dump every
# array element in Python, which was a third of a busy server's CPU (docs/decisions/0006).
_UPSERT_SQL = f"""
INSERT INTO {Element._meta.db_table} (datapoint_id, path, value, changed_at)
SELECT (e->>0)::bigint, e->>1, e->2, %s FROM jsonb_array_elements(%s::jsonb) AS e
ON CONFLICT (datapoint_id, path) DO UPDATE SET value = EXCLUDED.value, changed_at = EXCLUDED.changed_at
"""


def _upsert_postgres(latest, now):
    rows = [[dp_id, path, value] for (dp_id, path), value in latest.items()]
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL, [now, json.dumps(rows, separators=(",", ":"))])


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
