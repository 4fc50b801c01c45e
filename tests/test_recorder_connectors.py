"""New connectors are created together, before a batch's units run (datapoints/recorder.py,
protocol/session.create_needed_connectors): a storm of new chargers' StatusNotifications costs one
statement per batch, not two round trips per connector; a batch that rolls back leaves no
connector its sessions believe in."""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datapoints.charge_points import create_charge_point, create_connectors, find_charge_point
from datapoints.elements import CONNECTOR
from datapoints.models import Datapoint, Element
from datapoints.protocol.handlers import HANDLERS
from datapoints.protocol.handshake import Request, decide_many
from datapoints.recorder import Recorder, Work
from datapoints.writes import ref

from .chargers import RawCharger, dp_get
from .conftest import _serving


def _sessions(*client_ids):
    for client_id in client_ids:
        create_charge_point(client_id, "Accepted")
    decisions, _changes = decide_many([Request(c, "127.0.0.1") for c in client_ids])
    return [d.session for d in decisions]


def _status(session, connector_id, status="Available"):
    payload = {"connectorId": connector_id, "errorCode": "NoError", "status": status}
    return Work(lambda w: HANDLERS["StatusNotification"](w, session, payload), session, (connector_id,))


def _connectors():
    return sorted(Datapoint.objects.filter(dp_type=CONNECTOR).values_list("name", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_batch_creates_all_its_new_connectors_in_one_statement():
    a, b = _sessions("batch-a", "batch-b")
    units = [_status(a, 1), _status(a, 2), _status(b, 1), _status(b, 2)]
    with CaptureQueriesContext(connection) as queries:
        outcomes, _changes = Recorder()._commit(units, timezone.now())
    assert [ok for ok, _answer in outcomes] == [True] * 4
    inserts = [q["sql"] for q in queries if q["sql"].startswith(f"INSERT INTO {Datapoint._meta.db_table}")]
    assert len(inserts) == 1
    assert _connectors() == [f"{a.cp.name}-1", f"{a.cp.name}-2", f"{b.cp.name}-1", f"{b.cp.name}-2"]
    for session in (a, b):
        assert sorted(session.connectors) == [1, 2] and session.uncommitted_connectors == []
        connector = session.connectors[2]
        stored = dict(Element.objects.filter(datapoint_id=connector.id).values_list("path", "value"))
        assert (stored["ConnectorId"], stored["Transaction.CurrentTransactionId"], stored["Status.status"]) == (2, 0, "Available")


@pytest.mark.django_db(transaction=True)
def test_a_connector_that_exists_is_found_not_created_again():
    _sessions("exists-a")
    cp = ref(find_charge_point("exists-a"))
    refs, _writes = create_connectors([(cp, 3)])
    existing = refs[(cp.id, 3)]
    refs, writes = create_connectors([(cp, 3), (cp, 4)])
    assert refs[(cp.id, 3)] == existing
    assert [(dp.name, path) for dp, path, _value in writes] == [(f"{cp.name}-4", "ConnectorId"), (f"{cp.name}-4", "Transaction.CurrentTransactionId")]
    assert _connectors() == [f"{cp.name}-3", f"{cp.name}-4"]


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_rolls_back_leaves_no_connector_behind_in_its_sessions():
    (session,) = _sessions("rollback-a")

    def broken(work):
        raise DatabaseError("the database went away")

    with pytest.raises(DatabaseError):
        Recorder()._commit([_status(session, 1), Work(broken)], timezone.now())
    assert _connectors() == [] and session.connectors == {} and session.uncommitted_connectors == []
    # A connector the handler itself created (no declared need) is forgotten as well.
    undeclared = Work(lambda w: HANDLERS["StatusNotification"](w, session, {"connectorId": 2, "errorCode": "NoError", "status": "Available"}), session)
    with pytest.raises(DatabaseError):
        Recorder()._commit([undeclared, Work(broken)], timezone.now())
    assert _connectors() == [] and session.connectors == {}
    # The recorder's retry, unit by unit, then stores the good unit with its connector.
    outcomes, _changes = Recorder()._flush([_status(session, 1), Work(broken)])
    assert outcomes[0] == (True, {}) and outcomes[1][0] is False
    assert _connectors() == [f"{session.cp.name}-1"] and list(session.connectors) == [1]
    assert Element.objects.get(datapoint_id=session.connectors[1].id, path="Status.status").value == "Available"


@pytest.fixture
def accepting_server(servers, transactional_db, settings):
    """Auto-create on, new chargers Accepted (a site after a power cut, none of them known yet)."""
    yield from _serving(servers, settings, OCPP_AUTO_CREATE_CHARGE_POINTS=1, OCPP_NEW_CHARGE_POINT_STATUS="Accepted")


async def test_many_new_chargers_at_once_get_every_connector(accepting_server):
    """Chargers nobody created (auto-create), all at once, each naming two connectors."""
    server = accepting_server

    async def one(n):
        charger = await RawCharger.connect(server, f"NEWCON-{n}")
        await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
        answers = [await charger.call("StatusNotification", {"connectorId": c, "errorCode": "NoError", "status": "Available"}) for c in (1, 2)]
        await charger.close()
        return answers

    for answers in await asyncio.gather(*(one(n) for n in range(40))):
        assert answers == [[3, "1", {}], [3, "1", {}]]
    for n in range(40):
        name = (await sync_to_async(find_charge_point)(f"NEWCON-{n}")).name
        for c in (1, 2):
            assert (await dp_get(f"{name}-{c}.ConnectorId"), await dp_get(f"{name}-{c}.Status.status")) == (c, "Available")
        assert await dp_get(f"{name}.State.NumberOfConnectors") == 2
