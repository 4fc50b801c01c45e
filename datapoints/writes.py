"""Writing element values: one bulk upsert plus history rows, for any number of datapoints.

Both the websocket path (in group-commit batches, see recorder.py) and the operators' path
(dp_set, admin, panel) write through `write_elements`, so history and change events are the same
whichever way a value arrives.
"""
from typing import NamedTuple

from django.utils import timezone

from .elements import ELEMENTS
from .models import Element, ElementChange


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
        Element.objects.bulk_create(
            [Element(datapoint_id=dp_id, path=path, value=value, changed_at=now) for (dp_id, path), value in latest.items()],
            update_conflicts=True,
            unique_fields=["datapoint", "path"],
            update_fields=["value", "changed_at"],
        )
    if history:
        ElementChange.objects.bulk_create(history)
    return changes
