"""The element (DPE) catalogue of the two datapoint types.

Every path a datapoint can hold is declared here once: its value type, whether an operator may
write it, whether its changes are kept in the history, and what it means. `docs/datapoints.md`
is generated from this table (`python manage.py dp_doc`), so the two cannot drift apart.
"""
from dataclasses import dataclass

CHARGE_POINT = "_OCPP_1_6_ChargePoint"
CONNECTOR = "_OCPP_1_6_Connector"

STR, INT, FLOAT, BOOL, JSON, TIME = "string", "int", "float", "bool", "json", "time"
REGISTRATION_STATUSES = ("Accepted", "Pending", "Rejected")
SECURITY_PROFILES = (0, 1, 2, 3)
HEARTBEAT_SECONDS = (10, 86400)  # what a heartbeat interval may be, for a charge point or a site
MAX_CONNECTOR_ID = 1000  # no charger has more; the REST API's connector filters stop there too
MAX_AMPS = 5000.0  # a megawatt charger draws about 3000 A; more is a typing error


@dataclass(frozen=True)
class Element:
    path: str
    kind: str
    meaning: str
    writable: bool = False  # may an operator write it (dp_set, panel)?
    history: bool = True  # is every change kept in ElementChange?
    choices: tuple = ()
    minimum: float = None  # for numbers an operator writes: the range they must lie in
    maximum: float = None
    default_marker: int = None  # a number outside the range that means "the installation's default" (0)

    def parse(self, text):
        """Turn an operator's text (CLI, form) into a value of this element's type; ValueError
        says what to give (a number's range, a boolean's words)."""
        import json

        if self.kind == INT:
            try:
                value = int(text)
            except (TypeError, ValueError):
                raise ValueError(f"{_short(text)!r} is not a whole number{self._range_hint()}") from None
            return self.check(value)
        if self.kind == FLOAT:
            import math

            if not str(text).strip():
                return None  # empty: no value (e.g. Config.MaxCurrent: no limit)
            try:
                value = float(text)
            except (TypeError, ValueError):
                raise ValueError(f"{_short(text)!r} is not a number{self._range_hint()}") from None
            if not math.isfinite(value):
                raise ValueError(f"{_short(text)!r} is not a finite number{self._range_hint()}")
            return self.check(value)
        if self.kind == BOOL:
            lowered = str(text).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{text!r} is not a boolean; use true or false")
        if self.kind == JSON:
            return json.loads(text)
        return str(text)

    def check(self, value):
        """`value` if an operator may store it here (choices, a number's range, no NUL, no
        integer beyond 64 bits, no deep nesting: datapoints.values); ValueError otherwise."""
        from .values import check_storable

        if self.choices and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.kind in (INT, FLOAT) and isinstance(value, (int, float)) and not isinstance(value, bool) and not self.in_range(value):
            shown = value if isinstance(value, int) else f"{value:g}"
            raise ValueError(f"{shown} is out of range; give {self.range_text()}")
        return check_storable(value)

    def in_range(self, number):
        if self.default_marker is not None and number == self.default_marker:
            return True
        return (self.minimum is None or number >= self.minimum) and (self.maximum is None or number <= self.maximum)

    def range_text(self):
        """What a number written here may be, e.g. `10 to 86400, or 0 for the default`; "" unbounded."""
        if self.minimum is None and self.maximum is None:
            return ""
        if self.maximum is None:
            text = f"{self.minimum:g} or more"
        elif self.minimum is None:
            text = f"{self.maximum:g} or less"
        else:
            text = f"{self.minimum:g} to {self.maximum:g}"
        if self.default_marker is not None:
            text += f", or {self.default_marker} for the default"
        if self.kind == FLOAT:
            text += ", or leave it empty for none"
        return text

    def _range_hint(self):
        return f"; give {self.range_text()}" if self.range_text() else ""


