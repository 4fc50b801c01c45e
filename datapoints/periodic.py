"""Periodic work in a server process: one task per name, started on first use, running a
function every few seconds: a synchronous one in the database thread, a coroutine function on the
event loop. A failure is logged and the loop goes on."""
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
    run = function if asyncio.iscoroutinefunction(function) else database_sync_to_async(function)
    if not run_first:
        await asyncio.sleep(interval)
    while True:
        try:
            await run()
        except Exception:
            log.exception("periodic %s failed", name)
        await asyncio.sleep(interval)
