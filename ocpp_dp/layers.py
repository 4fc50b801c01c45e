"""The channel layers: in memory (`make run`, no Redis) without its quadratic cost, and Redis
surviving an outage (RedisLayer, below).

Channels' InMemoryChannelLayer scans every channel for expired messages on every `receive`. Each
connected charger's consumer waits in `receive`, so a reconnect storm of N chargers costs N^2
queue checks (5,000 chargers: 25 million). Expiry needs no such precision: scan at most once a
second. Each channel's queue is a LeanQueue (ocpp_dp/lean_queue.py: about 3 KB less per connected
charger), and `receive` no longer builds a queue it throws away when the channel has one.
"""
import asyncio
import logging
import time
from copy import deepcopy

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import decode_hosts
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .lean_queue import LeanQueue

log = logging.getLogger(__name__)
CLEAN_INTERVAL_SECONDS = 1.0
REDIS_RETRY_SECONDS = 1.0


class InMemoryLayer(InMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._last_clean >= CLEAN_INTERVAL_SECONDS:
            self._last_clean = now
            super()._clean_expired()

    def _queue(self, channel):
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = LeanQueue(self.get_capacity(channel))
        return queue

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        try:
            self._queue(channel).put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel)

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self._queue(channel)
        try:
            _, message = await queue.get()
        finally:
            if queue.empty() and self.channels.get(channel) is queue:
                del self.channels[channel]
        return message


class RedisLayer(RedisChannelLayer):
    """channels_redis, surviving a Redis outage. Every consumer of a process waits in `receive` on
    the process's one channel; the waiter holding the receive lock reads Redis for all of them. When
    Redis is unreachable, channels_redis raises in that waiter and the next, so every connected
    charger's consumer died with 1011 within seconds of Redis stopping. Here the read is retried
    until Redis is back: the consumers keep serving their chargers (answers need no Redis), only
    messages between processes wait (commands across nodes fail at once: the address book is in
    Redis too, datapoints/addresses.py)."""

    # channels_redis waits for a message in BZPOPMIN for 5 s; 1 s bounds how long a lost cancel
    # (below) holds a consumer that ends: one idle read a second per process.
    brpop_timeout = 1

    def __init__(self, hosts=None, **kwargs):
        # One retry on a fresh connection: after a Redis restart every pooled connection is stale.
        hosts = [{**host, "retry": Retry(NoBackoff(), 1)} for host in decode_hosts(hosts)]
        super().__init__(hosts=hosts, **kwargs)

    async def _brpop_with_clean(self, index, channel, timeout):
        # A cancel that arrives while redis-py reads the blocking pop is lost (the read goes on and
        # channels_redis pops again, forever): a consumer's cleanup (Channels cancels its receive
        # and awaits it) then never ended. The task still counts the cancel: honour it once the
        # pop came back empty (within brpop_timeout).
        result = await super()._brpop_with_clean(index, channel, timeout)
        task = asyncio.current_task()
        if result is None and task is not None and task.cancelling():
            raise asyncio.CancelledError()
        return result

    async def receive_single(self, channel):
        down_since = None
        while True:
            try:
                received = await super().receive_single(channel)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("Redis unreachable (%s): messages between processes wait; retrying every %.0f s", exc, REDIS_RETRY_SECONDS)
                await asyncio.sleep(REDIS_RETRY_SECONDS)
                continue
            if down_since is not None:
                log.warning("Redis reachable again after %.1f s", time.monotonic() - down_since)
            return received
