"""The optional charger URL form /ocpp/<site-slug>/<ClientId>: the charger must be in that site (no
charger can pose under another site), and an auto-created one is put into it."""
import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from datapoints import sites
from datapoints.charge_points import find_charge_point
from datapoints.models import Datapoint
from datapoints.paths import set_value

from .chargers import RawCharger, create_charge_point, dp_get

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def site_with(slug, *client_ids):
    site = sites.create_site(slug)
    sites.assign(site, [find_charge_point(c) for c in client_ids])
    return site


async def refused(server, path):
    with pytest.raises(InvalidStatus) as exc:
        await RawCharger.connect(server, path)
    return exc.value.response.status_code


async def test_a_charger_connects_under_its_own_site_only(closed_server):
    await create_charge_point("SITE-URL-1", "Accepted")
    await create_charge_point("SITE-URL-2", "Accepted")
    await site_with("plant-a", "SITE-URL-1")
    await site_with("plant-b", "SITE-URL-2")
    charger = await RawCharger.connect(closed_server, "plant-a/SITE-URL-1")
    answer = await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert answer[2]["status"] == "Accepted"
    await charger.close()
    assert await refused(closed_server, "plant-a/SITE-URL-2") == 404  # it is in plant-b
    assert await refused(closed_server, "no-such-site/SITE-URL-1") == 404
    plain = await RawCharger.connect(closed_server, "SITE-URL-2")  # the plain form still serves it
    await plain.close()


async def test_an_auto_created_charger_lands_in_the_site_of_its_url(server):
    await sync_to_async(sites.create_site)("depot-east")
    charger = await RawCharger.connect(server, "depot-east/SITE-NEW-1")
    answer = await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert answer[2]["status"] == "Pending"
    await charger.close()
    dp = await sync_to_async(find_charge_point)("SITE-NEW-1")
    assert await dp_get(f"{dp.name}.Config.Site") == "depot-east"
    assert (await sync_to_async(lambda: find_charge_point("SITE-NEW-1").site.slug)()) == "depot-east"
    assert await refused(server, "nowhere/SITE-NEW-2") == 404  # no datapoint made for an unknown site
    assert await Datapoint.objects.filter(client_id="SITE-NEW-2").aexists() is False


@sync_to_async
def site_with_defaults(slug, **defaults):
    site = sites.create_site(slug)
    for name, value in defaults.items():
        setattr(site, name, value)
    site.save()
    return site


async def test_a_site_sets_its_own_auto_create_status_and_heartbeat(closed_server):
    await site_with_defaults("open-depot", auto_create=True, new_charge_point_status="Accepted", heartbeat_interval=42)
    charger = await RawCharger.connect(closed_server, "open-depot/SITE-DEF-1")  # auto-create is off elsewhere
    answer = await charger.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"})
    assert answer[2]["status"] == "Accepted" and answer[2]["interval"] == 42
    await charger.close()
    assert await refused(closed_server, "SITE-DEF-2") == 404  # the plain URL keeps the installation's rule
    # Back on the plain URL, a charger of the site still gets the site's interval ...
    again = await RawCharger.connect(closed_server, "SITE-DEF-1")
    assert (await again.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["interval"] == 42
    await again.close()
    # ... unless it has its own.
    name = (await sync_to_async(find_charge_point)("SITE-DEF-1")).name
    await sync_to_async(set_value)(f"{name}.Config.HeartbeatInterval", 77)
    own = await RawCharger.connect(closed_server, "SITE-DEF-1")
    assert (await own.call("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}))[2]["interval"] == 77
    await own.close()


async def test_a_site_can_refuse_unknown_chargers_where_the_installation_creates_them(server):
    await site_with_defaults("closed-depot", auto_create=False)
    assert await refused(server, "closed-depot/SITE-DEF-3") == 404
    assert await Datapoint.objects.filter(client_id="SITE-DEF-3").aexists() is False
