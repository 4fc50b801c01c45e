"""Websocket routes of the panel (live values). Empty until the panel's live view lands."""
websocket_urlpatterns = []
