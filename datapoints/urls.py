from django.urls import path

from . import views

urlpatterns = [
    path("local/notify", views.local_notify, name="local-notify"),
    path("local/command", views.local_command, name="local-command"),
]
