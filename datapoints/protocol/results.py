"""What a charger's answer to a command changes, beyond `Commands.<Action>.Response`.

One function per action, registered with @effect(Action), run in the recorder batch that stores
the answer: `(work, session, request, response)`.
"""
from .. import reservations
from ..charge_points import element_values
from ..elements import CSMS_ACTIONS

EFFECTS = {}
SECRET_KEYS = {"AuthorizationKey"}  # configuration keys whose value is never stored or logged


def effect(action):
    assert action in CSMS_ACTIONS, action

    def register(function):
        EFFECTS[action] = function
        return function

    return register


def apply(work, session, action, request, response):
    function = EFFECTS.get(action)
    if function is not None:
        function(work, session, request, response)


@effect("GetConfiguration")
def get_configuration(work, session, request, response):
    cp = session.cp
    read_only = []
    for item in response.get("configurationKey") or []:
        key = item["key"]
        if key in SECRET_KEYS:
            continue
        work.set(cp, f"Configuration.{key}", item.get("value", ""))
        if item.get("readonly"):
            read_only.append(key)
    unknown = response.get("unknownKey") or []
    if request.get("key"):  # some keys asked (e.g. by charging control): the others' flags stay
        asked = set(request["key"])
        before = element_values(cp.id, ["State.ConfigurationReadOnly", "State.ConfigurationUnknownKeys"])
        read_only += [k for k in before.get("State.ConfigurationReadOnly") or [] if k not in asked]
        unknown = [k for k in before.get("State.ConfigurationUnknownKeys") or [] if k not in asked] + unknown
    work.set(cp, "State.ConfigurationReadOnly", sorted(set(read_only)))
    work.set(cp, "State.ConfigurationUnknownKeys", unknown)


@effect("ChangeConfiguration")
def change_configuration(work, session, request, response):
    if response["status"] in ("Accepted", "RebootRequired") and request["key"] not in SECRET_KEYS:
        work.set(session.cp, f"Configuration.{request['key']}", request["value"])


@effect("ChangeAvailability")
def change_availability(work, session, request, response):
    connector_id, kind = request["connectorId"], request["type"]
    if connector_id > session.max_connector:
        return
    if response["status"] == "Accepted":
        work.set(session.target(connector_id), "State.Availability", kind)
    elif response["status"] == "Scheduled":
        work.set(session.target(connector_id), "State.Availability", f"Scheduled: {kind}")


@effect("Reset")
def reset(work, session, request, response):
    work.set(session.cp, "State.LastReset", {"type": request["type"], "status": response["status"], "at": work.now.isoformat()})


@effect("GetLocalListVersion")
def get_local_list_version(work, session, request, response):
    work.set(session.cp, "State.LocalListVersion", response["listVersion"])


@effect("SendLocalList")
def send_local_list(work, session, request, response):
    if response["status"] == "Accepted":
        work.set(session.cp, "State.LocalListVersion", request["listVersion"])


@effect("ReserveNow")
def reserve_now(work, session, request, response):
    reservations.answered(session.cp.id, request, response["status"])


@effect("CancelReservation")
def cancel_reservation(work, session, request, response):
    reservations.cancel_answered(session.cp.id, request["reservationId"], response["status"])


MASK = "********"


def redacted(action, payload):
    """The payload as it may be stored and logged: secrets replaced."""
    if action == "ChangeConfiguration" and payload.get("key") in SECRET_KEYS:
        return {**payload, "value": MASK}
    return payload


def redacted_response(action, payload):
    """A charger's answer to `action` as it may be logged: secrets replaced."""
    if action == "GetConfiguration" and isinstance(payload, dict) and isinstance(payload.get("configurationKey"), list):
        keys = [{**item, "value": MASK} if isinstance(item, dict) and item.get("key") in SECRET_KEYS and "value" in item else item for item in payload["configurationKey"]]
        return {**payload, "configurationKey": keys}
    return payload
