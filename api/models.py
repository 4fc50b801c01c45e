"""The REST API's own rows: bearer tokens, and commands sent fire-and-track."""
import uuid

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token for a user. Only the SHA-256 of the token is kept (a token is 32 random
    bytes: no KDF needed, see docs/decisions); `prefix` is its first characters, shown to people
    so they can tell their tokens apart and revoke one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}… ({self.name or 'unnamed'}) of {self.user}"

    @property
    def revoked(self):
        return self.revoked_at is not None


class TrackedCommand(models.Model):
    """A command sent through `POST /api/commands/`: its outcome, polled at `/api/commands/<id>/`."""

    PENDING = "pending"
    STATUSES = [(s, s) for s in (PENDING, "answered", "error", "invalid", "timeout", "offline", "refused")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    charge_point = models.ForeignKey("datapoints.Datapoint", on_delete=models.CASCADE, related_name="tracked_commands")
    action = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)  # secrets masked (datapoints.protocol.results.redacted)
    timeout = models.FloatField()
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    response = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    node = models.CharField(max_length=120, blank=True)  # the process that sends it
    created_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.action} to {self.charge_point_id}: {self.status}"
