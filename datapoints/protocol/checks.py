"""Checks of meaning, after the schema: values the schema allows but the system cannot take."""
from ..models import BIGINT_MAX, BIGINT_MIN, INT_MAX, INT_MIN
from . import errors

# Integer fields of charger->central-system payloads and the column range that stores them.
_INT32_FIELDS = {"connectorId", "transactionId", "reservationId"}


def _walk_ints(node, path=""):
    if isinstance(node, bool):
        return
    if isinstance(node, int):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_ints(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_ints(value, f"{path}[{index}]")


def check_integers(payload):
    """Every integer must fit its column: 32 bits for ids, 64 bits for meter readings."""
    for path, value in _walk_ints(payload):
        leaf = path.rsplit(".", 1)[-1]
        low, high = (INT_MIN, INT_MAX) if leaf in _INT32_FIELDS else (BIGINT_MIN, BIGINT_MAX)
        if not low <= value <= high:
            raise errors.PropertyConstraintViolation(f"{path} = {value} is out of range [{low}, {high}]", {"field": path})


def check_connector(payload, max_connector, allow_zero=True):
    connector_id = payload.get("connectorId")
    if connector_id is None:
        return
    lowest = 0 if allow_zero else 1
    if connector_id < lowest or connector_id > max_connector:
        raise errors.PropertyConstraintViolation(
            f"connectorId {connector_id} is outside {lowest}..{max_connector} for this charge point",
            {"field": "connectorId"},
        )


# Actions whose connectorId names a real connector (0 is not one).
CONNECTOR_ONLY = {"StartTransaction"}


def check_call(action, payload, max_connector):
    check_integers(payload)
    check_connector(payload, max_connector, allow_zero=action not in CONNECTOR_ONLY)
