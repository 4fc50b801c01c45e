"""Celery beat's work for the API: tracked commands are kept KEEP_DAYS (the audit log keeps every
command for longer)."""
from celery import shared_task


@shared_task(name="api.tasks.prune_tracked_commands", ignore_result=True)
def prune_tracked_commands():
    from .tracking import prune

    return prune()
