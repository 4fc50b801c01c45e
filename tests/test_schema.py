"""Migration 0011 (docs/decisions/0021): the write path's tables carry no index another index
already begins with, history and meter samples no foreign-key constraint in the database, and
deleting a datapoint still takes its rows with it."""
import pytest
from django.db import connection
from django.utils import timezone

from datapoints.charge_points import create_charge_point
from datapoints.models import Datapoint, Element, ElementChange, MessageLogEntry, MeterSample
from datapoints.writes import write_elements

pytestmark = pytest.mark.django_db


def _indexes(model):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name: tuple(c["columns"]) for name, c in constraints.items() if c["index"] or c["unique"]}, constraints


@pytest.mark.parametrize("model, column", [(Element, "datapoint_id"), (ElementChange, "datapoint_id"), (MeterSample, "charge_point_id"), (MessageLogEntry, "charge_point_id")])
def test_no_index_of_its_own_where_another_begins_with_it(model, column):
    indexes, _constraints = _indexes(model)
    assert (column,) not in indexes.values()
    assert any(columns[0] == column and len(columns) > 1 for columns in indexes.values())  # the one that serves


@pytest.mark.parametrize("model, constrained", [(Element, True), (ElementChange, False), (MeterSample, False), (MessageLogEntry, False)])
def test_only_the_elements_keep_a_foreign_key_in_the_database(model, constrained):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's introspection does not name foreign keys the same way")
    _indexes_, constraints = _indexes(model)
    assert any(c["foreign_key"] for c in constraints.values()) is constrained


def test_the_element_table_leaves_room_for_updates_in_place():
    if connection.vendor != "postgresql":
        pytest.skip("fillfactor is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Element._meta.db_table])
        assert cursor.fetchone()[0] == ["fillfactor=50"]


def test_deleting_a_charge_point_takes_its_history_samples_and_log_with_it():
    cp = create_charge_point("SCHEMA-1", "Accepted")
    keep = create_charge_point("SCHEMA-2", "Accepted")
    now = timezone.now()
    for dp in (cp, keep):
        write_elements([(dp, "State.Connected", True), (dp, "State.Connected", False)])
        MeterSample.objects.create(charge_point=dp, connector_id=1, timestamp=now.isoformat(), value="1", received_at=now)
        MessageLogEntry.objects.create(charge_point=dp, at=now, direction="in", message_type=2, action="Heartbeat", payload="{}")
    assert ElementChange.objects.filter(datapoint=cp).count() >= 2
    Datapoint.objects.get(pk=cp.pk).delete()
    for model, field in ((Element, "datapoint_id"), (ElementChange, "datapoint_id"), (MeterSample, "charge_point_id"), (MessageLogEntry, "charge_point_id")):
        assert not model.objects.filter(**{field: cp.pk}).exists(), model.__name__
        assert model.objects.filter(**{field: keep.pk}).exists(), model.__name__
