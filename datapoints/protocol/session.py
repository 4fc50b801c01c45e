"""What a connection knows about its charge point while it is open."""
from django.conf import settings

from .. import charge_points


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
        self.known_connector_count = 0
        self.errored_actions = set()  # actions whose Requests.<A>.Error is not empty
        self.hook_failed_actions = set()  # actions whose Requests.<A>.HookError is not empty
        self.alarms = set()  # (connector id, kind) of its active alarms (datapoints/alarms.py)
        self.bad_frames = 0
        self.security_profile = 0  # the profile its handshake met (security.py)
        self.metering = None  # metering.record.ChargerMeter, loaded on the first meter reading

    @property
    def accepted(self):
        return self.registration_status == "Accepted"

    def connector(self, connector_id):
        """DpRef of a connector; creates the datapoint on first use. Database thread only."""
        dp = self.connectors.get(connector_id)
        if dp is None:
            dp = charge_points.connector(self.cp, connector_id)
            self.connectors[connector_id] = dp
        return dp

    def target(self, connector_id):
        """Connector 0 is the charge point itself."""
        return self.cp if connector_id == 0 else self.connector(connector_id)
