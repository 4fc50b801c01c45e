"""Who may open a websocket at /ocpp/<ClientId> (or /ocpp/<site-slug>/<ClientId>), decided before
the handshake completes.

  bad ClientId                              -> 404
  /ocpp/<site>/...: no such site, or the
  charge point is in another site           -> 404 (a charger cannot pose under another site)
  unknown ClientId, auto-create off         -> 404, recorded in the unknown-charger list
  unknown ClientId, auto-create on          -> a new datapoint, OCPP_NEW_CHARGE_POINT_STATUS
  (under /ocpp/<site>/: the site's own auto-create and new-charger status, when set)
  the charger's security profile is not met
  (no TLS for 2-3, no password set for 1-2,
  no valid certificate naming it for 3)     -> 403, with what to do (security.py)
  too many failed passwords lately          -> 429 (throttled, even with the right key)
  a password is needed and Basic auth is
  wrong                                     -> 401, counted
  otherwise                                 -> accepted
"""
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import Q

from .. import alarms, charge_points, passwords
from ..batching import GroupRunner
from ..elements import CHARGE_POINT
from ..models import Datapoint, Element, Site
from ..sites import place as place_in_site
from ..writes import ref
from . import security
from .session import ChargerSession

log = logging.getLogger(__name__)
_CONFIG_PATHS = [
    "Config.Password",
    "Config.SecurityProfile",
    "Config.MaxConnectors",
    "Config.HeartbeatInterval",
    "Config.RegistrationStatus",
    "State.RegistrationStatus",
    "State.NumberOfConnectors",
    "State.ConnectedSince",
    "State.ReconnectCount",
]


class Request(NamedTuple):
    client_id: str
    remote: str
    authorization: str = None
    site: object = None  # the slug in /ocpp/<site>/<ClientId>, _NO_SITE when it names none, or None
    tls: bool = False  # said by a trusted proxy (ocpp_dp/proxy.py)
    certificate: tuple = None  # (verify result, escaped PEM) from a trusted proxy, or None


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


class Gate(GroupRunner):
    """Handshakes queue here and are decided together: a reconnect storm of N chargers costs a
    few queries per flush, not a few per charger.

    On PostgreSQL the gate has a thread and a connection of its own, so handshakes are not decided
    only between the recorder's commits (docs/decisions/0022). SQLite takes one writer at a time
    (and the gate writes new chargers): there it shares the recorder's thread."""

    _executor = None

    async def decide(self, request):
        return await self.submit(request)

    def _in_database_thread(self):
        if connections["default"].vendor != "postgresql":
            return super()._in_database_thread()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="ocpp-gate")
        return database_sync_to_async(self._flush, thread_sensitive=False, executor=self._executor)

    def _flush(self, requests):
        with transaction.atomic():
            decisions, changes = decide_many(requests)
        return [(True, decision) for decision in decisions], changes


def decide_many(requests):
    """[Request] -> ([Decision], [Change]). Database thread."""
    sites = _sites(requests)
    requests = [r if r.site is None or r.site in sites else r._replace(site=_NO_SITE) for r in requests]
    valid = {}
    for client_id, *_rest in requests:
        try:
            valid[client_id] = charge_points.check_client_id(client_id)
        except charge_points.ClientIdError as exc:
            valid[client_id] = exc
    client_ids = [c for c, ok in valid.items() if not isinstance(ok, Exception)]
    dps = {dp.client_id: dp for dp in Datapoint.objects.filter(dp_type=CHARGE_POINT, client_id__in=client_ids)}
    dps, changes = _create_missing(requests, dps, [c for c in client_ids if c not in dps], sites)
    values, connectors = _load(dps.values())
    serials = _serials_for_certificates(dps.values(), values)
    heartbeats = _site_heartbeat_intervals(dps.values())
    active_alarms = alarms.active_keys([dp.id for dp in dps.values()])
    decisions = []
    for request in requests:
        client_id, remote, site_slug = request.client_id, request.remote, request.site
        if site_slug is _NO_SITE:
            log.warning("refused %r from %s: the URL names a site that does not exist", client_id, remote)
            decisions.append(Decision(404, "unknown site"))
        elif isinstance(valid[client_id], Exception):
            decisions.append(Decision(404, str(valid[client_id])))
        elif client_id not in dps:
            log.warning("refused unknown charger %r from %s (auto-create is off)", client_id, remote)
            decisions.append(Decision(404, "unknown charge point"))
        elif site_slug is not None and dps[client_id].site_id != sites[site_slug].id:
            log.warning("refused %r from %s: it is not in site %r", client_id, remote, site_slug)
            decisions.append(Decision(404, "unknown charge point"))
        else:
            dp = dps[client_id]
            facts = values.get(dp.id, {}), connectors.get(dp.id, {}), active_alarms.get(dp.id, set()), serials.get(dp.id, ()), heartbeats.get(dp.site_id)
            decisions.append(_decide(dp, request, *facts))
    return decisions, changes


_NO_SITE = object()  # the URL named a site that does not exist


def _sites(requests):
    slugs = {r.site for r in requests if r.site is not None}
    return {site.slug: site for site in Site.objects.filter(slug__in=slugs)} if slugs else {}


