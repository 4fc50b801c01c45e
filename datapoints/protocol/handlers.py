"""Built-in answers to every charger -> central system action of OCPP 1.6 (and the security
extension's), with the element writes each one makes.

One function per action, registered with `@handles(Action)`. Each runs in the database thread,
inside the recorder's batch transaction: `work.set(dp, path, value)` buffers an element write,
`work.sample(...)` a meter sample row. The return value is the response payload; raising a
CallError answers with that error and stores nothing but the error.
"""
import math

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .. import alarms, id_tags, local_list, metrics, reservations
from ..charge_points import element_values
from ..charging import site_limit
from ..elements import DEVICE_INFO_FIELDS, START_FIELDS, STATUS_FIELDS, STOP_FIELDS
from ..metering import record as metering
from ..models import Transaction
from . import errors
from .session import BOOT_CONFIG_PATHS

HANDLERS = {}


def handles(action):
    def register(func):
        HANDLERS[action] = func
        return func

    return register


def now_iso(now):
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def id_tag_info(id_tag, now, starting=None):
    return id_tags.id_tag_info(id_tag, now, starting)  # expiry, parent, ConcurrentTx: datapoints/id_tags.py


@handles("BootNotification")
def boot_notification(work, session, payload):
    cp = session.cp
    for field in DEVICE_INFO_FIELDS:
        work.set(cp, f"DeviceInfo.{field}", payload.get(field, ""))
    config = session.fresh_boot_config() or session.remember_boot_config(element_values(cp.id, BOOT_CONFIG_PATHS))
    status = config.get("Config.RegistrationStatus") or "Pending"
    session.registration_status = status
    session.heartbeat_interval = config.get("Config.HeartbeatInterval") or session.default_heartbeat_interval
    work.set(cp, "State.RegistrationStatus", status)
    work.set(cp, "State.LastBoot", work.now.isoformat())
    work.set(cp, "Common.ConnState", "Registered" if status == "Accepted" else "Connected")
    local_list.after_boot(session, status)
    interval = session.heartbeat_interval if status == "Accepted" else settings.OCPP_REGISTRATION_RETRY_INTERVAL
    return {"status": status, "currentTime": now_iso(work.now), "interval": interval}


@handles("Heartbeat")
def heartbeat(work, session, payload):
    work.set(session.cp, "State.LastHeartbeat", work.now.isoformat())
    return {"currentTime": now_iso(work.now)}


@handles("StatusNotification")
def status_notification(work, session, payload):
    connector_id = payload["connectorId"]
    target = session.target(connector_id)
    for leaf in STATUS_FIELDS:
        work.set(target, f"Status.{leaf}", payload.get(leaf, ""))
    alarms.on_status(work, session, connector_id, payload)
    reservations.on_status(session, payload)
    if connector_id > session.known_connector_count:
        session.known_connector_count = connector_id
        work.set(session.cp, "State.NumberOfConnectors", connector_id)
    return {}


@handles("Authorize")
def authorize(work, session, payload):
    return {"idTagInfo": id_tag_info(payload["idTag"], work.now)}


def _start_fields(payload, transaction_id):
    values = {leaf: payload.get(leaf, 0 if kind == "int" else "") for leaf, kind in START_FIELDS.items()}
    values["transactionId"] = transaction_id
    return values


@handles("StartTransaction")
def start_transaction(work, session, payload):
    cp = session.cp
    key = {
        "charge_point_id": cp.id,
        "connector_id": payload["connectorId"],
        "id_tag": payload["idTag"],
        "started_at": payload["timestamp"],
        "meter_start": payload["meterStart"],
    }
    info = id_tag_info(payload["idTag"], work.now, key)
    existing = Transaction.objects.filter(**key).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = Transaction.objects.create(reservation_id=payload.get("reservationId"), start_time=charger_time(payload["timestamp"]), **key)
        except IntegrityError:  # the same telegram on two connections at once
            existing = Transaction.objects.get(**key)
            metrics.transaction_replay("StartTransaction")
        connector = session.connector(payload["connectorId"])
        for leaf, value in _start_fields(payload, existing.pk).items():
            work.set(connector, f"Transaction.Start.{leaf}", value)
        work.set(connector, "Transaction.CurrentTransactionId", existing.pk)
        reservations.used(existing, payload.get("reservationId"))
        metering.transaction_started(work, session, existing)
        site_limit.session_changed(cp)
    else:
        metrics.transaction_replay("StartTransaction")
    return {"transactionId": existing.pk, "idTagInfo": info}


