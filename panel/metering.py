"""The charge point page's metering box: each connector's live values with the charger's totals,
and the power of the last 24 hours drawn per connector (from the elements' history)."""
import json
from datetime import timedelta

from django.utils import timezone

from datapoints.models import Datapoint, Element, ElementChange

POWER = "Metering.Power.Active.Import"
CHART_HOURS = 24
CHART_POINTS = 5000  # per chart: a minute's samples of a few connectors over a day
# (element, column title, unit); the charge point's own row shows the ones it has
COLUMNS = (
    (POWER, "Power", "kW"),
    ("Metering.Current.Import", "Current", "A"),
    ("Metering.Voltage", "Voltage", "V"),
    ("Metering.SoC", "SoC", "%"),
    ("Metering.Energy.Session", "Session", "kWh"),
    ("Metering.Energy.Today", "Today", "kWh"),
    ("Metering.Energy.Week", "Week", "kWh"),
    ("Metering.Energy.Month", "Month", "kWh"),
)
CHARGE_POINT_PATHS = {POWER, "Metering.Energy.Today", "Metering.Energy.Week", "Metering.Energy.Month"}


def summary(dp):
    """{"columns", "rows": [{"name", "label", "cells": [(path, value or None, shown?)]}], "chart": JSON or ""}."""
    connectors = list(Datapoint.objects.filter(charge_point=dp).order_by("connector_id").only("id", "name", "connector_id"))
    datapoints = [dp, *connectors]
    stored = {(dp_id, path): value for dp_id, path, value in Element.objects.filter(datapoint__in=datapoints, path__in=[c[0] for c in COLUMNS]).values_list("datapoint_id", "path", "value")}
    if not stored:
        return None
    rows = [_row(d, stored, "Charge point" if d is dp else f"Connector {d.connector_id}", d is dp) for d in [*connectors, dp]]
    return {"columns": COLUMNS, "rows": rows, "chart": _power_chart(dp, connectors)}


def _row(d, stored, label, is_charge_point):
    cells = [(path, stored.get((d.id, path)), not is_charge_point or path in CHARGE_POINT_PATHS) for path, _title, _unit in COLUMNS]
    return {"name": d.name, "label": label, "total": is_charge_point, "cells": cells}


def _power_chart(dp, connectors):
    """uPlot's input as JSON: one [times, kW] series per connector that has a power history."""
    since = timezone.now() - timedelta(hours=CHART_HOURS)
    names = {c.id: c.name for c in connectors}
    changes = ElementChange.objects.filter(datapoint_id__in=list(names), path=POWER, changed_at__gte=since).order_by("changed_at").values_list("datapoint_id", "changed_at", "value")[:CHART_POINTS]
    series = {}
    for dp_id, changed_at, value in changes:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs, ys = series.setdefault(names[dp_id], ([], []))
            xs.append(round(changed_at.timestamp(), 3))
            ys.append(value)
    if not series:
        return ""
    return json.dumps({"path": POWER, "since": since.timestamp(), "series": [{"dp": name, "x": xs, "y": ys} for name, (xs, ys) in sorted(series.items())]})
