"""datapoints/protocol/handshake.Gate: on PostgreSQL handshakes are decided on a thread and a
connection of their own, not between the recorder's commits (docs/decisions/0022)."""
import asyncio
import time

import pytest
from django.db import connection

from datapoints.charge_points import create_charge_point
from datapoints.protocol.handshake import Gate, Request
from datapoints.recorder import Recorder

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_handshake_is_decided_while_the_recorder_is_busy():
    await asyncio.to_thread(create_charge_point, "GATE-1", "Accepted")
    recorder, gate = Recorder(), Gate()

    def slow_unit(work):
        time.sleep(1.0)  # a long commit, as in a storm

    busy = asyncio.ensure_future(recorder.submit(slow_unit))
    await asyncio.sleep(0.1)  # the recorder's thread is in the unit now
    started = time.monotonic()
    decision = await asyncio.wait_for(gate.decide(Request("GATE-1", "127.0.0.1")), 5)
    waited = time.monotonic() - started
    await busy
    assert decision.status == 0 and decision.session.client_id == "GATE-1"
    if connection.vendor == "postgresql":
        assert waited < 0.8, f"the handshake waited {waited:.2f} s for the recorder"
        assert gate._executor is not None
    else:  # SQLite takes one writer at a time: the gate shares the recorder's thread and waits
        assert waited >= 0.8 and gate._executor is None
