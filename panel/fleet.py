"""The fleet overview's data: one row per charge point, the counts, the filters.

Rows are built from a few element paths of the charge points and their connectors, fetched in one
query for the whole page. The state a row shows combines connection and registration, as WinCC OA's
plug icon does; colour goes only to what is abnormal (offline, faulted, pending).
"""
from dataclasses import dataclass, field

from django.db.models import Count, Q

from datapoints.models import Alarm, Datapoint, Element, UnknownChargePoint

ROW_LIMIT = 500
CP_PATHS = [
    "Config.RegistrationStatus",
    "State.RegistrationStatus",
    "State.Connected",
    "State.LastHeartbeat",
    "State.DisconnectedSince",
    "DeviceInfo.chargePointVendor",
    "DeviceInfo.chargePointModel",
    "Status.status",
    "Status.errorCode",
    "Metering.Power.Active.Import",
    "Alarms.Count",  # not shown in the row; its change refreshes the counts (alarms)
]
CONNECTOR_PATHS = ["Status.status", "Status.errorCode", "MeterValues", "Metering.Power.Active.Import"]
# Element changes that alter what a row shows beyond a single cell: the panel re-renders the row.
ROW_PATHS = sorted(set(CP_PATHS + CONNECTOR_PATHS) - {"State.LastHeartbeat"})
FAULT_STATUSES = {"Faulted"}
CHARGING_STATUSES = {"Charging"}


@dataclass
class Connector:
    connector_id: int
    name: str
    status: str = ""
    error_code: str = ""
    power_kw: float = None

    @property
    def faulted(self):
        return self.status in FAULT_STATUSES or self.error_code not in ("", "NoError")


@dataclass
class Row:
    dp: Datapoint
    values: dict
    connectors: list = field(default_factory=list)

    @property
    def connected(self):
        return self.values.get("State.Connected") is True

    @property
    def registration(self):
        return self.values.get("Config.RegistrationStatus") or ""

    @property
    def pending(self):
        return self.registration == "Pending"

    @property
    def faulted(self):
        """A connected charger reporting a fault (an offline one's statuses are only the last known)."""
        own = self.values.get("Status.status") in FAULT_STATUSES or self.values.get("Status.errorCode") not in (None, "", "NoError")
        return self.connected and (own or any(c.faulted for c in self.connectors))

    @property
    def charging(self):
        return self.connected and any(c.status in CHARGING_STATUSES for c in self.connectors)

    @property
    def state(self):
        """(css class, text): the plug icon's meaning."""
        if not self.connected:
            return "offline", f"Offline · {self.registration}" if self.registration else "Offline"
        if self.registration == "Accepted" and self.values.get("State.RegistrationStatus") == "Accepted":
            return "online", "Online · Accepted"
        if self.registration == "Accepted":
            return "online", "Online · Accepted (boot pending)"
        return self.registration.lower() or "online", f"Online · {self.registration}"

    @property
    def alarm(self):
        """The most severe abnormal state, for the row's colour: faulted > offline > pending > ''."""
        if self.faulted:
            return "faulted"
        if not self.connected:
            return "offline"
        if self.pending:
            return "pending"
        return ""

    @property
    def power_kw(self):
        own = self.values.get("Metering.Power.Active.Import")
        if isinstance(own, (int, float)):
            return own
        known = [c.power_kw for c in self.connectors if c.power_kw is not None]
        return round(sum(known), 2) if known else None


def power_kw(meter_values):
    """kW from the last meterValue's Power.Active.Import readings (phases summed), or None."""
    if not isinstance(meter_values, list) or not meter_values:
        return None
    last = meter_values[-1] if isinstance(meter_values[-1], dict) else {}
    total, seen = 0.0, False
    for sample in last.get("sampledValue") or []:
        if not isinstance(sample, dict) or sample.get("measurand") != "Power.Active.Import" or sample.get("phase") == "N":
            continue
        try:
            value = float(sample.get("value"))
        except (TypeError, ValueError):
            continue
        total += value if (sample.get("unit") or "W").lower() == "kw" else value / 1000
        seen = True
    return round(total, 2) if seen else None