def _create_missing(requests, dps, missing, sites):
    """Create the unknown chargers that their site (or, on the plain URL, the installation) lets in."""
    site_of = {}  # the first request of a ClientId names its site, as before
    for request in requests:
        site_of.setdefault(request.client_id, request.site)
    by_status, refused = {}, []
    for client_id in (c for c in missing if site_of[c] is not _NO_SITE):
        site = sites.get(site_of[client_id])
        if _creates_unknown_chargers(site):
            by_status.setdefault(_new_status(site), []).append(client_id)
        else:
            refused.append(client_id)
    remotes = {r.client_id: r.remote for r in requests}
    for client_id in refused:
        charge_points.record_unknown(client_id, remotes[client_id])
    changes = []
    for status, client_ids in by_status.items():
        created, created_changes = charge_points.create_charge_points(client_ids, status)
        for dp in created.values():
            log.info("created %s for new charger %r (%s)", dp.name, dp.client_id, status)
        changes += created_changes + _put_into_sites(created.values(), site_of, sites)
        dps.update(created)
        late = [c for c in client_ids if c not in dps]  # created by another node meanwhile
        if late:
            dps.update({dp.client_id: dp for dp in Datapoint.objects.filter(client_id__in=late)})
    return dps, changes


def _creates_unknown_chargers(site):
    return site.creates_unknown_chargers() if site else settings.OCPP_AUTO_CREATE_CHARGE_POINTS


def _new_status(site):
    return site.new_status() if site else settings.OCPP_NEW_CHARGE_POINT_STATUS


def _put_into_sites(created, site_of, sites):
    """New charge points that connected at /ocpp/<site>/<ClientId> belong to that site."""
    by_site = {}
    for dp in created:
        slug = site_of[dp.client_id]
        if slug is not None:
            by_site.setdefault(slug, []).append(dp)
    changes = []
    for slug, dps in by_site.items():
        changes += place_in_site(sites[slug], dps)[1]
    return changes


def _load(dps):
    """Element values and connectors of the charge points, in two queries."""
    ids = [dp.id for dp in dps]
    values = {}
    rows = Element.objects.filter(datapoint_id__in=ids).filter(Q(path__in=_CONFIG_PATHS) | Q(path__startswith="Requests.", path__endswith="Error"))
    for dp_id, path, value in rows.values_list("datapoint_id", "path", "value"):
        values.setdefault(dp_id, {})[path] = value
    connectors = {}
    for connector in Datapoint.objects.filter(charge_point_id__in=ids).only("id", "name", "dp_type", "connector_id", "charge_point_id"):
        connectors.setdefault(connector.charge_point_id, {})[connector.connector_id] = ref(connector)
    return values, connectors


def _site_heartbeat_intervals(dps):
    """{site id: heartbeat interval} of the sites that set one, for chargers without their own."""
    site_ids = {dp.site_id for dp in dps if dp.site_id}
    if not site_ids:
        return {}
    return dict(Site.objects.filter(id__in=site_ids, heartbeat_interval__isnull=False).values_list("id", "heartbeat_interval"))


def _serials_for_certificates(dps, values):
    """Serial numbers of the profile-3 charge points (a certificate's CN may name one), one query."""
    ids = [dp.id for dp in dps if security.profile_of(values.get(dp.id, {})) == 3]
    serials = {}
    if ids:
        for dp_id, value in Element.objects.filter(datapoint_id__in=ids, path__in=security.SERIAL_PATHS).values_list("datapoint_id", "value"):
            serials.setdefault(dp_id, []).append(value)
    return serials


def _decide(dp, request, values, connectors, active_alarms=frozenset(), serials=(), site_heartbeat_interval=None):
    client_id, remote_address = dp.client_id, request.remote
    profile = security.profile_of(values)
    refused = security.refusal(profile, client_id, values, request.tls, request.certificate, serials)
    if refused:
        log.warning("refused %r from %s: %s", client_id, remote_address, refused)
        return Decision(403, refused)
    stored_hash = values.get("Config.Password")
    if security.needs_password(profile, values):
        keys = _failure_keys(client_id, remote_address)
        if _throttled(keys):
            log.warning("throttled %r from %s after repeated password failures", client_id, remote_address)
            return Decision(429, "too many failed attempts", [("Retry-After", str(settings.OCPP_AUTH_FAILURE_WINDOW))])
        password = passwords.basic_credentials(request.authorization, client_id)
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
        site_heartbeat_interval,
    )
    session.known_connector_count = values.get("State.NumberOfConnectors") or 0
    session.security_profile = profile
    session.remember_boot_config(values)
    # Connectors come with the handshake's queries, so StatusNotifications after a reconnect need
    # no query of their own; an error left from an earlier connection is cleared by the next success.
    session.connectors.update(connectors)
    session.errored_actions.update(p.split(".")[1] for p, v in values.items() if p.startswith("Requests.") and p.endswith(".Error") and v)
    # Hook failures and active alarms too, so the next success or status ends them (alarms.py).
    session.hook_failed_actions.update(p.split(".")[1] for p, v in values.items() if p.startswith("Requests.") and p.endswith(".HookError") and v)
    session.alarms.update(active_alarms)
    first = not values.get("State.ConnectedSince")
    count = (values.get("State.ReconnectCount") or 0) + (0 if first else 1)
    return Decision(0, session=session, reconnect_count=count, first_connection=first)


_gate = None


def get_gate():
    global _gate
    if _gate is None:
        _gate = Gate()
    return _gate