STOP_DEFAULTS = {"reason": "Local", "transactionData": []}  # 1.6: reason defaults to Local


@handles("StopTransaction")
def stop_transaction(work, session, payload):
    cp = session.cp
    tx = Transaction.objects.filter(pk=payload["transactionId"], charge_point_id=cp.id).first()
    if tx is None:
        raise errors.PropertyConstraintViolation(
            f"transactionId {payload['transactionId']} was never started by this charge point", {"field": "transactionId"}
        )
    response = {"idTagInfo": id_tag_info(payload["idTag"], work.now)} if payload.get("idTag") else {}
    if tx.is_stopped:  # a replay: answer the same, change nothing
        metrics.transaction_replay("StopTransaction")
        return response
    tx.meter_stop = payload["meterStop"]
    tx.stopped_at = payload["timestamp"]
    tx.stop_reason = payload.get("reason", "Local")
    tx.stop_id_tag = payload.get("idTag", "")
    tx.transaction_data = payload.get("transactionData")
    tx.stop_time = charger_time(payload["timestamp"])
    metering_fields = metering.transaction_stopped(work, session, tx, payload) or []
    tx.save(update_fields=["meter_stop", "stopped_at", "stop_reason", "stop_id_tag", "transaction_data", "stop_time", *metering_fields])
    connector = session.target(tx.connector_id)
    for leaf in STOP_FIELDS:
        default = STOP_DEFAULTS.get(leaf, "")  # left out: documented defaults (docs/datapoints.md)
        work.set(connector, f"Transaction.Stop.{leaf}", payload.get(leaf, default))
    work.set(connector, "Transaction.CurrentTransactionId", 0)
    site_limit.session_changed(cp)
    _store_samples(work, session, tx.connector_id, tx.pk, payload.get("transactionData") or [])
    return response


def charger_time(text):
    """A charger's timestamp as an aware datetime (schema-checked as date-time), None if unreadable."""
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _store_samples(work, session, connector_id, transaction_id, meter_values):
    for meter_value in meter_values:
        for sampled in meter_value["sampledValue"]:
            work.sample(
                charge_point_id=session.cp.id,
                connector_id=connector_id,
                transaction_id=transaction_id,
                timestamp=meter_value["timestamp"],
                measurand=sampled.get("measurand", "Energy.Active.Import.Register"),
                phase=sampled.get("phase", ""),
                unit=sampled.get("unit", "Wh"),
                location=sampled.get("location", "Outlet"),
                context=sampled.get("context", "Sample.Periodic"),
                format=sampled.get("format", "Raw"),
                value=sampled["value"],
                value_number=None if sampled.get("format") == "SignedData" else _number(sampled["value"]),
                received_at=work.now,
            )


@handles("MeterValues")
def meter_values(work, session, payload):
    connector_id = payload["connectorId"]
    work.set(session.target(connector_id), "MeterValues", payload["meterValue"])
    _store_samples(work, session, connector_id, payload.get("transactionId"), payload["meterValue"])
    metering.meter_values(work, session, connector_id, payload.get("transactionId"), payload["meterValue"])
    return {}


@handles("DataTransfer")
def data_transfer(work, session, payload):
    work.set(session.cp, "State.DataTransfer", payload)
    return {"status": "UnknownVendorId"}


@handles("DiagnosticsStatusNotification")
def diagnostics_status(work, session, payload):
    work.set(session.cp, "State.DiagnosticsStatusNotification", payload["status"])
    return {}


@handles("FirmwareStatusNotification")
def firmware_status(work, session, payload):
    work.set(session.cp, "State.FirmwareStatusNotification", payload["status"])
    return {}


def _store_payload(element_path):
    def handler(work, session, payload):
        work.set(session.cp, element_path, payload)
        return {}

    return handler


handles("SecurityEventNotification")(_store_payload("State.SecurityEventNotification"))
handles("SignedFirmwareStatusNotification")(_store_payload("State.SignedFirmwareStatusNotification"))
handles("LogStatusNotification")(_store_payload("State.LogStatusNotification"))


@handles("SignCertificate")
def sign_certificate(work, session, payload):
    # No certificate handling yet: refuse rather than pretend.
    return {"status": "Rejected"}


def current_time():
    return now_iso(timezone.now())
