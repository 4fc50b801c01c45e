"""Offline bursts through nginx: a charger that was offline for hours reconnects and sends its
queued transaction messages (StartTransaction, MeterValues, StopTransaction with the hours-old
times of when they happened) back to back: each is stored with the charger's timestamp, in the
order sent, and answered in that order. Runs on both databases."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from asgiref.sync import sync_to_async

from .faults import Charger, serving

pytestmark = pytest.mark.django_db(transaction=True)
READINGS = 12


@pytest.fixture
def cluster(transactional_db, tmp_path):
    yield from serving(tmp_path, ["a"])


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@sync_to_async
def stored(client_id):
    from datapoints.models import MeterSample, Transaction

    tx = Transaction.objects.get(charge_point__client_id=client_id)
    samples = list(MeterSample.objects.filter(transaction_id=tx.pk, measurand="Energy.Active.Import.Register").order_by("id").values_list("timestamp", "value"))
    return tx, samples


async def test_a_burst_of_hours_old_transaction_messages_is_stored_with_the_chargers_times_in_order(cluster):
    charger = Charger(cluster.url("burst-1"), "burst-1")
    await charger.connect()
    charger.reconnecting = False
    await charger.ws.close()  # offline: the charger queues what happens meanwhile
    await asyncio.sleep(0.2)
    began = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=5)
    start = {"connectorId": 1, "idTag": "OFFLINE1", "meterStart": 10_000, "timestamp": stamp(began)}
    queued = asyncio.create_task(charger.call("StartTransaction", start))
    await asyncio.sleep(0.2)
    assert not queued.done() and charger.queued
    charger.reconnecting = True
    await charger.connect()  # boots, then sends its queue
    answer = await queued
    assert charger.connections == 2 and answer[0] == 3, answer
    tx_id = answer[2]["transactionId"]
    times = [began + timedelta(minutes=15 * (i + 1)) for i in range(READINGS)]
    burst = [
        charger.call("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [{"timestamp": stamp(t), "sampledValue": [{"value": str(10_000 + 500 * (i + 1)), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]})
        for i, t in enumerate(times)
    ]
    stopped = began + timedelta(hours=3, minutes=30)
    burst.append(charger.call("StopTransaction", {"transactionId": tx_id, "meterStop": 10_000 + 500 * READINGS + 100, "timestamp": stamp(stopped), "reason": "Local", "idTag": "OFFLINE1"}))
    answers = await asyncio.gather(*burst)  # all sent back to back, none awaited first
    assert all(a[0] == 3 for a in answers), answers
    assert [a[1] for a in answers] == sorted((a[1] for a in answers), key=lambda uid: int(uid.rsplit("-", 1)[1]))
    tx, samples = await stored("burst-1")
    assert tx.started_at == stamp(began) and tx.start_time == began  # the charger's time, not arrival
    assert tx.stopped_at == stamp(stopped) and tx.stop_time == stopped and tx.meter_stop == 10_000 + 500 * READINGS + 100
    assert [ts for ts, _ in samples] == [stamp(t) for t in times]  # every reading, in the charger's order
    assert [float(v) for _, v in samples] == [10_000 + 500 * (i + 1) for i in range(READINGS)]
    print(f"\noffline burst: {READINGS + 1} queued messages, 5 h old, stored in order with the charger's times")
    await charger.close()
