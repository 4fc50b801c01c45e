"""Where is a charger connected? ClientId -> (channel name, connection epoch).

With REDIS_URL the record lives in Redis with a TTL that the holding process refreshes, so any
process on any node can find the consumer that holds a charger, and a dead node's records
vanish by themselves. Without Redis (one process, `make run`) it is a dict in this process.

Last connection wins: `claim` returns the previous holder so it can be told to close, and
`release` deletes the record only if it still carries the caller's epoch.

Through a Redis outage the chargers stay connected (the consumers do not need Redis to answer
them): a charger that connects meanwhile is held without a record, a release is taken as done,
and the refresher writes every record this process holds again once Redis is back (a Redis
without persistence comes back empty). Until then commands cannot find the chargers.
"""
import asyncio
import json
import logging
import time
import uuid

from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.retry import Retry as SyncRetry
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY_PREFIX = "ocpp:addr:"
REWRITTEN_SINCE = "ocpp:addr-since"  # when the holders began writing into this Redis (see settled_sync)

# KEYS[1] = record, ARGV[1] = epoch: delete / refresh only our own record; the refresh writes it
# again (ARGV[3]) when it is gone, e.g. after Redis restarted empty.
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['epoch'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REFRESH = """
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[2]) return 2 end
if cjson.decode(v)['epoch'] == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def new_epoch():
    return uuid.uuid4().hex


class LocalAddressBook:
    def __init__(self):
        self.records = {}

    async def claim(self, client_id, channel_name, epoch):
        previous = self.records.get(client_id)
        self.records[client_id] = {"channel": channel_name, "epoch": epoch}
        return previous

    async def release(self, client_id, epoch):
        record = self.records.get(client_id)
        if record and record["epoch"] == epoch:
            del self.records[client_id]
            return True
        return False

    async def lookup(self, client_id):
        return self.records.get(client_id)

    def lookup_sync(self, client_id):
        return self.records.get(client_id)

    def settled_sync(self):
        return True


class RedisAddressBook:
    def __init__(self, url, ttl):
        self.url = url
        self.ttl = ttl
        self._clients = {}  # event loop -> client: a redis.asyncio client belongs to one loop
        self._sync_client = None
        self.local = {}  # ClientId -> (epoch, record): the records this process holds, refreshed periodically
        self._refresher = None

    @property
    def client(self):
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio

            for old in [old for old in self._clients if old.is_closed()]:
                del self._clients[old]
            # A pool that waits for a free connection: redis-py's default raises past 100, which a
            # reconnect storm's claims and releases exceed.
            # One retry on a fresh connection: after a Redis restart every pooled connection is stale.
            pool = redis.asyncio.BlockingConnectionPool.from_url(self.url, max_connections=200, timeout=30, retry=Retry(NoBackoff(), 1))
            client = self._clients[loop] = redis.asyncio.Redis(connection_pool=pool)
        return client

    def _ensure_refresher(self):
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self):
        while True:
            await asyncio.sleep(self._refresh_interval())
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.set(REWRITTEN_SINCE, time.time(), nx=True)
                    for client_id, (epoch, record) in list(self.local.items()):
                        pipe.eval(_REFRESH, 1, KEY_PREFIX + client_id, epoch, self.ttl, record)
                    await pipe.execute()
            except Exception:
                log.exception("could not refresh %d address records", len(self.local))

    async def claim(self, client_id, channel_name, epoch):
        self._ensure_refresher()
        record = json.dumps({"channel": channel_name, "epoch": epoch})
        self.local[client_id] = (epoch, record)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.set(REWRITTEN_SINCE, time.time(), nx=True)
                pipe.set(KEY_PREFIX + client_id, record, ex=self.ttl, get=True)
                _marked, previous = await pipe.execute()
        except RedisError as exc:
            log.warning("%s connected while Redis is unreachable (%s): its address record is written when Redis is back", client_id, exc)
            return None
        return json.loads(previous) if previous else None

    async def release(self, client_id, epoch):
        ours = self.local.get(client_id, (None,))[0] == epoch
        if ours:
            del self.local[client_id]
        try:
            return bool(await self.client.eval(_RELEASE, 1, KEY_PREFIX + client_id, epoch))
        except RedisError as exc:
            log.warning("%s disconnected while Redis is unreachable (%s); its record expires by itself", client_id, exc)
            return ours

    async def lookup(self, client_id):
        record = await self.client.get(KEY_PREFIX + client_id)
        return json.loads(record) if record else None

    def lookup_sync(self, client_id):
        record = self._sync().get(KEY_PREFIX + client_id)
        return json.loads(record) if record else None

    def settled_sync(self):
        """Whether a missing record means a charger is held by nobody. Every claim and refresh
        marks the data set (REWRITTEN_SINCE) unless it is marked already; a Redis that restarted
        empty has no mark and no records until the holders' refreshers ran, so a sweep waits for
        the mark and one refresh interval after it."""
        since = self._sync().get(REWRITTEN_SINCE)
        return since is not None and time.time() - float(since) >= self._refresh_interval() + 1

    def _refresh_interval(self):
        return max(1, self.ttl // 3)

    def _sync(self):
        if self._sync_client is None:
            import redis

            # redis-py's default retries back off for seconds: a sweep caught by an outage then
            # finished against the Redis that came back empty. Fail at once (one retry: stale).
            self._sync_client = redis.from_url(self.url, retry=SyncRetry(NoBackoff(), 1))
        return self._sync_client


_book = None


def address_book():
    global _book
    if _book is None:
        if settings.REDIS_URL:
            _book = RedisAddressBook(settings.REDIS_URL, settings.OCPP_ADDRESS_TTL)
        else:
            _book = LocalAddressBook()
    return _book
