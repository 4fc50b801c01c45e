from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "OCPP datapoint manager"
admin.site.site_title = "OCPP datapoints"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("datapoints.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("panel.urls")),
]
