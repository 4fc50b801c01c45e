"""Change events: after a commit, every written element is announced on the channel layer.

One message per commit goes to the group `dp.changes`:
    {"type": "dp.changed", "changes": {"<datapoint>": [[path, value, time], ...], ...}}
The panel and the change hooks listen to it and filter for what they show. One message per
commit (not per datapoint) keeps the cost flat under group commit: with per-datapoint groups the
in-memory layer's expiry sweep on every send was 10% of a busy server's CPU.
"""
import logging
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)
CHANGES_GROUP = "dp.changes"


def _by_datapoint(changes):
    grouped = defaultdict(list)
    for change in changes:
        grouped[change.datapoint].append([change.path, change.value, change.changed_at])
    return dict(grouped)


def _nobody_listens(layer):
    return isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(CHANGES_GROUP)


async def publish_changes(changes):
    from .change_hooks import dispatch

    try:
        await dispatch(changes)
    except Exception:  # a hook that cannot be started must never fail a stored write
        log.exception("could not start change hooks for %d changes", len(changes))
    layer = get_channel_layer()
    if layer is None or not changes or _nobody_listens(layer):
        return
    try:
        await layer.group_send(CHANGES_GROUP, {"type": "dp.changed", "changes": _by_datapoint(changes)})
    except Exception:  # an event that cannot be published must never fail a stored write
        log.exception("could not publish %d element changes", len(changes))


def publish_changes_sync(changes):
    async_to_sync(publish_changes)(changes)


def publish_on_commit(changes):
    """Publish `changes` when the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: publish_changes_sync(changes))
