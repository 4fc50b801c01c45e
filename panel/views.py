from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from datapoints.elements import CHARGE_POINT
from datapoints.models import Datapoint, Element, UnknownChargePoint

SUMMARY_PATHS = ["Config.RegistrationStatus", "Common.ConnState", "DeviceInfo.chargePointVendor", "DeviceInfo.chargePointModel", "State.LastHeartbeat"]


@login_required
def index(request):
    charge_points = list(Datapoint.objects.filter(dp_type=CHARGE_POINT).order_by("name"))
    values = {}
    for dp_id, path, value in Element.objects.filter(datapoint__in=charge_points, path__in=SUMMARY_PATHS).values_list("datapoint_id", "path", "value"):
        values.setdefault(dp_id, {})[path] = value
    rows = [
        {
            "dp": dp,
            "registration": values.get(dp.id, {}).get("Config.RegistrationStatus", ""),
            "connection": values.get(dp.id, {}).get("Common.ConnState", ""),
            "vendor": values.get(dp.id, {}).get("DeviceInfo.chargePointVendor", ""),
            "model": values.get(dp.id, {}).get("DeviceInfo.chargePointModel", ""),
            "heartbeat": values.get(dp.id, {}).get("State.LastHeartbeat", ""),
        }
        for dp in charge_points
    ]
    return render(request, "panel/index.html", {"rows": rows, "unknown": UnknownChargePoint.objects.all()[:50]})
