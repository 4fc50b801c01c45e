"""Change events: after a commit, every written element is announced on the channel layer.

Group `dp.<datapoint name>` gets {"type": "dp.changed", "changes": [[path, value, time], ...]}
once per commit and datapoint; group `dp.all` gets the same with the datapoint name, for views
that watch a whole site. The panel and the change hooks listen to these groups.
"""
import logging
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
ALL_GROUP = "dp.all"


def group_name(datapoint_name):
    # Channels group names allow only ASCII alphanumerics, hyphens, underscores and periods.
    return f"dp.{datapoint_name}"


def _by_datapoint(changes):
    grouped = defaultdict(list)
    for change in changes:
        grouped[change.datapoint].append([change.path, change.value, change.changed_at])
    return grouped


async def publish_changes(changes):
    layer = get_channel_layer()
    if layer is None or not changes:
        return
    try:
        for name, items in _by_datapoint(changes).items():
            message = {"type": "dp.changed", "datapoint": name, "changes": items}
            await layer.group_send(group_name(name), message)
            await layer.group_send(ALL_GROUP, message)
    except Exception:  # an event that cannot be published must never fail a stored write
        log.exception("could not publish %d element changes", len(changes))


def publish_changes_sync(changes):
    async_to_sync(publish_changes)(changes)
