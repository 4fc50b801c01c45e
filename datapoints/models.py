"""Datapoints, their elements and their history; transactions, meter samples, id tags."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from .elements import CHARGE_POINT, CONNECTOR

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class Site(models.Model):
    """A place that owns charge points; operators get their rights per site (SiteRole)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    notes = models.TextField(blank=True)
    # Charging control: amps shared by the site's charging connectors (none: no site limit).
    max_current = models.FloatField(null=True, blank=True, help_text="Amps shared by the site's charging connectors; empty for no limit.")
    # Defaults for chargers that connect at /ocpp/<site>/<ClientId> or belong to the site; empty: the
    # installation's OCPP_AUTO_CREATE_CHARGE_POINTS, OCPP_NEW_CHARGE_POINT_STATUS, OCPP_HEARTBEAT_INTERVAL.
    auto_create = models.BooleanField(null=True, blank=True, help_text="Create unknown chargers that connect under this site's URL; empty: OCPP_AUTO_CREATE_CHARGE_POINTS.")
    new_charge_point_status = models.CharField(max_length=16, blank=True, choices=[(s, s) for s in ("Accepted", "Pending", "Rejected")], help_text="Registration status of a charger created under this site's URL; empty: OCPP_NEW_CHARGE_POINT_STATUS.")
    heartbeat_interval = models.PositiveIntegerField(null=True, blank=True, help_text="Heartbeat interval (s) for the site's chargers without their own Config.HeartbeatInterval; empty: OCPP_HEARTBEAT_INTERVAL.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name or self.slug

    def creates_unknown_chargers(self):
        return settings.OCPP_AUTO_CREATE_CHARGE_POINTS if self.auto_create is None else self.auto_create

    def new_status(self):
        return self.new_charge_point_status or settings.OCPP_NEW_CHARGE_POINT_STATUS


class SiteRole(models.Model):
    """A user's right on one site: a viewer sees, an operator also acts."""

    VIEWER, OPERATOR = "viewer", "operator"
    ROLES = [(VIEWER, "viewer: sees the site's chargers"), (OPERATOR, "operator: also approves, sends commands, writes Config")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_roles")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=ROLES, default=VIEWER)

    class Meta:
        ordering = ["site__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="one_role_per_user_and_site")]

    def __str__(self):
        return f"{self.user} {self.role} of {self.site.slug}"


class Datapoint(models.Model):
    TYPES = [(CHARGE_POINT, CHARGE_POINT), (CONNECTOR, CONNECTOR)]

    name = models.CharField(max_length=64, unique=True)
    dp_type = models.CharField(max_length=32, choices=TYPES)
    # Charge points only: the OCPP identity (never changes) and the number in the name.
    client_id = models.CharField(max_length=48, unique=True, null=True, blank=True, editable=False)
    number = models.PositiveIntegerField(unique=True, null=True, blank=True, editable=False)
    # Connectors only.
    charge_point = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    # Charge points only: the site that owns it (none: only superusers see it). `Config.Site` mirrors it.
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="charge_points")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("send_command", "Can send OCPP commands to charge points")]
        constraints = [
            models.UniqueConstraint(fields=["charge_point", "connector_id"], name="one_dp_per_connector"),
            models.CheckConstraint(
                condition=Q(dp_type=CHARGE_POINT, client_id__isnull=False) | Q(dp_type=CONNECTOR, charge_point__isnull=False),
                name="dp_type_fields",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_charge_point(self):
        return self.dp_type == CHARGE_POINT

    @staticmethod
    def charge_point_name(number):
        return f"_ChargePoint{number:04d}"

    @staticmethod
    def connector_name(charge_point_name, connector_id):
        return f"{charge_point_name}-{connector_id}"

    def values(self):
        """All stored element values of this datapoint, by path."""
        return dict(self.elements.values_list("path", "value"))


class Element(models.Model):
    """The current value of one element (DPE). Its change time is the time of the value."""

    # No index of its own: the unique constraint's index begins with it (one index fewer to keep
    # on every write; docs/decisions/0021).
    datapoint = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="elements", db_index=False)
    path = models.CharField(max_length=96)
    value = models.JSONField(null=True)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["datapoint", "path"], name="one_value_per_element")]

    def __str__(self):
        return f"{self.datapoint_id}.{self.path}"


