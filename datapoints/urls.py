from django.urls import path

from . import api, views

urlpatterns = [
    path("charge-points/<str:charge_point>/commands/<str:action>", api.command, name="api-command"),
    path("local/notify", views.local_notify, name="local-notify"),
    path("local/command", views.local_command, name="local-command"),
]
