"""Running change hooks after commit: `@on_change("<type>.<path>", to=..., from_=...)`.

Every commit's changes pass through `dispatch` (events.publish_changes). Those on a watched element
go to a Celery worker (`datapoints.tasks.run_change_hooks`), or, without Redis, to this process's
thread pool. The hook gets `(dp, old, new)`: a read-only view of the datapoint, the value before
(from the element's history) and the new value. A value written again unchanged fires nothing.
"""
import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.utils.dateparse import parse_datetime

from . import hook_runner, hooks

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ocpp-change-hook")


async def dispatch(changes):
    watched = hook_runner.watched_changes()
    if not watched:
        return
    selected = [list(c) for c in changes if f"{c.dp_type}.{c.path}" in watched]
    if not selected:
        return
    if settings.REDIS_URL:
        from .tasks import run_change_hooks

        run_change_hooks.delay(selected)
    else:
        asyncio.get_running_loop().run_in_executor(_pool, hook_runner.in_own_connection, run, selected)


def run(changes):
    """[[datapoint, path, value, changed_at, dp_type]]: call every matching hook. Never raises."""
    from .models import Datapoint, ElementChange

    for name, path, new, changed_at, dp_type in changes:
        matching = hooks.change_hooks_for(dp_type, path)
        if not matching:
            continue
        dp = Datapoint.objects.filter(name=name).first()
        if dp is None:
            continue
        before = ElementChange.objects.filter(datapoint=dp, path=path, changed_at__lt=parse_datetime(changed_at)).order_by("-changed_at", "-id").first()
        old = before.value if before else None
        if old == new:
            continue
        for hook in matching:
            if (hook.to is not hooks.ANY and new != hook.to) or (hook.from_ is not hooks.ANY and old != hook.from_):
                continue
            try:
                hook.function(hooks.ChargePointView(dp), old, new)
            except BaseException:  # noqa: B036 - a hook's SoftTimeLimitExceeded too
                log.exception("change hook %s failed on %s.%s (%r -> %r)", hook.name, name, path, old, new)
