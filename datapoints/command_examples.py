"""One working example per OCPP 1.6 command: docs/commands.md is generated from these
(`python manage.py commands_doc`), and the tests send every one to a schema-validating charger."""

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUexample\n-----END CERTIFICATE-----"
HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "2b1e9d0c", "issuerKeyHash": "7f3a5c11", "serialNumber": "01"}

# action -> (what it does, example payload)
EXAMPLES = {
    "CancelReservation": ("Cancel a reservation made with ReserveNow.", {"reservationId": 17}),
    "ChangeAvailability": ("Make a connector (0: the whole charger) Operative or Inoperative; the outcome lands in `State.Availability`.", {"connectorId": 1, "type": "Inoperative"}),
    "ChangeConfiguration": ("Set one configuration key; when accepted it is mirrored in `Configuration.<key>`.", {"key": "MeterValueSampleInterval", "value": "60"}),
    "ClearCache": ("Clear the charger's authorization cache.", {}),
    "ClearChargingProfile": ("Remove charging profiles (all, or by id, connector, purpose, stack level).", {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile"}),
    "DataTransfer": ("Vendor-specific message.", {"vendorId": "go-e", "messageId": "setLedColor", "data": "green"}),
    "GetCompositeSchedule": ("Ask for the schedule that results from all profiles, for a duration in seconds.", {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"}),
    "GetConfiguration": ("Read configuration keys (all when `key` is left out); the answer fills `Configuration.*`.", {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]}),
    "GetDiagnostics": ("Have the charger upload diagnostics to a URL.", {"location": "ftp://diag.example.com/uploads/", "retries": 2}),
    "GetLocalListVersion": ("Read the local authorization list version; stored in `State.LocalListVersion`.", {}),
    "RemoteStartTransaction": ("Start a session for an id tag (only to an Accepted charger).", {"connectorId": 1, "idTag": "RFID-0042"}),
    "RemoteStopTransaction": ("Stop a running transaction (only to an Accepted charger).", {"transactionId": 1}),
    "ReserveNow": ("Reserve a connector for an id tag until a time.", {"connectorId": 1, "expiryDate": "2026-11-21T18:00:00Z", "idTag": "RFID-0042", "reservationId": 17}),
    "Reset": ("Soft or Hard reset; the answer lands in `State.LastReset`.", {"type": "Soft"}),
    "SendLocalList": ("Replace or update the local authorization list; an accepted list's version goes to `State.LocalListVersion`.", {"listVersion": 2, "updateType": "Full", "localAuthorizationList": [{"idTag": "RFID-0042", "idTagInfo": {"status": "Accepted"}}]}),
    "SetChargingProfile": (
        "Install a charging profile. This one is the peak-hours rule: at most 8 A for the whole charger from 16:00 for two hours, every day.",
        {
            "connectorId": 0,
            "csChargingProfiles": {
                "chargingProfileId": 1600,
                "stackLevel": 1,
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Recurring",
                "recurrencyKind": "Daily",
                "chargingSchedule": {
                    "startSchedule": "2026-11-21T16:00:00Z",
                    "duration": 7200,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}],
                },
            },
        },
    ),
    "TriggerMessage": ("Ask the charger to send a message now (BootNotification, Heartbeat, MeterValues, StatusNotification, ...).", {"requestedMessage": "StatusNotification", "connectorId": 1}),
    "UnlockConnector": ("Unlock a stuck connector.", {"connectorId": 1}),
    "UpdateFirmware": ("Have the charger download and install firmware from a URL after a date.", {"location": "https://fw.example.com/charger-60.0.bin", "retrieveDate": "2026-11-22T02:00:00Z"}),
    "ExtendedTriggerMessage": ("Security extension: trigger a message, including security ones.", {"requestedMessage": "SignChargePointCertificate"}),
    "GetLog": ("Security extension: have the charger upload a log.", {"logType": "SecurityLog", "requestId": 7, "log": {"remoteLocation": "https://logs.example.com/upload"}}),
    "SignedUpdateFirmware": (
        "Security extension: firmware update with a signed image.",
        {"requestId": 8, "firmware": {"location": "https://fw.example.com/charger-60.0.bin", "retrieveDateTime": "2026-11-22T02:00:00Z", "signingCertificate": CERT, "signature": "c2lnbmF0dXJl"}},
    ),
    "InstallCertificate": ("Security extension: install a root certificate.", {"certificateType": "CentralSystemRootCertificate", "certificate": CERT}),
    "GetInstalledCertificateIds": ("Security extension: list installed root certificates.", {"certificateType": "CentralSystemRootCertificate"}),
    "DeleteCertificate": ("Security extension: delete an installed certificate by its hash data.", {"certificateHashData": HASH}),
    "CertificateSigned": ("Security extension: send the signed charger certificate chain.", {"certificateChain": CERT}),
}


def commands_markdown():
    import json

    lines = [
        "# Commands to chargers",
        "",
        "Generated by `python manage.py commands_doc > docs/commands.md` from `datapoints/command_examples.py`;",
        "a test fails when the two differ, and the tests send every example below to a schema-validating charger.",
        "",
        "Send any of them from the shell (through whichever node holds the charger):",
        "",
        "```sh",
        "python manage.py ocpp_command _ChargePoint0001 Reset '{\"type\": \"Soft\"}' --timeout 30",
        "```",
        "",
        "It prints the charger's answer as JSON. Exit codes: 0 answered, 2 CALLERROR (or an answer that breaks",
        "the schema), 3 timeout, 4 charger offline (known at once), 1 refused before sending (unknown charger",
        "or action, a payload the 1.6 schema refuses, RemoteStart/RemoteStop to a charger that is not Accepted).",
        "From Python, `datapoints.commands.send_command(cp, action, payload, timeout=...)` (or",
        "`await send_command_async(...)`) returns the same outcome. Every command is recorded in",
        "`Commands.<Action>.Request` at once and `.Response` or `.Error` when it ends.",
        "",
    ]
    for action, (meaning, payload) in EXAMPLES.items():
        lines += [f"## {action}", "", meaning, "", "```sh", f"python manage.py ocpp_command _ChargePoint0001 {action} '{json.dumps(payload)}'", "```", ""]
    return "\n".join(lines)
