"""Who may open a websocket at /ocpp/<ClientId>, decided before the handshake completes.

  bad ClientId                              -> 404
  unknown ClientId, auto-create off         -> 404, recorded in the unknown-charger list
  unknown ClientId, auto-create on          -> a new datapoint, OCPP_NEW_CHARGE_POINT_STATUS
  too many failed passwords lately          -> 429 (throttled, even with the right key)
  a password is set and Basic auth is wrong -> 401, counted
  otherwise                                 -> accepted
"""
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError

from .. import charge_points, passwords
from ..elements import CHARGE_POINT
from ..models import Datapoint
from ..writes import ref
from .session import ChargerSession

log = logging.getLogger(__name__)
_CONFIG_PATHS = [
    "Config.Password",
    "Config.MaxConnectors",
    "Config.HeartbeatInterval",
    "State.RegistrationStatus",
    "State.NumberOfConnectors",
    "State.ConnectedSince",
    "State.ReconnectCount",
]


@dataclass
class Decision:
    status: int  # 0: accept; otherwise the HTTP status of the refusal
    reason: str = ""
    headers: list = field(default_factory=list)
    session: ChargerSession = None
    reconnect_count: int = 0
    first_connection: bool = False


def _failure_keys(client_id, remote_address):
    return [f"ocpp:authfail:id:{client_id}", f"ocpp:authfail:ip:{remote_address}"]


def _throttled(keys):
    """Per ClientId the limit is OCPP_AUTH_FAILURE_LIMIT; per address ten times that, since many
    chargers of a site may share one address behind NAT."""
    counts = cache.get_many(keys)
    id_key, address_key = keys
    return counts.get(id_key, 0) >= settings.OCPP_AUTH_FAILURE_LIMIT or counts.get(address_key, 0) >= 10 * settings.OCPP_AUTH_FAILURE_LIMIT


def _count_failure(keys):
    for key in keys:
        cache.add(key, 0, settings.OCPP_AUTH_FAILURE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.OCPP_AUTH_FAILURE_WINDOW)


def _find_or_create(client_id, remote_address):
    dp = Datapoint.objects.filter(dp_type=CHARGE_POINT, client_id=client_id).first()
    if dp is not None:
        return dp
    if not settings.OCPP_AUTO_CREATE_CHARGE_POINTS:
        charge_points.record_unknown(client_id, remote_address)
        return None
    try:
        dp = charge_points.create_charge_point(client_id, settings.OCPP_NEW_CHARGE_POINT_STATUS)
    except IntegrityError:  # created by a parallel connection meanwhile
        return Datapoint.objects.get(dp_type=CHARGE_POINT, client_id=client_id)
    log.info("created %s for new charger %r from %s (%s)", dp.name, client_id, remote_address, settings.OCPP_NEW_CHARGE_POINT_STATUS)
    return dp


def decide(client_id, remote_address, authorization):
    """Run in the database thread."""
    try:
        charge_points.check_client_id(client_id)
    except charge_points.ClientIdError as exc:
        return Decision(404, str(exc))
    dp = _find_or_create(client_id, remote_address)
    if dp is None:
        log.warning("refused unknown charger %r from %s (auto-create is off)", client_id, remote_address)
        return Decision(404, "unknown charge point")
    values = charge_points.element_values(dp.id, _CONFIG_PATHS)
    stored_hash = values.get("Config.Password")
    if stored_hash:
        keys = _failure_keys(client_id, remote_address)
        if _throttled(keys):
            log.warning("throttled %r from %s after repeated password failures", client_id, remote_address)
            return Decision(429, "too many failed attempts", [("Retry-After", str(settings.OCPP_AUTH_FAILURE_WINDOW))])
        password = passwords.basic_credentials(authorization, client_id)
        if password is None or not passwords.password_matches(password, stored_hash):
            _count_failure(keys)
            log.warning("wrong or missing password for %r from %s", client_id, remote_address)
            return Decision(401, "authentication required", [("WWW-Authenticate", f'Basic realm="OCPP {client_id}"')])
    session = ChargerSession(
        ref(dp),
        client_id,
        values.get("State.RegistrationStatus") or "",
        values.get("Config.MaxConnectors"),
        values.get("Config.HeartbeatInterval"),
    )
    session.known_connector_count = values.get("State.NumberOfConnectors") or 0
    # Load the connectors now, in the handshake's query batch, so StatusNotifications after a
    # reconnect need no query of their own.
    for connector in Datapoint.objects.filter(charge_point_id=dp.id).only("id", "name", "dp_type", "connector_id"):
        session.connectors[connector.connector_id] = ref(connector)
    first = not values.get("State.ConnectedSince")
    count = (values.get("State.ReconnectCount") or 0) + (0 if first else 1)
    return Decision(0, session=session, reconnect_count=count, first_connection=first)
