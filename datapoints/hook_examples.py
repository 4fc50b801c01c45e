"""Working examples from docs/hooks.md (tests/test_hooks.py runs them). Load them with
OCPP_HOOK_MODULES=datapoints.hook_examples, or copy one into your own module."""
import logging
from datetime import datetime, timezone

from datapoints.commands import send_command
from datapoints.hooks import on_change, request_hook

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


# --- a notification when charging finishes, with the session's kWh -----------------------------------
notifications = logging.getLogger("site.notifications")


@on_change("_OCPP_1_6_Connector.Status.status", to="Finishing")
def charging_finished(dp, old, new):
    from datapoints.models import MeterSample

    transaction_id = dp["Transaction.Start.transactionId"]
    readings = MeterSample.objects.filter(transaction_id=transaction_id, measurand="Energy.Active.Import.Register", value_number__isnull=False)
    last = readings.order_by("-id").values_list("value_number", flat=True).first()
    stop = dp["Transaction.Stop.meterStop"] if dp["Transaction.Stop.transactionId"] == transaction_id else None
    wh = (stop if stop is not None else last or 0) - (dp["Transaction.Start.meterStart"] or 0)
    notifications.warning("Charging finished on %s (transaction %s): %.2f kWh", dp.name, transaction_id, wh / 1000)