def rows(charge_points):
    """Row objects for a list of charge point datapoints, from two queries."""
    charge_points = list(charge_points)
    by_id = {dp.id: Row(dp, {}) for dp in charge_points}
    for dp_id, path, value in Element.objects.filter(datapoint_id__in=by_id, path__in=CP_PATHS).values_list("datapoint_id", "path", "value"):
        by_id[dp_id].values[path] = value
    connectors = {}
    for cp_id, conn_id, name, path, value in Element.objects.filter(datapoint__charge_point_id__in=by_id, path__in=CONNECTOR_PATHS).values_list(
        "datapoint__charge_point_id", "datapoint__connector_id", "datapoint__name", "path", "value"
    ):
        connector = connectors.setdefault((cp_id, conn_id), Connector(conn_id, name))
        if path == "Status.status":
            connector.status = value or ""
        elif path == "Status.errorCode":
            connector.error_code = value or ""
        elif path == "Metering.Power.Active.Import" and isinstance(value, (int, float)):
            connector.power_kw = value
        elif path == "MeterValues" and connector.power_kw is None:
            connector.power_kw = power_kw(value)
    for (cp_id, _conn_id), connector in sorted(connectors.items(), key=lambda item: item[0]):
        by_id[cp_id].connectors.append(connector)
    return [by_id[dp.id] for dp in charge_points]


@dataclass
class Filters:
    site: str = ""
    registration: str = ""
    connection: str = ""
    q: str = ""

    @classmethod
    def from_request(cls, request):
        return cls(**{name: request.GET.get(name, "").strip() for name in ("site", "registration", "connection", "q")})

    def apply(self, charge_points):
        if self.site == "-":
            charge_points = charge_points.filter(site__isnull=True)
        elif self.site:
            charge_points = charge_points.filter(site__slug=self.site)
        if self.registration:
            charge_points = charge_points.filter(id__in=_with("Config.RegistrationStatus", self.registration))
        if self.connection == "online":
            charge_points = charge_points.filter(id__in=_with("State.Connected", True))
        elif self.connection == "offline":
            charge_points = charge_points.exclude(id__in=_with("State.Connected", True))
        if self.q:
            charge_points = charge_points.filter(Q(client_id__icontains=self.q) | Q(name__icontains=self.q) | Q(id__in=_matching_device_info(self.q)))
        return charge_points

    @property
    def active(self):
        return any((self.site, self.registration, self.connection, self.q))


def _with(path, value):
    return Element.objects.filter(path=path, value=value).values("datapoint_id")


def _matching_device_info(text):
    return Element.objects.filter(path__in=["DeviceInfo.chargePointVendor", "DeviceInfo.chargePointModel", "Config.Description"], value__icontains=text).values("datapoint_id")


def counts(charge_points):
    """The overview's counts for a queryset of charge points, in a few aggregate queries (a fleet
    of thousands must not be turned into rows for this)."""
    ids = charge_points.values("id")
    connected_ids = Element.objects.filter(datapoint_id__in=ids, path="State.Connected", value=True).values("datapoint_id")
    on_connected = Element.objects.filter(datapoint__charge_point_id__in=connected_ids)
    charging = on_connected.filter(path="Status.status", value__in=sorted(CHARGING_STATUSES)).values("datapoint__charge_point_id").distinct().count()
    fault = Q(path="Status.status", value__in=sorted(FAULT_STATUSES)) | Q(path="Status.errorCode") & ~Q(value__in=["", "NoError"])
    faulty_connectors = on_connected.filter(fault).values_list("datapoint__charge_point_id", flat=True)
    faulty_own = Element.objects.filter(fault, datapoint_id__in=connected_ids).values_list("datapoint_id", flat=True)
    faulted = set(faulty_connectors) | set(faulty_own)
    total = charge_points.count()
    connected = connected_ids.count()
    alarms = Alarm.objects.filter(charge_point_id__in=ids, went_at__isnull=True).aggregate(active=Count("id"), unacknowledged=Count("id", filter=Q(acknowledged_at__isnull=True)))
    return {
        "total": total,
        "connected": connected,
        "charging": charging,
        "faulted": len(faulted),
        "pending": Element.objects.filter(datapoint_id__in=ids, path="Config.RegistrationStatus", value="Pending").count(),
        "offline": total - connected,
        "alarms": alarms["active"],  # active alarms
        "unacknowledged_alarms": alarms["unacknowledged"],  # active ones nobody acknowledged yet
    }


def unknown_chargers(limit=50):
    return UnknownChargePoint.objects.all()[:limit]
