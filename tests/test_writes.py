"""datapoints/writes.py: one call stores the last value of each element, every write of a history
element in the history, and the rows that ride with them."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datapoints.charge_points import create_charge_point
from datapoints.models import Element, ElementChange, MessageLogEntry, MeterSample
from datapoints.writes import Rows, sample_rows, write_elements

pytestmark = pytest.mark.django_db


def test_an_element_written_twice_keeps_the_last_value_and_both_in_its_history():
    cp = create_charge_point("WRITES-1", "Accepted")
    other = create_charge_point("WRITES-2", "Accepted")
    before = ElementChange.objects.count()
    changes = write_elements([
        (cp, "Status.status", "Charging"),
        (other, "Status.status", "Faulted"),
        (cp, "Requests.Heartbeat.Request", {}),  # an element without history
        (cp, "Status.status", "Finishing"),
    ])
    assert [(c.datapoint, c.path, c.value) for c in changes][-1] == (cp.name, "Status.status", "Finishing")
    values = dict(Element.objects.filter(datapoint__in=[cp, other], path="Status.status").values_list("datapoint_id", "value"))
    assert values == {cp.id: "Finishing", other.id: "Faulted"}
    history = list(ElementChange.objects.filter(id__gt=0).order_by("id").values_list("datapoint_id", "path", "value"))[before:]
    assert history == [(cp.id, "Status.status", "Charging"), (other.id, "Status.status", "Faulted"), (cp.id, "Status.status", "Finishing")]
    assert Element.objects.get(datapoint=cp, path="Requests.Heartbeat.Request").value == {}



def test_samples_and_frames_ride_with_the_writes():
    """The recorder stores a batch's meter samples and logged frames with its element writes: on
    PostgreSQL in the same statement (one round trip), times exact to the microsecond."""
    cp = create_charge_point("WRITES-3", "Accepted")
    now = timezone.now()
    sample = {f.attname: None for f in MeterSample._meta.concrete_fields if not f.primary_key}
    sample.update(charge_point_id=cp.id, connector_id=1, timestamp=now.isoformat(), measurand="Power.Active.Import", phase="", unit="W", location="Outlet", context="Sample.Periodic", format="Raw", value="7400", value_number=7400.0, received_at=now)
    frame = Rows(MessageLogEntry, ("charge_point_id", "at", "direction", "message_type", "unique_id", "action", "payload"), [(cp.id, now.timestamp(), "in", 2, "7", "Heartbeat", "{}")])
    with CaptureQueriesContext(connection) as queries:
        write_elements([(cp, "State.LastHeartbeat", now.isoformat())], now, also=[sample_rows([sample]), frame])
    if connection.vendor == "postgresql":
        assert len(queries) == 1
    stored = MeterSample.objects.get(charge_point=cp)
    assert (stored.value_number, stored.received_at, stored.timestamp, stored.measurand) == (7400.0, now, now.isoformat(), "Power.Active.Import")
    assert MessageLogEntry.objects.get(charge_point_id=cp.id).at == now
    assert Element.objects.get(datapoint=cp, path="State.LastHeartbeat").value == now.isoformat()
