"""Writing element values: one bulk upsert plus history rows, for any number of datapoints.

Both the websocket path (in group-commit batches, see recorder.py) and the operators' path
(dp_set, admin, panel) write through `write_elements`, so history and change events are the same
whichever way a value arrives.
"""
import functools
import json
from datetime import datetime
from datetime import timezone as dt_timezone
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


def write_elements(writes, now=None, also=()):
    """Store [(dp, path, value), ...]; call inside a transaction. Returns the Change list.

    A path written twice in one call keeps its last value; both writes go to the history.
    `also`: more rows to store with them (`Rows`); on PostgreSQL they ride in the same statement.
    """
    also = [rows for rows in also if rows.values]
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
        for rows in also:
            rows.insert()
        return changes
    if connection.vendor == "postgresql":
        _write_postgres(latest, history, now, also)
        return changes
    Element.objects.bulk_create(
        [Element(datapoint_id=dp_id, path=path, value=value, changed_at=now) for (dp_id, path), value in latest.items()],
        update_conflicts=True,
        unique_fields=["datapoint", "path"],
        update_fields=["value", "changed_at"],
    )
    ElementChange.objects.bulk_create(ElementChange(datapoint_id=i, path=p, value=v, changed_at=now) for i, p, v in history)
    for rows in also:
        rows.insert()
    return changes


# On PostgreSQL the whole batch travels as one JSON parameter and PostgreSQL unpacks it:
# json.dumps runs in C, while Django's bulk_create (UNNEST of arrays) has psycopg dump every
# array element in Python, which was a third of a busy server's CPU (docs/decisions/0006).
# The upsert, the history rows and any `also` rows go in one statement (data-modifying CTEs), one
# round trip: on a busy server every round trip from the database thread also waits for the GIL
# (up to sys.getswitchinterval(), 5 ms) before it can go on.
_UPSERT_SQL = f"""
WITH upsert AS (
  INSERT INTO {Element._meta.db_table} (datapoint_id, path, value, changed_at)
  SELECT (e->>0)::bigint, e->>1, e->2, %(now)s FROM jsonb_array_elements(%(latest)s::jsonb) AS e
  ON CONFLICT (datapoint_id, path) DO UPDATE SET value = EXCLUDED.value, changed_at = EXCLUDED.changed_at
)"""
_HISTORY_SQL = f"""
INSERT INTO {ElementChange._meta.db_table} (datapoint_id, path, value, changed_at)
SELECT (e->>0)::bigint, e->>1, e->2, %(now)s FROM jsonb_array_elements(%(history)s::jsonb) AS e
"""


def _write_postgres(latest, history, now, also):
    rows = [[dp_id, path, value] for (dp_id, path), value in latest.items()]
    params = {"now": now, "latest": json.dumps(rows, separators=(",", ":")), "history": json.dumps(history, separators=(",", ":"))}
    riders = []
    for number, extra in enumerate(also):
        name = f"also{number}"
        riders.append(f",\n{name} AS ({array_insert(extra.model, extra.columns, name)})")
        params[name] = extra.json()
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL + "".join(riders) + _HISTORY_SQL, params)


_CASTS = {
    "BigIntegerField": "bigint",
    "PositiveIntegerField": "bigint",
    "PositiveSmallIntegerField": "smallint",
    "ForeignKey": "bigint",
    "FloatField": "double precision",
}


@functools.lru_cache(maxsize=None)
def array_insert(model, columns, param):
    """INSERT of `columns` of `model` from the JSON array of arrays (values in the order of
    `columns`) in the named parameter `param`, unpacked by PostgreSQL. Datetimes travel as epoch
    seconds."""
    values = []
    for i, column in enumerate(columns):
        kind = model._meta.get_field(column).get_internal_type()
        if kind == "DateTimeField":
            values.append(f"to_timestamp((e->>{i})::double precision)")
        elif kind in _CASTS:
            values.append(f"(e->>{i})::{_CASTS[kind]}")
        else:
            values.append(f"e->>{i}")
    return f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM jsonb_array_elements(%({param})s::jsonb) AS e"


class Rows(NamedTuple):
    """Rows of `model` to store with a batch of element writes (`write_elements(..., also=)`):
    `values` are tuples in the order of `columns` (a tuple of column names); datetimes as epoch
    seconds. PostgreSQL gets them as one JSON parameter (`array_insert`); other databases by
    bulk_create."""

    model: type
    columns: tuple
    values: list

    def json(self):
        return json.dumps(self.values, separators=(",", ":"))

    def insert(self):
        """On their own: one statement."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(array_insert(self.model, self.columns, "rows"), {"rows": self.json()})
            return
        times = [i for i, column in enumerate(self.columns) if self.model._meta.get_field(column).get_internal_type() == "DateTimeField"]
        instances = []
        for row in self.values:
            if times:
                row = list(row)
                for i in times:
                    row[i] = datetime.fromtimestamp(row[i], dt_timezone.utc)
            instances.append(self.model(**dict(zip(self.columns, row))))
        self.model.objects.bulk_create(instances)


_SAMPLE_FIELDS = [f for f in MeterSample._meta.concrete_fields if not f.primary_key]
_SAMPLE_TIMES = [i for i, f in enumerate(_SAMPLE_FIELDS) if f.get_internal_type() == "DateTimeField"]
_SAMPLE_COLUMNS = tuple(f.attname for f in _SAMPLE_FIELDS)


def sample_rows(samples):
    """Meter sample rows, each a dict of every MeterSample column by attribute name
    (charge_point_id, ..., received_at), as `Rows` to store with a batch's element writes
    (`write_elements(..., also=)`: on PostgreSQL in the same statement, a round trip fewer)."""
    rows = [[fields[name] for name in _SAMPLE_COLUMNS] for fields in samples]
    for row in rows:  # datetimes travel as epoch seconds (array_insert)
        for i in _SAMPLE_TIMES:
            if row[i] is not None:
                row[i] = row[i].timestamp()
    return Rows(MeterSample, _SAMPLE_COLUMNS, rows)
