"""Element access by path, `<datapoint>.<element path>`, e.g.
`_ChargePoint0001.DeviceInfo.chargePointVendor` or `_ChargePoint0001-1.Status.status`.
Used by the CLI, the admin and the panel; the websocket path writes through the recorder.
"""
from django.db import transaction

from .elements import ELEMENTS, element
from .events import publish_on_commit
from .models import Datapoint, Element
from .notify import notify_charge_point
from .writes import write_elements


class PathError(LookupError):
    pass


class NotWritable(PermissionError):
    pass


def resolve(path):
    """(Datapoint, Element spec) for a full path; PathError says what is wrong."""
    name, dot, element_path = path.partition(".")
    if not dot or not element_path:
        raise PathError(f"{path!r} is not a path; write <datapoint>.<element>, e.g. _ChargePoint0001.Config.RegistrationStatus")
    dp = Datapoint.objects.filter(name=name).first()
    if dp is None:
        raise PathError(f"no datapoint named {name!r}; `dp_get` lists nothing until a charger is created (dp_create CLIENT_ID)")
    try:
        spec = element(dp.dp_type, element_path)
    except KeyError:
        raise PathError(f"{dp.dp_type} has no element {element_path!r}; see docs/datapoints.md for the element list") from None
    return dp, spec


def get_value(path):
    dp, spec = resolve(path)
    return Element.objects.filter(datapoint=dp, path=path.partition(".")[2]).values_list("value", flat=True).first()


def set_value(path, value, operator=True):
    """Write one element. Operators may write only elements marked writable (Config.*)."""
    dp, spec = resolve(path)
    if operator and not spec.writable:
        writable = ", ".join(p for p, e in ELEMENTS[dp.dp_type].items() if e.writable)
        raise NotWritable(f"{spec.path} is not writable by operators; writable elements: {writable}")
    spec.check(value)
    element_path = path.partition(".")[2]
    with transaction.atomic():
        changes = write_elements([(dp, element_path, value)])
        publish_on_commit(changes)
        if dp.is_charge_point and element_path.startswith("Config."):
            message = {"type": "cp.config", "path": element_path, "value": value}
            transaction.on_commit(lambda: notify_charge_point(dp.client_id, message))
    return dp, spec
