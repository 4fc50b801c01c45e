from django.apps import AppConfig


class DatapointsConfig(AppConfig):
    name = "datapoints"
    verbose_name = "Datapoints"
    default_auto_field = "django.db.models.BigAutoField"
