"""ASGI entry point: HTTP goes to Django, websockets at /ocpp/<ClientId> to the OCPP consumer."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocpp_dp.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from datapoints.protocol.consumer import ChargePointConsumer, NotFoundConsumer  # noqa: E402
from panel.routing import websocket_urlpatterns as panel_websockets  # noqa: E402

from .autobahn_tuning import install as install_autobahn_tuning  # noqa: E402
from .daphne_denial import install as install_denial  # noqa: E402
from .graceful_stop import install as install_graceful_stop  # noqa: E402
from .lean_queue import install_in_daphne as install_lean_queues  # noqa: E402
from .proxy import TrustedProxyMiddleware  # noqa: E402

install_denial()
install_autobahn_tuning()
install_lean_queues()  # Daphne's per-connection input queue
install_graceful_stop()  # SIGTERM: drain, close sockets with 1001, exit

import datapoints.notify  # noqa: E402

datapoints.notify.IN_SERVER = True

from django.conf import settings  # noqa: E402

if not settings.REDIS_URL:  # no Celery worker: hooks run in this process (with Redis, in workers)
    from datapoints.hooks import load_hook_modules  # noqa: E402

    load_hook_modules()

# Proxy headers count only from OCPP_TRUSTED_PROXIES (Daphne's --proxy-headers believes anyone).
application = TrustedProxyMiddleware(ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            # /ocpp/<site-slug>/<ClientId> (optional form: the charger must be in that site, and an
            # auto-created one is put there) before /ocpp/<ClientId>.
            [re_path(r"^ocpp/(?P<site>[-a-zA-Z0-9_]+)/(?P<client_id>[^/]+)$", ChargePointConsumer.as_asgi())]
            + [re_path(r"^ocpp/(?P<client_id>.+)$", ChargePointConsumer.as_asgi())]
            + panel_websockets
            + [re_path(r"", NotFoundConsumer.as_asgi())]
        ),
    }
))

from .gc_tuning import install as install_gc_tuning  # noqa: E402

install_gc_tuning()  # last: what exists now lives as long as the process
