"""What a connection knows about its charge point while it is open."""
import time

from django.conf import settings

from .. import charge_points


BOOT_CONFIG_PATHS = ("Config.RegistrationStatus", "Config.HeartbeatInterval")
BOOT_CONFIG_FRESH_SECONDS = 60  # a boot this soon after the handshake answers from what it read


class ChargerSession:
    def __init__(self, cp, client_id, registration_status, max_connector, heartbeat_interval, default_heartbeat_interval=None):
        self.cp = cp  # DpRef of the charge point datapoint
        self.client_id = client_id
        # The status last answered to a BootNotification: what is in force (WinCC OA semantics:
        # a change of Config.RegistrationStatus takes effect at the next boot).
        self.registration_status = registration_status
        self.max_connector = max_connector or settings.OCPP_MAX_CONNECTORS
        self.default_heartbeat_interval = default_heartbeat_interval or settings.OCPP_HEARTBEAT_INTERVAL  # the site's, else the installation's
        self.heartbeat_interval = heartbeat_interval or self.default_heartbeat_interval
        self.connectors = {}
        self.uncommitted_connectors = []  # created in the open batch: forgotten if it rolls back
        self.known_connector_count = 0
        self.errored_actions = set()  # actions whose Requests.<A>.Error is not empty
        self.hook_failed_actions = set()  # actions whose Requests.<A>.HookError is not empty
        self.alarms = set()  # (connector id, kind) of its active alarms (datapoints/alarms.py)
        self.bad_frames = 0
        self.security_profile = 0  # the profile its handshake met (security.py)
        self.metering = None  # metering.record.ChargerMeter, loaded on the first meter reading
        self.boot_config = {}  # BOOT_CONFIG_PATHS as last read, kept current by operators' writes
        self.boot_config_read_at = float("-inf")

    def remember_boot_config(self, values):
        """What BootNotification answers from, read at the handshake or by a later boot. A reconnect
        storm's boots so need no query each (each round trip from the database thread also waits
        for the GIL); operators' writes reach the session as cp.config (config_written)."""
        self.boot_config = {path: values.get(path) for path in BOOT_CONFIG_PATHS}
        self.boot_config_read_at = time.monotonic()
        return self.boot_config

    def fresh_boot_config(self):
        if time.monotonic() - self.boot_config_read_at < BOOT_CONFIG_FRESH_SECONDS:
            return self.boot_config
        return None

    def config_written(self, path, value):
        if path in self.boot_config:
            self.boot_config[path] = value

    @property
    def accepted(self):
        return self.registration_status == "Accepted"

    def connector(self, connector_id):
        """DpRef of a connector; creates the datapoint on first use. Database thread only."""
        dp = self.connectors.get(connector_id)
        if dp is None:
            dp = charge_points.connector(self.cp, connector_id)
            self._learn_connector(connector_id, dp)
        return dp

    def _learn_connector(self, connector_id, dp):
        self.connectors[connector_id] = dp
        self.uncommitted_connectors.append(connector_id)

    def committed(self):
        """The batch this session's work was in is committed: its new connectors are for good."""
        self.uncommitted_connectors.clear()

    def rolled_back(self):
        """The batch rolled back: connectors created in it do not exist."""
        for connector_id in self.uncommitted_connectors:
            self.connectors.pop(connector_id, None)
        self.uncommitted_connectors.clear()

    def target(self, connector_id):
        """Connector 0 is the charge point itself."""
        return self.cp if connector_id == 0 else self.connector(connector_id)


def create_needed_connectors(needs):
    """Before a batch's units run: create in one statement the connectors [(session, connector id)]
    they will write to and their sessions have not seen (a reconnect storm of new chargers
    otherwise creates them one by one, two round trips each). Returns the initial element writes
    to store with the batch. Database thread."""
    missing = {(session.cp.id, n): (session, n) for session, n in needs if n not in session.connectors}
    if not missing:
        return []
    refs, writes = charge_points.create_connectors([(session.cp, n) for session, n in missing.values()])
    for key, (session, n) in missing.items():
        session._learn_connector(n, refs[key])
    return writes
