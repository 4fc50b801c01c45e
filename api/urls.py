"""The REST API under /api/ (next to datapoints/urls.py's older command endpoint and the local API)."""
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .errors import not_found
from .views import alarms, charge_points, commands, id_tags, schedules, transactions

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("charge-points/", charge_points.ChargePointList.as_view(), name="charge-points"),
    path("charge-points/<str:client_id>/", charge_points.ChargePointDetail.as_view(), name="charge-point"),
    path("charge-points/<str:client_id>/connectors/", charge_points.Connectors.as_view(), name="connectors"),
    path("charge-points/<str:client_id>/approve/", charge_points.Registration.as_view(action="approve"), name="approve"),
    path("charge-points/<str:client_id>/reject/", charge_points.Registration.as_view(action="reject"), name="reject"),
    path("charge-points/<str:client_id>/site/", charge_points.SiteOfChargePoint.as_view(), name="site"),
    path("charge-points/<str:client_id>/password/", charge_points.Password.as_view(), name="password"),
    path("charge-points/<str:client_id>/history/", charge_points.History.as_view(), name="history"),
    path("charge-points/<str:client_id>/elements/<str:path>/", charge_points.ElementOfChargePoint.as_view(), name="element"),
    path("commands/", commands.Commands.as_view(), name="commands"),
    path("commands/<uuid:pk>/", commands.CommandDetail.as_view(), name="command"),
    path("transactions/", transactions.Transactions.as_view(), name="transactions"),
    path("transactions/csv/", transactions.TransactionCsv.as_view(), name="transactions-csv"),
    path("transactions/<int:pk>/", transactions.TransactionDetail.as_view(), name="transaction"),
    path("id-tags/", id_tags.IdTags.as_view(), name="id-tags"),
    path("id-tags/<int:pk>/", id_tags.IdTagDetail.as_view(), name="id-tag"),
    path("schedules/", schedules.Schedules.as_view(), name="schedules"),
    path("schedules/<int:pk>/", schedules.ScheduleDetail.as_view(), name="schedule"),
    path("alarms/", alarms.Alarms.as_view(), name="alarms"),
    path("alarms/<int:pk>/acknowledge/", alarms.Acknowledge.as_view(), name="acknowledge"),
    re_path(r"^", not_found),  # last: any other /api/ URL is a JSON 404 (datapoints.urls comes first)
]
