from django.contrib import admin
from django.urls import include, path

from datapoints import health, metrics_endpoint

admin.site.site_header = "OCPP datapoint manager"
admin.site.site_title = "OCPP datapoints"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_endpoint.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("datapoints.urls")),
    path("api/", include("api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("panel.urls")),
]
