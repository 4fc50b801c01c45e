"""Celery tasks (`celery -A ocpp_dp worker`). Commands go through datapoints.commands.send_command,
whose synchronous form keeps one event loop per worker process."""
from celery import shared_task

from . import connections
from .commands import CommandRefused, send_command


@shared_task(name="datapoints.tasks.sweep_connections", ignore_result=True)
def sweep_connections():
    return connections.sweep()


@shared_task(name="datapoints.tasks.send_command")
def send_command_task(charge_point, action, payload, timeout=None):
    """Send one command; returns the outcome as a dict (it is recorded in Commands.* either way)."""
    try:
        return send_command(charge_point, action, payload, timeout).as_dict()
    except CommandRefused as exc:
        return {"status": "refused", "error": str(exc)}


@shared_task(name="datapoints.tasks.run_scheduled_command", ignore_result=True)
def run_scheduled_command(scheduled_command_id):
    from .schedules import run_scheduled

    run = run_scheduled(scheduled_command_id)
    return {"targets": run.targets, "answered": run.answered}
