"""What goes in and out of the API. Input serializers check types and ranges (a clear 400 per
field); the meaning (rights, rules) is checked by the domain modules the views call."""
from datetime import timezone as dt_timezone

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from datapoints import sessions
from datapoints.periods import parse_moment
from datapoints.elements import CSMS_ACTIONS, REGISTRATION_STATUSES
from datapoints.values import unstorable
from datapoints.models import Alarm, IdTag

from .models import TrackedCommand

MAX_TIMEOUT = 300.0


def storable(value):
    """A validator: ValidationError naming what `unstorable` found."""
    problem = unstorable(value)
    if problem:
        raise serializers.ValidationError(problem)
    return value


def storable_text(value):
    """A validator for a value parsed further by its element (10**400 may become a float): NUL only."""
    problem = unstorable(value, numbers=False)
    if problem:
        raise serializers.ValidationError(problem)
    return value


class Moment(serializers.CharField):
    """A time filter as typed (`YYYY-MM-DD[ HH:MM]` or ISO 8601, read later in a site's zone by
    datapoints.periods.parse_moment): checked here so that a bad one, or one at the edge of the
    calendar (0001-01-01T00:00+01:00), is a 400 naming the field."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_blank=True, max_length=40, **kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            parse_moment(text, dt_timezone.utc)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return text


class Problem(serializers.Serializer):
    detail = serializers.CharField(help_text="what was wrong and what to do")


# A 400 names each bad field ({"page": ["'x' is not a positive whole number …"]}) or says `detail`.
BAD_INPUT = OpenApiResponse(
    {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
    "bad input: each field with what is wrong with it, or `detail`",
)


# --- charge points ----------------------------------------------------------------------------------
class ChargePointFilters(serializers.Serializer):
    site = serializers.SlugField(required=False, help_text="a site's slug; `-`: the charge points without a site")
    registration_status = serializers.ChoiceField(REGISTRATION_STATUSES, required=False, help_text="Config.RegistrationStatus")
    connected = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="State.Connected")
    search = serializers.CharField(required=False, max_length=100, help_text="part of the ClientId, datapoint name, vendor, model or description (as the panel's fleet search)")


class ChargePoint(serializers.Serializer):
    client_id = serializers.CharField()
    name = serializers.CharField(help_text="the datapoint, e.g. _ChargePoint0001")
    site = serializers.CharField(allow_null=True, help_text="the site's slug")
    registration_status = serializers.CharField(allow_null=True, help_text="Config.RegistrationStatus (what the next BootNotification is answered)")
    state_registration_status = serializers.CharField(allow_null=True, help_text="State.RegistrationStatus (what the last one was answered)")
    connected = serializers.BooleanField(allow_null=True, help_text="State.Connected")
    may_operate = serializers.BooleanField(help_text="whether you may act on it")
    created_at = serializers.DateTimeField()


class ElementValue(serializers.Serializer):
    datapoint = serializers.CharField()
    path = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    kind = serializers.CharField(help_text="string, int, float, bool, json or time")
    writable = serializers.BooleanField(help_text="whether an operator may write it")
    changed_at = serializers.DateTimeField()


class Connector(serializers.Serializer):
    name = serializers.CharField()
    connector_id = serializers.IntegerField()
    status = serializers.CharField(allow_null=True, help_text="Status.status")
    error_code = serializers.CharField(allow_null=True, help_text="Status.errorCode")
    current_transaction_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class ChargePointDetail(ChargePoint):
    connectors = Connector(many=True)
    elements = ElementValue(many=True, help_text="every element of the charge point and its connectors")


class ChargePointCreate(serializers.Serializer):
    client_id = serializers.CharField(max_length=48, trim_whitespace=False)
    registration_status = serializers.ChoiceField(REGISTRATION_STATUSES, default="Pending")
    site = serializers.SlugField(required=False, allow_null=True, default=None, help_text="a site you operate; none: superusers only")


class SiteAssign(serializers.Serializer):
    site = serializers.SlugField(allow_null=True, help_text="the site's slug; null takes the charge point out of its site")


class PasswordRequest(serializers.Serializer):
    timeout = serializers.FloatField(min_value=1, max_value=MAX_TIMEOUT, default=30, help_text="seconds a connected charger has to accept the key")


class PasswordResult(serializers.Serializer):
    key = serializers.CharField(help_text="the new key, 40 hex digits: shown this once, only its hash is stored")
    sent_to_charger = serializers.BooleanField()
    message = serializers.CharField()


class HistoryFilters(serializers.Serializer):
    path = serializers.CharField(max_length=96, help_text="the element path, e.g. Status.status or Config.MaxCurrent")
    connector = serializers.IntegerField(required=False, min_value=0, max_value=1000, help_text="a connector id; none or 0: the charge point itself")
    since = Moment(help_text="YYYY-MM-DD[ HH:MM] or ISO 8601; default 24 hours ago")
    until = Moment(help_text="YYYY-MM-DD[ HH:MM] or ISO 8601; default now")


class HistoryEntry(serializers.Serializer):
    value = serializers.JSONField(allow_null=True)
    changed_at = serializers.DateTimeField()


class ElementWrite(serializers.Serializer):
    value = serializers.JSONField(allow_null=True, validators=[storable_text], help_text="the new value, typed (16, true, \"Accepted\") or as text (\"16\")")


class RegistrationResult(serializers.Serializer):
    client_id = serializers.CharField()
    registration_status = serializers.CharField()


# --- commands ---------------------------------------------------------------------------------------
class CommandRequest(serializers.Serializer):
    charge_point = serializers.CharField(max_length=64, help_text="ClientId or datapoint name")
    action = serializers.ChoiceField(CSMS_ACTIONS)
    payload = serializers.DictField(child=serializers.JSONField(), default=dict, validators=[storable], help_text="the OCPP 1.6 payload, checked against its schema")
    timeout = serializers.FloatField(required=False, min_value=1, max_value=MAX_TIMEOUT, help_text="seconds the charger has to answer (default OCPP_CALL_TIMEOUT)")
    wait = serializers.BooleanField(default=False, help_text="true: answer when the charger did (200/502/503/504); false: 202 at once, poll the command's URL")


class Command(serializers.Serializer):
    id = serializers.UUIDField()
    charge_point = serializers.CharField(source="charge_point.client_id")
    action = serializers.CharField()
    payload = serializers.JSONField(help_text="as sent, secrets masked")
    timeout = serializers.FloatField()
    status = serializers.ChoiceField([s for s, _ in TrackedCommand.STATUSES])
    response = serializers.JSONField(allow_null=True)
    error_code = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


# --- transactions -----------------------------------------------------------------------------------
class TransactionFilters(serializers.Serializer):
    site = serializers.SlugField(required=False)
    charger = serializers.CharField(required=False, max_length=64, help_text="ClientId or datapoint name")
    tag = serializers.CharField(required=False, max_length=20, help_text="an id tag")
    state = serializers.ChoiceField(sessions.STATES, required=False)
    since = Moment(help_text="began at or after: YYYY-MM-DD[ HH:MM] or ISO 8601, in the site's time zone without an offset")
    until = Moment(help_text="began at or before (a date: its end)")
    sort = serializers.ChoiceField([s for key in sessions.SORTS for s in (key, f"-{key}")], default=sessions.DEFAULT_SORT)


class TransactionOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk", help_text="the OCPP transactionId")
    charge_point = serializers.CharField(source="charge_point.client_id")
    datapoint = serializers.CharField(source="charge_point.name")
    site = serializers.CharField(source="charge_point.site.slug", allow_null=True, default=None)
    connector_id = serializers.IntegerField()
    id_tag = serializers.CharField()
    meter_start = serializers.IntegerField()
    meter_stop = serializers.IntegerField(allow_null=True)
    started_at = serializers.CharField(help_text="the charger's timestamp as sent")
    stopped_at = serializers.CharField()
    start_time = serializers.DateTimeField(source="begin")
    stop_time = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.SerializerMethodField()
    energy_kwh = serializers.FloatField(allow_null=True)
    stop_reason = serializers.CharField()
    state = serializers.SerializerMethodField()
    closed_by = serializers.CharField()
    close_note = serializers.CharField()

    def get_duration_s(self, session) -> int | None:
        return int(session.duration.total_seconds()) if session.duration is not None else None

    def get_state(self, session) -> str:
        return sessions.state_of(session)


# --- id tags, schedules, alarms ---------------------------------------------------------------------
class IdTagOut(serializers.ModelSerializer):
    class Meta:
        model = IdTag
        fields = ["id", "id_tag", "status", "expiry_date", "parent_id_tag", "max_concurrent_tx", "in_local_list", "note", "list_version"]
        read_only_fields = ["list_version"]


class IdTagIn(serializers.ModelSerializer):
    class Meta:
        model = IdTag
        fields = ["id_tag", "status", "expiry_date", "parent_id_tag", "max_concurrent_tx", "in_local_list", "note"]
        # Uniqueness: the panel's form says it (api/views/id_tags.py). A bound that holds on every
        # database (SQLite's integers are 64-bit, PostgreSQL's 32).
        extra_kwargs = {"id_tag": {"validators": []}, "max_concurrent_tx": {"max_value": 10000}}


class ScheduleTiming(serializers.Serializer):
    kind = serializers.CharField(allow_null=True, help_text="once, cron or null")
    at = serializers.DateTimeField(allow_null=True)
    cron = serializers.CharField()
    text = serializers.CharField()


class ScheduleOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    action = serializers.CharField()
    payload = serializers.JSONField()
    all_accepted = serializers.BooleanField()
    charge_points = serializers.ListField(child=serializers.CharField(), help_text="the targets you may see (ClientIds)")
    hidden_targets = serializers.IntegerField(help_text="targets on sites you have no right on")
    timeout = serializers.FloatField()
    timing = ScheduleTiming()
    state = serializers.CharField(help_text="active, paused, done, missed or unscheduled")
    created_at = serializers.DateTimeField()


class ScheduleIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    action = serializers.ChoiceField(CSMS_ACTIONS)
    payload = serializers.DictField(child=serializers.JSONField(), validators=[storable], help_text='a string "{now}" becomes the time of each run')
    charge_points = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list, max_length=10000)
    all_accepted = serializers.BooleanField(default=False, help_text="every accepted charge point (superusers only)")
    at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="one run at this time")
    cron = serializers.CharField(required=False, allow_blank=True, default="", max_length=100, help_text="or runs on a 5-field cron, in TIME_ZONE")
    timeout = serializers.FloatField(min_value=1, max_value=MAX_TIMEOUT, default=30)


class AlarmFilters(serializers.Serializer):
    state = serializers.ChoiceField(["active", "all"], default="active")
    site = serializers.SlugField(required=False)
    charger = serializers.CharField(required=False, max_length=64)
    kind = serializers.ChoiceField([k for k, _ in Alarm.KINDS], required=False)
    acknowledged = serializers.ChoiceField(["yes", "no"], required=False)


class AlarmOut(serializers.ModelSerializer):
    charge_point = serializers.CharField(source="charge_point.client_id")
    acknowledged_by = serializers.CharField(source="acknowledged_by_name")
    active = serializers.BooleanField()

    class Meta:
        model = Alarm
        fields = ["id", "charge_point", "connector_id", "kind", "text", "detail", "came_at", "went_at", "acknowledged_at", "acknowledged_by", "active"]


class AcknowledgeResult(serializers.Serializer):
    acknowledged_now = serializers.BooleanField(help_text="false: someone acknowledged it before")
    alarm = AlarmOut()
