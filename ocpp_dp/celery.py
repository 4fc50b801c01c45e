"""The Celery app `ocpp_dp`: `celery -A ocpp_dp worker`, `celery -A ocpp_dp beat`."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocpp_dp.settings")

app = Celery("ocpp_dp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
