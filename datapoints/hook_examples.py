"""Working examples from docs/hooks.md (tests/test_hooks.py runs them). Load them with
OCPP_HOOK_MODULES=datapoints.hook_examples, or copy one into your own module."""
from datetime import datetime, timezone

from datapoints.commands import send_command
from datapoints.hooks import request_hook

# --- an RFID allow-list with expiry -------------------------------------------------------------
ALLOWED = {
    "RFID-STAFF-01": None,  # no expiry
    "RFID-GUEST-07": "2026-12-31T23:59:59+00:00",
}


@request_hook("Authorize")
def rfid_allow_list(request, cp):
    tag = request["idTag"]
    if tag not in ALLOWED:
        return {"idTagInfo": {"status": "Invalid"}}
    expiry = ALLOWED[tag]
    if expiry and datetime.fromisoformat(expiry) <= datetime.now(timezone.utc):
        return {"idTagInfo": {"status": "Expired"}}
    info = {"status": "Accepted"}
    if expiry:
        info["expiryDate"] = expiry
    return {"idTagInfo": info}


# --- DataTransfer for one vendor id ----------------------------------------------------------------
@request_hook("DataTransfer")
def go_e_tariff(request, cp):
    if request["vendorId"] != "go-e":
        return {"status": "UnknownVendorId"}
    if request.get("messageId") == "getTariff":
        return {"status": "Accepted", "data": "0.32 EUR/kWh"}
    return {"status": "UnknownMessageId"}


# --- StartTransaction with a current limit, followed by SetChargingProfile -------------------------
FLEET_LIMIT_A = 16.0


@request_hook("StartTransaction")
def limit_fleet_sessions(request, cp):
    answer = dict(cp.default_answer)  # the built-in answer: the transactionId and the tag's status
    if request["idTag"].startswith("FLEET-") and answer["idTagInfo"]["status"] == "Accepted":
        profile = {
            "chargingProfileId": 100,
            "transactionId": answer["transactionId"],
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": FLEET_LIMIT_A}]},
        }
        send_command(cp.name, "SetChargingProfile", {"connectorId": request["connectorId"], "csChargingProfiles": profile})
    return answer
