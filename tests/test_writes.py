"""datapoints/writes.py: one call stores the last value of each element and every write of a
history element in the history."""
import pytest

from datapoints.charge_points import create_charge_point
from datapoints.models import Element, ElementChange
from datapoints.writes import write_elements

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

