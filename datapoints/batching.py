"""Group work in the database thread: what is submitted while one flush runs is flushed together.

Under light load an item is handled at once; under a storm hundreds share one trip to the
database thread and one transaction. Each submitter gets its own outcome back, after the flush.
The recorder (element writes) and the handshake gate (who may connect) are both built on this.
"""
import asyncio
import logging
import time

from channels.db import database_sync_to_async

from . import metrics
from .events import publish_changes

log = logging.getLogger(__name__)


class GroupRunner:
    """Subclasses implement `_flush(items) -> ([(ok, value), ...], changes)` (database thread)."""

    def __init__(self):
        self._queue = []
        self._flushing = False
        self.flushes = 0
        self.units = 0

    async def submit(self, item):
        """Handle `item` in the next flush; return its value, or raise its exception."""
        return await self.enqueue(item)

    def enqueue(self, item):
        """Queue `item` for the next flush now (in order with everything submitted after it) and
        return the future of its outcome, for a caller that need not wait for it."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._drain())
        return future

    async def _drain(self):
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                items = [item for item, _future in batch]
                started = time.perf_counter()
                try:
                    outcomes, changes = await self._in_database_thread()(items)
                except Exception as exc:  # the database itself failed: every submitter learns it
                    log.exception("%s: flush of %d items failed", type(self).__name__, len(items))
                    outcomes, changes = [(False, exc)] * len(items), []
                self.flushes += 1
                self.units += len(items)
                metrics.flushed(type(self).__name__, len(items), time.perf_counter() - started)
                for (_item, future), (ok, value) in zip(batch, outcomes):
                    if not future.done():
                        future.set_result(value) if ok else future.set_exception(value)
                if changes:
                    asyncio.get_running_loop().create_task(publish_changes(changes))
        finally:
            self._flushing = False

    def _in_database_thread(self):
        """`_flush` as a coroutine function: by default in the process's one database thread
        (Channels' thread-sensitive executor), which the recorder and the gate share."""
        return database_sync_to_async(self._flush)

    def _flush(self, items):
        raise NotImplementedError
