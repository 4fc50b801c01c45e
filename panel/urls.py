from django.urls import path

from .views import bulk, charge_point, console, fleet, logs, schedules, sites

app_name = "panel"
urlpatterns = [
    path("", fleet.overview, name="fleet"),
    path("fleet/table", fleet.table, name="fleet-table"),
    path("fleet/row/<str:client_id>", fleet.row, name="fleet-row"),
    path("fleet/unknown", fleet.unknown, name="fleet-unknown"),
    path("fleet/command-form", bulk.command_form, name="bulk-form"),
    path("fleet/command", bulk.command_many, name="bulk-send"),
    path("fleet/command/<str:batch>", bulk.command_progress, name="bulk-progress"),
    path("fleet/<str:action>", fleet.registration, name="registration"),
    path("unknown/<int:pk>/create", fleet.create_unknown, name="create-unknown"),
    path("charge-points/<str:client_id>/", charge_point.page, name="charge-point"),
    path("charge-points/<str:client_id>/elements", charge_point.elements, name="cp-elements"),
    path("charge-points/<str:client_id>/history/<str:dp_name>/<str:path>", charge_point.history, name="element-history"),
    path("charge-points/<str:client_id>/write", charge_point.write, name="cp-write"),
    path("charge-points/<str:client_id>/password", charge_point.password, name="cp-password"),
    path("charge-points/<str:client_id>/hooks", charge_point.hook_switch, name="cp-hook-switch"),
    path("charge-points/<str:client_id>/console/form", console.form, name="console-form"),
    path("charge-points/<str:client_id>/console/send", console.send, name="console-send"),
]
# Each of these page modules lists its own routes.
urlpatterns += schedules.urlpatterns + logs.urlpatterns + sites.urlpatterns
from .views import sessions  # noqa: E402 (issue 9: the sessions pages)

urlpatterns += sessions.urlpatterns
from .views import alarms  # noqa: E402 (issue 9: the alarm list)

urlpatterns += alarms.urlpatterns
from .views import id_tags, reservations  # noqa: E402 (issue 9: id tags, the local list, reservations)

urlpatterns += id_tags.urlpatterns + reservations.urlpatterns
from .views import charging  # noqa: E402 (issue 9: a site's max current)

urlpatterns += charging.urlpatterns
from .edge import guard  # noqa: E402 (a NUL in a URL, filter or form: 404 / 400, never a 500)

guard(urlpatterns)