def _short(text, limit=40):
    """An operator's text as an error message quotes it: 5000 digits are cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


# Actions a charge point sends to the central system (OCPP 1.6 + security extension).
CHARGER_ACTIONS = (
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
    "LogStatusNotification",
)

# Actions the central system sends to a charge point.
CSMS_ACTIONS = (
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
    "ExtendedTriggerMessage",
    "GetLog",
    "SignedUpdateFirmware",
    "InstallCertificate",
    "GetInstalledCertificateIds",
    "DeleteCertificate",
    "CertificateSigned",
)

STATUS_FIELDS = {
    "connectorId": (INT, "Connector the status is for (0 = the charge point)."),
    "status": (STR, "ChargePointStatus: Available, Preparing, Charging, SuspendedEVSE, SuspendedEV, Finishing, Reserved, Unavailable, Faulted."),
    "errorCode": (STR, "ChargePointErrorCode, NoError when all is well."),
    "info": (STR, "Free text from the charger about the error."),
    "timestamp": (STR, "Time the charger gives for the status."),
    "vendorId": (STR, "Vendor of the vendor-specific error code."),
    "vendorErrorCode": (STR, "Vendor-specific error code."),
}
DEVICE_INFO_FIELDS = (
    "chargePointVendor",
    "chargePointModel",
    "chargePointSerialNumber",
    "chargeBoxSerialNumber",
    "firmwareVersion",
    "iccid",
    "imsi",
    "meterType",
    "meterSerialNumber",
)
START_FIELDS = {
    "connectorId": INT,
    "idTag": STR,
    "meterStart": INT,
    "reservationId": INT,
    "timestamp": STR,
    "transactionId": INT,
}
STOP_FIELDS = {
    "idTag": STR,
    "meterStop": INT,
    "timestamp": STR,
    "transactionId": INT,
    "reason": STR,
    "transactionData": JSON,
}


def _request_elements(actions, prefix, direction):
    for action in actions:
        yield Element(f"{prefix}.{action}.Request", JSON, f"Last {action} {direction}, as JSON text; its time is the change time.", history=False)
        yield Element(f"{prefix}.{action}.Response", JSON, f"Answer to the last {action}, as JSON text; its time is the change time.", history=False)
        yield Element(f"{prefix}.{action}.Error", STR, f"Why the last {action} was not answered normally (error code and text), empty when it was.", history=True)
        if prefix == "Requests":
            yield Element(f"{prefix}.{action}.HookError", JSON, f"Why the {action} hook's answer was not used (hook, error, traceback, rejected answer, seconds); empty after its next success.", history=True)


def _status_elements():
    for leaf, (kind, meaning) in STATUS_FIELDS.items():
        yield Element(f"Status.{leaf}", kind, meaning)


# Derived from MeterValues (datapoints/metering/): normalised units, phases combined. Path, unit, meaning, history.
CONNECTOR_METERING = (
    ("Metering.Power.Active.Import", "kW", "Active power drawn, summed over the phases.", True),
    ("Metering.Power.Offered", "kW", "Maximum power offered to the EV.", False),
    ("Metering.Current.Import", "A", "Current drawn: the mean over the phases that carry it.", True),
    ("Metering.Current.Import.L1", "A", "Current drawn on L1.", False),
    ("Metering.Current.Import.L2", "A", "Current drawn on L2.", False),
    ("Metering.Current.Import.L3", "A", "Current drawn on L3.", False),
    ("Metering.Current.Offered", "A", "Maximum current offered to the EV.", False),
    ("Metering.Voltage", "V", "Voltage: the mean over L-N (L-L divided by √3).", True),
    ("Metering.Frequency", "Hz", "Grid frequency.", False),
    ("Metering.Power.Factor", "", "Power factor.", False),
    ("Metering.SoC", "%", "State of charge of the EV.", True),
    ("Metering.Temperature", "°C", "Temperature reported by the charger.", True),
    ("Metering.Energy.Active.Import.Register", "kWh", "Lifetime energy register, corrected: it only rises (a single drop is ignored as a glitch, a lasting drop is a meter reset carried as an offset; Config.EnergyUnitOverride applied).", True),
    ("Metering.Energy.Session", "kWh", "Energy of the running (or last) session: register minus meterStart, per-session counters detected; the final figure after StopTransaction; never negative.", True),
    ("Metering.Energy.Today", "kWh", "Energy since midnight in the site's time zone (else TIME_ZONE): the sum of the register's positive deltas.", False),
    ("Metering.Energy.Week", "kWh", "Energy since Monday 00:00 (ISO week) in the site's time zone.", False),
    ("Metering.Energy.Month", "kWh", "Energy since the first of the month in the site's time zone.", False),
)
CHARGE_POINT_METERING = (
    ("Metering.Power.Active.Import", "kW", "Active power of the charge point: the sum over its connectors (connector 0's own reading when it sends one and no connector does).", True),
    ("Metering.Energy.Today", "kWh", "Sum of the connectors' Metering.Energy.Today.", False),
    ("Metering.Energy.Week", "kWh", "Sum of the connectors' Metering.Energy.Week.", False),
    ("Metering.Energy.Month", "kWh", "Sum of the connectors' Metering.Energy.Month.", False),
)


def _metering_elements(table):
    for path, unit, meaning, history in table:
        yield Element(path, FLOAT, f"{meaning} Unit: {unit}." if unit else meaning, history=history)


def _charge_point_elements():
    yield Element("ClientId", STR, "OCPP identity of the charge point; written once at creation and never changed.")
    yield Element("Common.ConnState", STR, "Connection state: Disconnected, Connected (socket open, not accepted) or Registered (socket open and accepted).", choices=("Disconnected", "Connected", "Registered"))
    yield Element("State.Connected", BOOL, "True while the charge point has a websocket open to a node, whatever its registration status.")
    yield Element("State.ConnectedSince", TIME, "When the current (or last) connection was opened.")
    yield Element("State.DisconnectedSince", TIME, "When the last connection closed.")
    yield Element("State.LastHeartbeat", TIME, "When the last Heartbeat arrived.", history=False)
    yield Element("State.ReconnectCount", INT, "Connections opened after the first one.")
    yield Element("State.RemoteAddress", STR, "Address the charger connects from (X-Forwarded-For behind nginx).")
    yield Element("State.Subprotocol", STR, "Websocket subprotocol in use; empty when the charger offered none (served as 1.6).")
    yield Element("State.Node", STR, "Name of the server process that holds the connection.")
    yield Element("State.RegistrationStatus", STR, "Status last sent in a BootNotification answer; this is what is in force for the charger.", choices=("",) + REGISTRATION_STATUSES)
    yield Element("State.LastBoot", TIME, "When the last BootNotification arrived.")
    yield Element("State.BadFrameCount", INT, "Frames that could not be answered at all (no usable message id), counted.")
    yield Element("State.DiagnosticsStatusNotification", STR, "Last DiagnosticsStatus: Idle, Uploaded, UploadFailed, Uploading.")
    yield Element("State.FirmwareStatusNotification", STR, "Last FirmwareStatus: Downloaded, DownloadFailed, Downloading, Idle, InstallationFailed, Installing, Installed.")
    yield Element("State.SignedFirmwareStatusNotification", JSON, "Last SignedFirmwareStatusNotification payload (security extension).")
    yield Element("State.LogStatusNotification", JSON, "Last LogStatusNotification payload (security extension).")
    yield Element("State.SecurityEventNotification", JSON, "Last SecurityEventNotification payload (security extension).")
    yield Element("State.DataTransfer", JSON, "Last DataTransfer payload received.")
    yield Element("State.NumberOfConnectors", INT, "Highest connector id the charger has reported.")
    yield Element("State.Availability", STR, "Availability of the charge point as a whole (connector 0) after an accepted ChangeAvailability: Operative or Inoperative; `Scheduled: <type>` when the charger will change after its transactions.")
    yield Element("State.LastReset", JSON, "Last Reset command and the charger's answer: {type, status, at}.")
    yield Element("State.LocalListVersion", INT, "Local authorization list version: from GetLocalListVersion, or from an accepted SendLocalList.")
    yield Element("State.LocalListSync", JSON, "Outcome of the last local authorization list sync (datapoints/local_list.py): {status: in_sync, sent, failed, unsupported or too_long, text, version, at}.")
    yield Element("State.ConfigurationReadOnly", JSON, "Configuration keys the charger reported read-only in its last GetConfiguration answer.")
    yield Element("State.ConfigurationUnknownKeys", JSON, "Keys the charger reported unknown in its last GetConfiguration answer.")
    yield Element("Config.RegistrationStatus", STR, "Accepted, Pending or Rejected: the answer to the next BootNotification. Writing Accepted on a connected Pending charger triggers a BootNotification at once.", writable=True, choices=REGISTRATION_STATUSES)
    yield Element("Config.Password", STR, "Salted SHA-256 hash of the 20-byte key (security profiles 1-2); set with `ocpp_password`, never the key itself.")
    yield Element("Config.SecurityProfile", INT, "OCPP security profile the charger must meet at the handshake: 0 none (a password, once set, is still asked), 1 HTTP Basic password, 2 password over TLS, 3 TLS client certificate (CN = ClientId or serial number, O = OCPP_CERT_ORGANIZATION). Unset: 1 when a password is set, else 0. TLS ends at nginx; see docs/deployment.md.", writable=True, choices=SECURITY_PROFILES)
    yield Element("Config.HeartbeatInterval", INT, "Heartbeat interval sent on acceptance, seconds; 0 means the site's heartbeat interval, else OCPP_HEARTBEAT_INTERVAL.", writable=True, minimum=HEARTBEAT_SECONDS[0], maximum=HEARTBEAT_SECONDS[1], default_marker=0)
    yield Element("Config.MaxConnectors", INT, "Highest connector id this charger may use; 0 means OCPP_MAX_CONNECTORS.", writable=True, minimum=1, maximum=MAX_CONNECTOR_ID, default_marker=0)
    yield Element("Config.Site", STR, "Slug of the site that owns the charge point, empty for none; set with `site_assign` or in the panel's site page.")
    yield Element("Config.Description", STR, "Free text for operators (site, bay, notes).", writable=True)
    yield Element("Config.EnergyUnitOverride", STR, "Correct a charger that labels its energy wrongly: `kWh` reads values labelled Wh as kWh (the 1000x quirk), `Wh` reads values labelled kWh as Wh; empty reads them as labelled.", writable=True, choices=("", "Wh", "kWh"))
    yield Element("State.EnergyUnitSuspect", BOOL, "True when the energy register rose about 1000x too slowly for the measured power (values labelled Wh that are kWh); set Config.EnergyUnitOverride to kWh to correct it.")
    yield Element("Config.MaxCurrent", FLOAT, "Maximum current for the charge point, amps; applied to the charger as a charging profile when written and when it connects. Empty: no limit set by the central system.", writable=True, minimum=0, maximum=MAX_AMPS)
    yield Element("State.MaxCurrent", FLOAT, "Maximum current the charger accepted (amps), as last applied.")
    yield Element("State.MaxCurrentError", STR, "Why the last Config.MaxCurrent could not be applied; empty when it was.")
    yield Element("State.MaxCurrentMethod", JSON, "The charging-profile kind that worked on this charger (purpose, kind, stack level, rate unit), tried first next time.")
    yield Element("State.MaxCurrentSiteShare", FLOAT, "Amps this charge point gets of its site's max current (shared equally among the site's charging connectors, capped by Config.MaxCurrent; the whole site limit while nothing charges); empty when its site has no limit. Unit: A.")
    yield Element("Alarms.Active", JSON, "Kinds of the alarms active on the charge point or any of its connectors, sorted (faulted, offline, hook_failed, energy_negative, energy_unit, meter_reset); [] when none. Rewritten when an alarm comes or goes.")
    yield Element("Alarms.Count", INT, "Number of active alarms on the charge point and its connectors.")
    for field in DEVICE_INFO_FIELDS:
        yield Element(f"DeviceInfo.{field}", STR, f"`{field}` from the last BootNotification.")
    yield from _status_elements()
    yield Element("MeterValues", JSON, "The last MeterValues telegram for connector 0 (the main meter), its meterValue list.", history=False)
    yield from _metering_elements(CHARGE_POINT_METERING)
    yield Element("Metering.SkippedValues", INT, "sampledValues the charger sent without a usable number (empty, SignedData, not numeric), counted since the charge point was created.", history=False)
    yield from _request_elements(CHARGER_ACTIONS, "Requests", "request from the charger")
    yield from _request_elements(CSMS_ACTIONS, "Commands", "command sent to the charger")


def _connector_elements():
    yield Element("ConnectorId", INT, "Connector number on its charge point.")
    yield from _status_elements()
    yield Element("Transaction.CurrentTransactionId", INT, "Running transaction id, 0 when none runs.")
    yield Element("State.Availability", STR, "Availability after an accepted ChangeAvailability for this connector: Operative or Inoperative; `Scheduled: <type>` when the change waits for a transaction to end.")
    for leaf, kind in START_FIELDS.items():
        yield Element(f"Transaction.Start.{leaf}", kind, f"`{leaf}` of the last StartTransaction (transactionId: the id the central system gave).")
    for leaf, kind in STOP_FIELDS.items():
        yield Element(f"Transaction.Stop.{leaf}", kind, f"`{leaf}` of the last StopTransaction.")
    yield Element("MeterValues", JSON, "The last MeterValues telegram's meterValue list, as JSON text.", history=False)
    yield from _metering_elements(CONNECTOR_METERING)
    yield Element("Metering.Session.Duration", INT, "Seconds the running (or last) session has lasted, from its start time to the last reading (or its stop), by the charger's clock. Unit: s.", history=False)
    yield Element("Alarms.Active", JSON, "Kinds of the alarms active on this connector, sorted; [] when none. Rewritten when an alarm comes or goes.")
    yield Element("Alarms.Count", INT, "Number of active alarms on this connector.")
    yield Element("Metering.Tracking", JSON, "The metering's own bookkeeping for this connector (last raw register, reset offset, a drop waiting for confirmation, the time buckets' keys); kept so that a restart or another node carries on where it stopped.", history=False)


ELEMENTS = {
    CHARGE_POINT: {e.path: e for e in _charge_point_elements()},
    CONNECTOR: {e.path: e for e in _connector_elements()},
}


# Element families: paths whose last part is a name the charger chooses. `Configuration.<key>`
# mirrors the charger's configuration keys (GetConfiguration answers, accepted ChangeConfigurations).
FAMILIES = {
    CHARGE_POINT: {
        "Configuration.": Element(
            "Configuration.<key>",
            STR,
            "The charger's configuration key `<key>` (e.g. HeartbeatInterval, MeterValueSampleInterval), as the charger last reported it in a GetConfiguration answer, or as set by an accepted ChangeConfiguration. AuthorizationKey is never stored.",
        ),
    },
    CONNECTOR: {},
}


def element(dp_type, path):
    """The Element of `path` on a datapoint type (a family member too), or KeyError."""
    spec = ELEMENTS[dp_type].get(path)
    if spec is not None:
        return spec
    for prefix, family in FAMILIES[dp_type].items():
        if path.startswith(prefix) and len(path) > len(prefix):
            return family
    raise KeyError(path)
