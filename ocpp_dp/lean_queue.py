"""A small queue for the two that every connected charger keeps open for its whole life: Daphne's
input queue (what the websocket sends the application) and its channel's queue in the in-memory
channel layer (messages from other consumers: commands, config writes).

asyncio.Queue holds four deques (its items, getters, putters and an Event's waiters), about 600
bytes each even when empty: about 5 KB per idle charger for the two queues, a sixth of its memory.
Both uses need only put_nowait, get, get_nowait, empty and qsize, with one waiting getter at a time
(more are allowed, and woken in order). Items are few (a frame or a command at a time), so a list
is enough.
"""
import asyncio
import types


class LeanQueue:
    __slots__ = ("_queue", "_maxsize", "_getters")

    def __init__(self, maxsize=0):
        self._queue = []  # the channel layer reads _queue[0] to expire messages
        self._maxsize = maxsize
        self._getters = None  # futures of waiting getters, when there are any

    def qsize(self):
        return len(self._queue)

    def empty(self):
        return not self._queue

    def full(self):
        return 0 < self._maxsize <= len(self._queue)

    def put_nowait(self, item):
        if self.full():
            raise asyncio.QueueFull
        self._queue.append(item)
        self._wake_next()

    def _wake_next(self):
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return

    def get_nowait(self):
        if not self._queue:
            raise asyncio.QueueEmpty
        return self._queue.pop(0)

    async def get(self):
        while not self._queue:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                elif self._queue:  # woken, then cancelled: pass the wake-up on
                    self._wake_next()
                raise
            finally:
                if not self._getters:
                    self._getters = None
        return self._queue.pop(0)


class _AsyncioWithLeanQueues(types.ModuleType):
    """`asyncio` as daphne.server sees it: the same, but its Queue is a LeanQueue."""

    Queue = LeanQueue

    def __getattr__(self, name):
        return getattr(asyncio, name)


def install_in_daphne():
    """Daphne's Server.create_application makes one asyncio.Queue() per connection; make it lean."""
    try:
        from daphne import server
    except ImportError:
        return
    if not isinstance(server.asyncio, _AsyncioWithLeanQueues):
        server.asyncio = _AsyncioWithLeanQueues("asyncio")
