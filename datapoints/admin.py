from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import IntegrityError
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from . import id_tags, schedules
from .charge_points import create_charge_point
from .elements import CHARGE_POINT, CSMS_ACTIONS
from .models import Datapoint, Element, HookSetting, IdTag, MeterSample, ScheduledCommand, ScheduledOutcome, ScheduledRun, Transaction, UnknownChargePoint
from .paths import set_value
from .protocol.results import redacted


def _element(path):
    return Subquery(Element.objects.filter(datapoint=OuterRef("pk"), path=path).values("value")[:1])


class ElementInline(admin.TabularInline):
    model = Element
    fields = ("path", "value", "changed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("path",)

    def has_add_permission(self, request, obj=None):
        return False


class ChargePointFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [("cp", "Charge points"), ("connector", "Connectors")]

    def queryset(self, request, queryset):
        if self.value() == "cp":
            return queryset.filter(dp_type=CHARGE_POINT)
        if self.value() == "connector":
            return queryset.exclude(dp_type=CHARGE_POINT)
        return queryset


def _set_registration(modeladmin, request, queryset, status):
    count = 0
    for dp in queryset.filter(dp_type=CHARGE_POINT):
        set_value(f"{dp.name}.Config.RegistrationStatus", status)
        count += 1
    modeladmin.message_user(request, f"{count} charge point(s) set to {status}.", messages.SUCCESS)


@admin.action(description="Approve (registration status Accepted)")
def approve(modeladmin, request, queryset):
    _set_registration(modeladmin, request, queryset, "Accepted")


@admin.action(description="Reject (registration status Rejected)")
def reject(modeladmin, request, queryset):
    _set_registration(modeladmin, request, queryset, "Rejected")


@admin.register(Datapoint)
class DatapointAdmin(admin.ModelAdmin):
    list_display = ("name", "client_id", "registration_status", "connection", "dp_type")
    list_filter = (ChargePointFilter,)
    search_fields = ("name", "client_id")
    readonly_fields = ("name", "dp_type", "client_id", "charge_point", "connector_id", "created_at")
    fields = readonly_fields
    inlines = [ElementInline]
    actions = [approve, reject]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _registration=_element("Config.RegistrationStatus"), _connection=_element("Common.ConnState")
        )

    @admin.display(description="Registration status", ordering="_registration")
    def registration_status(self, obj):
        return obj._registration or ""

    @admin.display(description="Connection", ordering="_connection")
    def connection(self, obj):
        return obj._connection or ""

    def has_add_permission(self, request):
        return False


@admin.action(description="Create a datapoint (Pending) for the selected chargers")
def create_datapoints(modeladmin, request, queryset):
    for unknown in queryset:
        try:
            dp = create_charge_point(unknown.client_id, "Pending")
        except IntegrityError:
            modeladmin.message_user(request, f"{unknown.client_id} already has a datapoint.", messages.WARNING)
            continue
        modeladmin.message_user(request, f"Created {dp.name} for {unknown.client_id}; approve it when it boots.", messages.SUCCESS)


@admin.register(UnknownChargePoint)
class UnknownChargePointAdmin(admin.ModelAdmin):
    list_display = ("client_id", "remote_address", "attempts", "first_seen", "last_seen")
    readonly_fields = list_display
    actions = [create_datapoints]

    def has_add_permission(self, request):
        return False


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    """Changes go through datapoints.id_tags, which moves the local list version on."""

    list_display = ("id_tag", "status", "expiry_date", "parent_id_tag", "in_local_list", "list_version", "note")
    list_filter = ("status", "in_local_list")
    search_fields = ("id_tag", "note")
    readonly_fields = ("list_version",)

    def save_model(self, request, obj, form, change):
        id_tags.save_tag(obj)

    def delete_model(self, request, obj):
        id_tags.delete_tag(obj, request.user)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            id_tags.delete_tag(tag, request.user)


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = ("id", "charge_point", "connector_id", "id_tag", "meter_start", "meter_stop", "started_at", "stopped_at", "stop_reason")
    list_filter = ("stop_reason",)
    search_fields = ("id_tag",)
    readonly_fields = [f.name for f in Transaction._meta.fields]


@admin.register(MeterSample)
class MeterSampleAdmin(admin.ModelAdmin):
    list_display = ("charge_point", "connector_id", "transaction_id", "timestamp", "measurand", "phase", "value", "unit")
    list_filter = ("measurand",)
    readonly_fields = [f.name for f in MeterSample._meta.fields]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ScheduledRunInline(ReadOnlyInline):
    model = ScheduledRun
    fields = ("started_at", "finished_at", "targets", "answered", "failed")
    readonly_fields = fields
    show_change_link = True


