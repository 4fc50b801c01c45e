"""The panel's live feed: the websocket at /ws/panel/ forwards element changes to the browser,
only those of charge points the user may see.

It listens to the `dp.changes` group (datapoints/events.py: one message per commit, every
datapoint written in it). A connector's changes belong to its charge point
(`_ChargePoint0001-1` -> `_ChargePoint0001`). The set of visible charge points is read at connect
and read again when a change names a charge point not in it (a new charger, or one moved to a
site) or moves a charge point between sites (`Config.Site`); names the user may not see are
remembered for a few seconds so a storm of new chargers costs one query per few seconds.
"""
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from datapoints import access
from datapoints.events import CHANGES_GROUP

DENIED_SECONDS = 5.0


def charge_point_name(datapoint_name):
    return datapoint_name.split("-", 1)[0]


class PanelConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.accept()  # then close with a code the page understands: "log in again"
            await self.close(code=4401)
            return
        self.visible = set() if self.user.is_superuser else await self._load_visible()
        self.denied_until = 0.0
        await self.channel_layer.group_add(CHANGES_GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user": self.user.get_username()})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(CHANGES_GROUP, self.channel_name)

    @database_sync_to_async
    def _load_visible(self):
        return access.visible_names(self.user)

    async def dp_changed(self, message):
        changes = message["changes"]
        if self.user.is_superuser:  # sees every charge point, new ones too
            await self.send_json({"type": "changes", "changes": changes})
            return
        if self._needs_reload(changes):
            self.visible = await self._load_visible()
            self.denied_until = time.monotonic() + DENIED_SECONDS
        mine = {name: rows for name, rows in changes.items() if charge_point_name(name) in self.visible}
        if mine:
            await self.send_json({"type": "changes", "changes": mine})

    def _needs_reload(self, changes):
        moved = any(row[0] == "Config.Site" for rows in changes.values() for row in rows)
        if moved:
            return True
        unseen = any(charge_point_name(name) not in self.visible for name in changes)
        return unseen and time.monotonic() > self.denied_until
