"""Telling the process that holds a charger's socket about something, from any process.

With Redis: the address book names the consumer's channel; send to it. Without Redis the
in-memory channel layer does not cross processes, so a management command posts the message to
the running server's own local API (`/api/local/notify`), authenticated by a token derived from
SECRET_KEY, and the server delivers it in-process. See docs/decisions/0005-local-api.md.
"""
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from .addresses import address_book

log = logging.getLogger(__name__)
# Set by ocpp_dp.asgi: this process serves websockets and holds its own address book.
IN_SERVER = False


def local_api_token():
    return hmac.new(settings.SECRET_KEY.encode(), b"ocpp-local-api", hashlib.sha256).hexdigest()


async def deliver(client_id, message):
    """Send `message` to the consumer holding `client_id`; False if it is not connected."""
    record = await address_book().lookup(client_id)
    if record is None:
        return False
    await get_channel_layer().send(record["channel"], message)
    return True


def notify_charge_point(client_id, message):
    """From synchronous code (CLI, admin): deliver `message`; False if the charger is offline."""
    if not (settings.REDIS_URL or IN_SERVER):
        return _post_local(client_id, message)
    record = address_book().lookup_sync(client_id)
    if record is None:
        return False
    async_to_sync(get_channel_layer().send)(record["channel"], message)
    return True


def _post_local(client_id, message):
    body = json.dumps({"client_id": client_id, "message": message}).encode()
    request = urllib.request.Request(
        settings.OCPP_LOCAL_API_URL.rstrip("/") + "/api/local/notify",
        data=body,
        headers={"Content-Type": "application/json", "X-OCPP-Token": local_api_token()},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.loads(response.read()).get("delivered", False)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.info("no running server at %s to notify (%s); the change applies at the next connection", settings.OCPP_LOCAL_API_URL, exc)
        return False