class ElementChange(models.Model):
    """History: one row for every write of an element whose spec keeps history."""

    # Append-only and written ~40 rows per booting charger: no foreign-key constraint in the
    # database (its check locked the datapoint row for every row inserted; Django still deletes
    # them with their datapoint) and no index of its own (the one below begins with it). 0021.
    datapoint = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="changes", db_constraint=False, db_index=False)
    path = models.CharField(max_length=96)
    value = models.JSONField(null=True)
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["datapoint", "path", "changed_at"])]


class Transaction(models.Model):
    """One charging session. Its primary key is the OCPP transactionId."""

    charge_point = models.ForeignKey(Datapoint, on_delete=models.PROTECT, related_name="transactions")
    connector_id = models.PositiveIntegerField()
    id_tag = models.CharField(max_length=20)
    meter_start = models.BigIntegerField()
    started_at = models.CharField(max_length=40)  # the charger's timestamp, exactly as sent
    reservation_id = models.IntegerField(null=True, blank=True)
    meter_stop = models.BigIntegerField(null=True, blank=True)
    stopped_at = models.CharField(max_length=40, blank=True)
    stop_reason = models.CharField(max_length=20, blank=True)
    stop_id_tag = models.CharField(max_length=20, blank=True)
    transaction_data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Metering (datapoints/metering/): the charger's times parsed, and the session's energy.
    start_time = models.DateTimeField(null=True, blank=True, db_index=True)
    stop_time = models.DateTimeField(null=True, blank=True)
    energy_kwh = models.FloatField(null=True, blank=True)  # running while open, final once stopped
    last_register_kwh = models.FloatField(null=True, blank=True)  # the last corrected register reading in it
    per_session_register = models.BooleanField(null=True, blank=True)  # the charger's register restarts per session
    energy_flags = models.JSONField(default=list, blank=True)  # anomalies seen: negative_clamped, unit_suspect, meter_reset, ...
    # Closed by an operator (a zombie: no StopTransaction will ever come).
    closed_by = models.CharField(max_length=150, blank=True)
    close_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            # A replayed StartTransaction finds its first copy through this key.
            models.UniqueConstraint(fields=["charge_point", "connector_id", "id_tag", "started_at", "meter_start"], name="start_once"),
        ]
        indexes = [
            # A tag's open transactions (ConcurrentTx, datapoints/id_tags.py): without it every
            # Authorize of a tag with a limit scanned the table (24 ms at 300k transactions).
            models.Index(fields=["id_tag"], condition=Q(meter_stop__isnull=True), name="open_transactions_by_tag"),
        ]

    @property
    def is_stopped(self):
        return self.meter_stop is not None


class MeterSample(models.Model):
    """One sampledValue of a MeterValues (or StopTransaction transactionData) telegram."""

    # As ElementChange: append-only, no constraint in the database, indexed by the index below.
    charge_point = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="samples", db_constraint=False, db_index=False)
    connector_id = models.PositiveIntegerField()
    transaction_id = models.BigIntegerField(null=True, blank=True)
    timestamp = models.CharField(max_length=40)
    measurand = models.CharField(max_length=40, default="Energy.Active.Import.Register")
    phase = models.CharField(max_length=8, blank=True)
    unit = models.CharField(max_length=12, default="Wh")
    location = models.CharField(max_length=8, default="Outlet")
    context = models.CharField(max_length=24, default="Sample.Periodic")
    format = models.CharField(max_length=12, default="Raw")
    value = models.TextField()  # as sent: SignedData can be long
    value_number = models.FloatField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)  # server time; BRIN-indexed on PostgreSQL (migration 0007), for pruning

    class Meta:
        indexes = [models.Index(fields=["charge_point", "connector_id", "timestamp"])]


