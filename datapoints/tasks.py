"""Celery tasks (`celery -A ocpp_dp worker`). Commands go through datapoints.commands.send_command,
whose synchronous form keeps one event loop per worker process."""
import logging

from celery import shared_task
from celery.signals import worker_init, worker_shutdown
from django.conf import settings

from . import connections
from .commands import CommandRefused, send_command

log = logging.getLogger(__name__)


@shared_task(name="datapoints.tasks.sweep_connections", ignore_result=True)
def sweep_connections():
    return connections.sweep()


@shared_task(name="datapoints.tasks.prune_message_log", ignore_result=True)
def prune_message_log():
    from .messagelog import prune

    return prune()


@shared_task(name="datapoints.tasks.expire_reservations", ignore_result=True)
def expire_reservations():
    from .reservations import expire_overdue

    return expire_overdue()


@shared_task(name="datapoints.tasks.send_command")
def send_command_task(charge_point, action, payload, timeout=None):
    """Send one command; returns the outcome as a dict (it is recorded in Commands.* either way)."""
    try:
        return send_command(charge_point, action, payload, timeout).as_dict()
    except CommandRefused as exc:
        return {"status": "refused", "error": str(exc)}


@shared_task(name="datapoints.tasks.run_scheduled_command", ignore_result=True)
def run_scheduled_command(scheduled_command_id):
    from .models import ScheduledCommand
    from .schedules import run_scheduled

    try:
        run = run_scheduled(scheduled_command_id)
    except ScheduledCommand.DoesNotExist:  # deleted after beat sent this run: nothing to do
        log.info("scheduled command %s was deleted before its run; skipped", scheduled_command_id)
        return {"targets": 0, "answered": 0, "skipped": "deleted"}
    return {"targets": run.targets, "answered": run.answered}


@worker_init.connect
def load_hooks(**_kwargs):
    """A worker loads the hook modules and tells Daphne which request hooks exist."""
    from . import hook_runner, hooks

    hooks.load_hook_modules()
    if settings.REDIS_URL:
        hook_runner.publish_registry()


@shared_task(
    name="datapoints.tasks.run_request_hook",
    ignore_result=True,
    soft_time_limit=settings.OCPP_HOOK_TIMEOUT + 1,
    time_limit=settings.OCPP_HOOK_TIMEOUT + 5,
)
def run_request_hook(action, request, dp_id, default, reply_channel, correlation_id):
    from channels.layers import get_channel_layer

    from .commands import run_sync
    from .hook_runner import run_hook

    result = run_hook(action, request, dp_id, default)
    run_sync(get_channel_layer().send, reply_channel, {"type": "ocpp.hook.result", "correlation_id": correlation_id, "result": result})


@worker_shutdown.connect
def unpublish_hooks(**_kwargs):
    if settings.REDIS_URL:
        from .hook_runner import unpublish_registry

        unpublish_registry()


@shared_task(
    name="datapoints.tasks.run_change_hooks",
    ignore_result=True,
    soft_time_limit=settings.OCPP_HOOK_TIMEOUT * 4,
    time_limit=settings.OCPP_HOOK_TIMEOUT * 4 + 5,
)
def run_change_hooks(changes):
    from .change_hooks import run

    run(changes)


@shared_task(name="datapoints.tasks.check_offline_alarms", ignore_result=True)
def check_offline_alarms():
    from .alarms import check_offline

    return check_offline()


@shared_task(name="datapoints.tasks.prune_meter_samples", ignore_result=True)
def prune_meter_samples():
    from .retention import prune

    return dict(prune())


@shared_task(name="datapoints.tasks.after_session_change", ignore_result=True)
def after_session_change(site_id=None, charge_point=None):
    """A session started or stopped (or a site limit changed): apply the charger's max current again
    and share the site's among its charging connectors (datapoints/charging/site_limit.py)."""
    from .charging.site_limit import after_session
    from .commands import run_sync

    return run_sync(after_session, site_id, charge_point)