class ScheduledCommandForm(schedules.FormChecks, forms.ModelForm):
    """The command, and its timing kept in the PeriodicTask (datapoints/schedules.py): a one time
    or a cron, and whether it is active."""

    at = forms.SplitDateTimeField(
        label="One time", required=False, widget=AdminSplitDateTime, help_text=f"One run at this time ({settings.TIME_ZONE}); leave empty for a cron."
    )
    cron = forms.CharField(label="Cron", required=False, help_text=f"Runs on this cron ({settings.TIME_ZONE}): {schedules.CRON_FORMAT}.")
    active = forms.BooleanField(label="Active", required=False, initial=True, help_text="Untick to pause: Celery beat does not fire it.")

    class Meta:
        model = ScheduledCommand
        fields = ("name", "action", "payload", "charge_points", "all_accepted", "timeout")
        widgets = {"action": forms.Select(choices=[(a, a) for a in sorted(CSMS_ACTIONS)])}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            timing = schedules.timing(self.instance)
            task = self.instance.periodic_task
            self.initial.update(at=timing["at"], cron=timing["cron"], active=task.enabled if task is not None else True)

    def clean(self):
        data = super().clean()
        self.check_payload_field(data)
        at, cron = data.get("at"), data.get("cron") or None
        if "at" not in self.errors and "cron" not in self.errors:
            try:
                # an active one-time schedule whose time has passed would run at once
                schedules.check_timing(at, cron, future_after=timezone.now() if data.get("active") else None)
            except schedules.ScheduleError as exc:
                past = at is not None and not cron
                self.add_error("at" if past else None, f"{str(exc)[0].upper()}{str(exc)[1:]}" + ("; or untick Active." if past else "."))
        if not data.get("all_accepted") and not data.get("charge_points"):
            self.add_error("charge_points", "Choose the charge points, or tick 'all accepted'.")
        return data


@admin.register(ScheduledCommand)
class ScheduledCommandAdmin(admin.ModelAdmin):
    form = ScheduledCommandForm
    list_display = ("name", "action", "all_accepted", "when", "state", "last_run")
    filter_horizontal = ("charge_points",)
    fields = ("name", "action", "payload", "charge_points", "all_accepted", "timeout", "at", "cron", "active", "periodic_task", "created_at")
    readonly_fields = ("periodic_task", "created_at")
    inlines = [ScheduledRunInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("periodic_task__clocked", "periodic_task__crontab")

    @admin.display(description="when")
    def when(self, obj):
        return schedules.timing(obj)["text"]

    @admin.display(description="state")
    def state(self, obj):
        return schedules.state(obj)

    @admin.display(description="last run")
    def last_run(self, obj):
        run = obj.runs.first()
        return f"{run.started_at:%Y-%m-%d %H:%M} {run.answered}/{run.targets} answered" if run else "never"

    def save_model(self, request, obj, form, change):
        """Save the command, then create or update its PeriodicTask so that it runs."""
        super().save_model(request, obj, form, change)
        data = form.cleaned_data
        schedules.set_timing(obj, at=data["at"], cron=data["cron"] or None, enabled=data["active"])

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        command = form.instance
        detail = {"payload": redacted(command.action, command.payload), "targets": "every accepted charge point" if command.all_accepted else [dp.client_id for dp in command.charge_points.all()]}
        schedules.record(request.user, "schedule_change" if change else "schedule_create", command, detail={**detail, "via": "admin"}, outcome="changed" if change else "created")

    def delete_model(self, request, obj):
        schedules.record(request.user, "schedule_delete", obj, detail={"via": "admin"}, outcome="deleted")
        schedules.delete_schedule(obj)

    def delete_queryset(self, request, queryset):
        for command in queryset:
            self.delete_model(request, command)


class ScheduledOutcomeInline(ReadOnlyInline):
    model = ScheduledOutcome
    fields = ("charge_point", "status", "response", "error")
    readonly_fields = fields


@admin.register(ScheduledRun)
class ScheduledRunAdmin(admin.ModelAdmin):
    list_display = ("command", "started_at", "finished_at", "targets", "answered", "failed")
    list_filter = ("command",)
    readonly_fields = ("command", "started_at", "finished_at", "targets", "answered")
    inlines = [ScheduledOutcomeInline]

    def has_add_permission(self, request):
        return False


@admin.register(HookSetting)
class HookSettingAdmin(admin.ModelAdmin):
    list_display = ("hook", "charge_point", "enabled")
    list_filter = ("enabled", "hook")
    list_editable = ("enabled",)