class MeterRollup(models.Model):
    """Raw meter samples older than OCPP_SAMPLE_DAYS, kept as one row per minute, measurand, phase and unit."""

    charge_point = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="rollups")
    connector_id = models.PositiveIntegerField()
    minute = models.DateTimeField()
    measurand = models.CharField(max_length=40)
    phase = models.CharField(max_length=8, blank=True)
    unit = models.CharField(max_length=12, blank=True)
    count = models.PositiveIntegerField()
    minimum = models.FloatField()
    maximum = models.FloatField()
    mean = models.FloatField()
    last = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["charge_point", "connector_id", "minute", "measurand", "phase", "unit"], name="one_rollup_per_minute")]


class IdTag(models.Model):
    STATUSES = [(s, s) for s in ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")]

    id_tag = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=16, choices=STATUSES, default="Accepted")
    expiry_date = models.DateTimeField(null=True, blank=True)
    parent_id_tag = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=200, blank=True)
    max_concurrent_tx = models.PositiveIntegerField(null=True, blank=True, help_text="Transactions this tag may run at once; empty for no limit.")
    # Local authorization list: a tag is in the list while in_local_list; every change of a tag
    # (removal too) sets list_version to the next list version, so a differential SendLocalList
    # carries the tags with list_version above the charger's version.
    in_local_list = models.BooleanField(default=False)
    list_version = models.PositiveIntegerField(default=0, db_index=True)

    def __str__(self):
        return self.id_tag

    def id_tag_info(self, now):
        """The OCPP IdTagInfo for this tag at `now`: an expired tag answers Expired."""
        status = self.status
        if status == "Accepted" and self.expiry_date and self.expiry_date <= now:
            status = "Expired"
        info = {"status": status}
        if self.expiry_date:
            info["expiryDate"] = self.expiry_date.isoformat().replace("+00:00", "Z")
        if self.parent_id_tag:
            info["parentIdTag"] = self.parent_id_tag
        return info


class Reservation(models.Model):
    """A ReserveNow sent to a charger; its primary key is the OCPP reservationId."""

    ACTIVE = ("Requested", "Accepted")
    STATUSES = [(s, s) for s in ("Requested", "Accepted", "Faulted", "Occupied", "Rejected", "Unavailable", "Cancelled", "Expired", "Used", "Failed")]

    charge_point = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="reservations")
    connector_id = models.PositiveIntegerField()
    id_tag = models.CharField(max_length=20)
    parent_id_tag = models.CharField(max_length=20, blank=True)
    expiry_date = models.DateTimeField()
    status = models.CharField(max_length=16, choices=STATUSES, default="Requested")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="reservations")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"reservation {self.pk} on {self.charge_point}-{self.connector_id} for {self.id_tag}"


class Alarm(models.Model):
    """A SCADA alarm: came, went, acknowledged. One active alarm per charger, connector and kind."""

    KINDS = [
        ("faulted", "connector Faulted"),
        ("offline", "charger offline"),
        ("hook_failed", "hook failing"),
        ("energy_negative", "negative session energy"),
        ("energy_unit", "energy unit suspect (1000x)"),
        ("meter_reset", "meter reset"),
    ]

    charge_point = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="alarms")
    connector_id = models.PositiveIntegerField(default=0)  # 0: the charge point as a whole
    kind = models.CharField(max_length=24, choices=KINDS)
    text = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    came_at = models.DateTimeField(db_index=True)
    went_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    acknowledged_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-came_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["charge_point", "connector_id", "kind"], condition=Q(went_at__isnull=True), name="one_active_alarm_per_kind"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.charge_point}" + (f"-{self.connector_id}" if self.connector_id else "")

    @property
    def active(self):
        return self.went_at is None


class UnknownChargePoint(models.Model):
    """A charger that tried to connect with an id no datapoint has."""

    client_id = models.CharField(max_length=48, unique=True)
    remote_address = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self):
        return self.client_id


