"""Giving a charge point a new 20-byte key: `ocpp_password` and the panel's Password button.

When the charger is connected and accepted, the key is sent to it first (ChangeConfiguration
AuthorizationKey) and the new hash is stored only if it accepts: otherwise the old key stays in
force, and charger and central system keep agreeing. A charger that is not connected gets the key
stored at once; the operator sets the same key on the charger.
"""
from dataclasses import dataclass

from . import passwords
from .charge_points import element_values
from .commands import send_command
from .paths import set_value


class KeyNotAccepted(RuntimeError):
    """The connected charger did not take the new key; the old one stays in force."""


@dataclass
class KeyResult:
    key_hex: str
    sent_to_charger: bool
    message: str


def online_and_accepted(dp):
    state = element_values(dp.id, ["State.Connected", "State.RegistrationStatus"])
    return state.get("State.Connected") is True and state.get("State.RegistrationStatus") == "Accepted"


def set_new_key(dp, raw=None, timeout=30):
    """Store (and, if connected, first send) a new key; -> KeyResult. Raises KeyNotAccepted."""
    raw = raw or passwords.new_key()
    sent = online_and_accepted(dp)
    if sent:
        message = _send_to_charger(dp, raw, timeout)
    else:
        message = f"{dp.name} is not connected and accepted: set this key on the charger itself (AuthorizationKey)."
    set_value(f"{dp.name}.Config.Password", passwords.make_hash(raw), operator=False)
    return KeyResult(raw.hex(), sent, message)


def _send_to_charger(dp, raw, timeout):
    outcome = send_command(dp, "ChangeConfiguration", {"key": "AuthorizationKey", "value": raw.hex()}, timeout=timeout)
    status = (outcome.response or {}).get("status") if outcome.status == "answered" else None
    if status not in ("Accepted", "RebootRequired"):
        why = f"it answered {status}" if status else f"{outcome.status}: {outcome.error}"
        raise KeyNotAccepted(f"{dp.name} did not accept the new key ({why}); the old key stays in force. Retry, or disconnect the charger and set the key on both sides.")
    return f"{dp.name} accepted the new key ({status}); it uses it from its next connection."
