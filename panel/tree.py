"""A charge point's page: the tree of the charge point and its connectors, every element with its
value, the time of its last change and a quality.

Quality (as a SCADA shows it):
  good           the value is current
  stale          the charger is disconnected: the value is the last one it sent
  never written  no value yet
Values the central system keeps itself (Config.*, the connection state, command records) are never
stale: they are true whether the charger is connected or not.
"""
from dataclasses import dataclass

from datapoints.elements import ELEMENTS, element
from datapoints.models import Datapoint, Element

GOOD, STALE, NEVER = "good", "stale", "never written"
SERVER_KEPT_PREFIXES = ("Config.", "Commands.", "ClientId", "ConnectorId", "Common.ConnState", "State.Connected", "State.ConnectedSince", "State.DisconnectedSince", "State.ReconnectCount", "State.Node", "State.RemoteAddress", "State.Subprotocol", "State.BadFrameCount")
OPEN_GROUPS = {"Identity", "Status", "State", "Config", "DeviceInfo", "Transaction", "Common", "Metering"}
# Paths without a dot are shown under a group of their own kind.
GROUP_OF_LEAF = {"ClientId": "Identity", "ConnectorId": "Identity", "MeterValues": "Metering"}


def server_kept(path):
    return path.startswith(SERVER_KEPT_PREFIXES)


def quality(path, has_value, connected):
    if not has_value:
        return NEVER
    if not connected and not server_kept(path):
        return STALE
    return GOOD


@dataclass
class ElementRow:
    dp_name: str
    path: str
    kind: str
    meaning: str
    writable: bool
    history: bool
    choices: tuple
    value: object
    changed_at: object
    quality: str

    @property
    def has_value(self):
        return self.quality != NEVER

    @property
    def source(self):
        return "server" if server_kept(self.path) else "charger"


@dataclass
class Group:
    name: str
    rows: list

    @property
    def open(self):
        return self.name in OPEN_GROUPS

    @property
    def written(self):
        return sum(r.has_value for r in self.rows)


@dataclass
class Node:
    dp: Datapoint
    groups: list


def _rows(dp, stored, connected):
    paths = list(ELEMENTS[dp.dp_type]) + sorted(p for p in stored if p not in ELEMENTS[dp.dp_type] and _in_catalogue(dp.dp_type, p))
    for path in paths:
        spec = element(dp.dp_type, path)
        value, changed_at = stored.get(path, (None, None))
        yield ElementRow(dp.name, path, spec.kind, spec.meaning, spec.writable, spec.history, spec.choices, value, changed_at, quality(path, path in stored, connected))


def _in_catalogue(dp_type, path):
    """A stored path the catalogue knows (a family member such as Configuration.<key>)."""
    try:
        element(dp_type, path)
    except KeyError:
        return False
    return True


def _groups(rows):
    groups = {}
    for row in rows:
        name = row.path.split(".")[0]
        groups.setdefault(GROUP_OF_LEAF.get(name, name), []).append(row)
    return [Group(name, rows) for name, rows in groups.items()]


def tree(charge_point):
    """[Node] for the charge point and each of its connectors, from one query."""
    dps = [charge_point] + list(Datapoint.objects.filter(charge_point=charge_point).order_by("connector_id"))
    stored = {dp.id: {} for dp in dps}
    for dp_id, path, value, changed_at in Element.objects.filter(datapoint__in=dps).values_list("datapoint_id", "path", "value", "changed_at"):
        stored[dp_id][path] = (value, changed_at)
    connected = stored[charge_point.id].get("State.Connected", (False,))[0] is True
    return [Node(dp, _groups(_rows(dp, stored[dp.id], connected))) for dp in dps]
