"""REST API transactions (api/views/transactions.py): list with the panel's filters, one, the
streamed CSV; rights and bad input. Transactions come from real chargers over websockets."""
import asyncio
import csv
import io

import pytest

from .api_client import people
from .chargers import RawCharger

pytestmark = pytest.mark.django_db(transaction=True)


async def sessions_on(server, client_id, runs):
    """Boot `client_id` and run [(connector, tag, stop or None)] -> the transaction ids."""
    charger = await RawCharger.connect(server, client_id)
    await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    ids = []
    for n, (connector, tag, stop) in enumerate(runs):
        start = {"connectorId": connector, "idTag": tag, "meterStart": 1000, "timestamp": f"2026-03-0{n + 1}T10:00:00Z"}
        ids.append((await charger.call("StartTransaction", start))[2]["transactionId"])
        if stop:
            await charger.call("StopTransaction", {"transactionId": ids[-1], "meterStop": stop, "timestamp": f"2026-03-0{n + 1}T11:00:00Z", "reason": "Local"})
    await charger.close()
    return ids


def test_list_filters_detail_csv_and_rights(server):
    p = people(server, "tx-a", "tx-b")
    done, running = asyncio.run(sessions_on(server, "tx-a", [(1, "TAG1", 6000), (2, "TAG2", None)]))
    (other,) = asyncio.run(sessions_on(server, "tx-b", [(1, "TAG1", 2000)]))

    status, body = p["viewer"].get("/api/transactions/")
    assert status == 200 and [t["id"] for t in body["results"]] == [running, done]  # newest first
    first = body["results"][1]
    assert first == {**first, "charge_point": "tx-a", "site": "site-a", "connector_id": 1, "id_tag": "TAG1", "meter_start": 1000, "meter_stop": 6000,
                     "started_at": "2026-03-01T10:00:00Z", "stop_reason": "Local", "state": "closed", "duration_s": 3600}
    assert first["start_time"].startswith("2026-03-01T10:00:00")
    assert [t["id"] for t in p["root"].get("/api/transactions/?tag=TAG1&sort=start")[1]["results"]] == [done, other]
    assert [t["id"] for t in p["root"].get("/api/transactions/?state=open")[1]["results"]] == [running]
    assert [t["id"] for t in p["root"].get("/api/transactions/?site=site-b")[1]["results"]] == [other]
    assert [t["id"] for t in p["root"].get("/api/transactions/?charger=tx-a&since=2026-03-02&until=2026-03-02")[1]["results"]] == [running]
    assert p["root"].get("/api/transactions/?page_size=1")[1]["count"] == 3
    assert p["viewer"].get(f"/api/transactions/{done}/")[1]["id_tag"] == "TAG1"
    assert p["viewer"].get(f"/api/transactions/{other}/") == (404, {"detail": "no such transaction that you may see"})
    assert p["nobody"].get("/api/transactions/")[1]["count"] == 0
    assert p["viewer"].get("/api/transactions/99999999999999999999999999/")[0] == 404

    status, body = p["viewer"].get("/api/transactions/?state=asleep&sort=colour")
    assert status == 400 and set(body) == {"state", "sort"}
    status, body = p["viewer"].get("/api/transactions/?since=last+tuesday")
    assert status == 400 and "is not a time" in body["since"][0]

    status, text, headers = p["viewer"].call("GET", "/api/transactions/csv/?state=closed", raw=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert status == 200 and headers["Content-Type"].startswith("text/csv") and "attachment" in headers["Content-Disposition"]
    assert rows[0][:3] == ["transaction_id", "charger", "datapoint"] and [r[0] for r in rows[1:]] == [str(done)]
    assert p["viewer"].call("GET", "/api/transactions/csv/?until=never", raw=True)[0] == 400
