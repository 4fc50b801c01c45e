"""The charge point page (panel/views/charge_point.py): its metering box after a real session."""
import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from ocpp.v16 import call

from .chargers import connected_library_charger, create_charge_point

pytestmark = pytest.mark.django_db(transaction=True)


def page_of(client_id):
    user = User.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client = Client()
    client.force_login(user)
    return client.get(f"/charge-points/{client_id}/").content.decode()


def cell(html, dp, path):
    found = re.search(rf'data-dp="{re.escape(dp)}" data-path="{re.escape(path)}">([^<]*)<', html)
    return found and found.group(1)


async def test_the_metering_box_shows_each_connector_the_totals_and_a_power_chart(server):
    name = await create_charge_point("panel-meter", "Accepted")
    async with connected_library_charger(server, "panel-meter") as cp:
        await cp.boot()
        tx = (await cp.call(call.StartTransaction(connector_id=2, id_tag="T", meter_start=10_000, timestamp="2026-11-21T10:00:00Z"), suppress=False)).transaction_id
        for minute, register, watts in ((1, 10_100, 6000), (2, 10_250, 9000)):
            await cp.call(call.MeterValues(connector_id=2, transaction_id=tx, meter_value=[{"timestamp": f"2026-11-21T10:0{minute}:00Z", "sampledValue": [
                {"value": str(register), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"}, {"value": "55", "measurand": "SoC", "unit": "Percent"}]}]), suppress=False)
    html = await sync_to_async(page_of)("panel-meter")
    assert 'aria-label="Metering"' in html
    assert cell(html, f"{name}-2", "Metering.Power.Active.Import") == "9.0"
    assert cell(html, f"{name}-2", "Metering.Energy.Session") == "0.25"
    assert cell(html, f"{name}-2", "Metering.SoC") == "55.0"
    assert cell(html, name, "Metering.Power.Active.Import") == "9.0"  # the charge point's total row
    assert cell(html, name, "Metering.SoC") is None  # not a charge point figure: no cell
    chart = json.loads(re.search(r'id="power-chart" class="chart" data-series="([^"]*)"', html).group(1).replace("&quot;", '"'))
    assert chart["path"] == "Metering.Power.Active.Import"
    assert [(s["dp"], s["y"]) for s in chart["series"]] == [(f"{name}-2", [6.0, 9.0])]


async def test_a_charger_without_readings_has_no_metering_box(server):
    await create_charge_point("panel-quiet", "Accepted")
    async with connected_library_charger(server, "panel-quiet") as cp:
        await cp.boot()
    html = await sync_to_async(page_of)("panel-quiet")
    assert 'aria-label="Metering"' not in html and "power-chart" not in html
