"""Websocket routes of the panel: the live feed (panel/live.py). The socket needs the login (the
session cookie) and a page of our own origin (ALLOWED_HOSTS)."""
from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from .live import PanelConsumer

websocket_urlpatterns = [re_path(r"^ws/panel/$", AllowedHostsOriginValidator(AuthMiddlewareStack(PanelConsumer.as_asgi())))]