class ScheduledCommand(models.Model):
    """A command run by Celery beat at a time or on a cron, on some charge points or on every
    accepted one (datapoints/schedules.py). Its timing lives in django-celery-beat's PeriodicTask."""

    name = models.CharField(max_length=120, unique=True)
    action = models.CharField(max_length=40)
    payload = models.JSONField(default=dict, blank=True)
    charge_points = models.ManyToManyField(Datapoint, blank=True, limit_choices_to={"dp_type": CHARGE_POINT}, related_name="scheduled_commands")
    all_accepted = models.BooleanField(default=False, help_text="Run on every accepted charge point (then the list above is ignored).")
    timeout = models.FloatField(default=30, help_text="Seconds each charger has to answer.")
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def targets(self):
        if self.all_accepted:
            accepted = Element.objects.filter(path="Config.RegistrationStatus", value="Accepted").values("datapoint_id")
            return Datapoint.objects.filter(dp_type=CHARGE_POINT, id__in=accepted)
        return self.charge_points.all()


class ScheduledRun(models.Model):
    """One firing of a ScheduledCommand, with its counts; the outcome per charger is below it."""

    command = models.ForeignKey(ScheduledCommand, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    targets = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.command} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def failed(self):
        return self.targets - self.answered


class ScheduledOutcome(models.Model):
    run = models.ForeignKey(ScheduledRun, on_delete=models.CASCADE, related_name="outcomes")
    charge_point = models.ForeignKey(Datapoint, on_delete=models.CASCADE)
    status = models.CharField(max_length=16)  # answered | error | invalid | timeout | offline | refused
    response = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["charge_point__name"]


class HookSetting(models.Model):
    """Turns a hook on or off, for one charge point or (charge_point empty) for all. A charge
    point's own row wins over the row for all; with no row at all, a loaded hook is on."""

    hook = models.CharField(max_length=200, help_text="module.function, as `manage.py hooks list` shows it")
    charge_point = models.ForeignKey(Datapoint, null=True, blank=True, on_delete=models.CASCADE, limit_choices_to={"dp_type": CHARGE_POINT})
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hook", "charge_point"], name="one_setting_per_hook_and_cp")]

    def __str__(self):
        return f"{self.hook} {'on' if self.enabled else 'off'} for {self.charge_point or 'all'}"


class AuditEntry(models.Model):
    """One operator action (panel, CLI or API): who, when, what, on which charger, and the outcome."""

    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True)  # kept when the user is deleted; "" = a shell
    action = models.CharField(max_length=40)  # approve, reject, create, element_write, command, password, schedule_*, site_*, operator_*
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL)
    charge_point = models.ForeignKey(Datapoint, null=True, blank=True, on_delete=models.SET_NULL, limit_choices_to={"dp_type": CHARGE_POINT})
    target = models.CharField(max_length=200, blank=True)  # what was acted on, as text (survives deletion)
    detail = models.JSONField(default=dict, blank=True)
    ok = models.BooleanField(default=True)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or 'shell'} {self.action} {self.target}"


class MessageLogEntry(models.Model):
    """One OCPP-J frame in or out of a charger, kept for OCPP_MESSAGE_LOG_DAYS (datapoints/messagelog.py)."""

    IN, OUT = "in", "out"

    charge_point = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="messages", db_constraint=False, db_index=False)
    at = models.DateTimeField()
    direction = models.CharField(max_length=3)  # in: charger -> central system; out: the other way
    message_type = models.PositiveSmallIntegerField()  # 2 CALL, 3 CALLRESULT, 4 CALLERROR
    unique_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40, blank=True)  # of the CALL; results carry their CALL's action
    payload = models.TextField()  # the frame's payload as JSON text

    class Meta:
        ordering = ["-id"]  # newest first: ids follow the time of the flush, and a BRIN index cannot sort
        # One b-tree (a charger's frames by time). The index on `at` for pruning and time searches
        # is made by migration 0006 as BRIN on PostgreSQL (rows arrive in time order; a b-tree per
        # row was a measurable part of the log's cost), a b-tree elsewhere.
        indexes = [models.Index(fields=["charge_point", "at"])]
