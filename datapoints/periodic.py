"""Periodic work in a server process: one task per name, started on first use, running a
synchronous (database) function every few seconds; a failure is logged and the loop goes on."""
import asyncio
import logging

from channels.db import database_sync_to_async

log = logging.getLogger(__name__)
_tasks = {}


def ensure_periodic(name, interval, function, run_first=False):
    task = _tasks.get(name)
    if task is None or task.done():
        _tasks[name] = asyncio.get_running_loop().create_task(_forever(name, interval, function, run_first))


async def _forever(name, interval, function, run_first):
    if not run_first:
        await asyncio.sleep(interval)
    while True:
        try:
            await database_sync_to_async(function)()
        except Exception:
            log.exception("periodic %s failed", name)
        await asyncio.sleep(interval)
