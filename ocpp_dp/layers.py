"""The in-memory channel layer (`make run`, no Redis), without its quadratic cost.

Channels' InMemoryChannelLayer scans every channel for expired messages on every `receive`. Each
connected charger's consumer waits in `receive`, so a reconnect storm of N chargers costs N^2
queue checks (5,000 chargers: 25 million). Expiry needs no such precision: scan at most once a
second.
"""
import time

from channels.layers import InMemoryChannelLayer

CLEAN_INTERVAL_SECONDS = 1.0


class InMemoryLayer(InMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._last_clean >= CLEAN_INTERVAL_SECONDS:
            self._last_clean = now
            super()._clean_expired()
