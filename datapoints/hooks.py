"""The hook API for plant engineers.

    from datapoints.hooks import request_hook, on_change

    @request_hook("Authorize")
    def allow_list(request, cp):
        tag = cp.id_tag(request["idTag"])
        return {"idTagInfo": {"status": "Accepted" if tag else "Invalid"}}

    @on_change("_OCPP_1_6_Connector.Status.status", to="Finishing")
    def finished(dp, old, new):
        ...

A request hook is `(request: dict, cp: ChargePointView) -> dict`: the OCPP payload as sent
(camelCase) and a read-only view of the charge point; it returns the response payload. The
built-in handler has already stored the request and built its default answer (`cp.default_answer`);
if the hook fails, takes longer than OCPP_HOOK_TIMEOUT, or returns something the 1.6 schema
refuses, that default goes out and the failure is recorded in `Requests.<Action>.HookError`.
`send_command` called inside a hook is queued and sent after the answer (datapoints/commands.py).

Hook modules are listed in OCPP_HOOK_MODULES (comma-separated dotted paths). See docs/hooks.md.
"""
import importlib
import inspect
import logging
from dataclasses import dataclass

from django.conf import settings

from .elements import CHARGE_POINT, CHARGER_ACTIONS, CONNECTOR, ELEMENTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestHook:
    name: str  # module.function: how the admin and the CLI name it
    action: str
    function: object


@dataclass(frozen=True)
class ChangeHook:
    name: str
    dp_type: str
    path: str
    to: object
    from_: object
    function: object


REQUEST_HOOKS = {}  # action -> RequestHook (one per action; the last loaded wins, with a warning)
CHANGE_HOOKS = []
ANY = object()


class HookDefinitionError(ValueError):
    pass


def _name(function):
    return f"{function.__module__}.{function.__qualname__}"


def request_hook(action):
    if action not in CHARGER_ACTIONS:
        raise HookDefinitionError(f"@request_hook({action!r}): not a charger action; choose one of {', '.join(CHARGER_ACTIONS)}")

    def register(function):
        parameters = list(inspect.signature(function).parameters.values())
        if len(parameters) != 2 or any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters):
            raise HookDefinitionError(f"{_name(function)}: a request hook takes (request, cp), not {inspect.signature(function)}")
        hook = RequestHook(_name(function), action, function)
        previous = REQUEST_HOOKS.get(action)
        if previous and previous.name != hook.name:
            log.warning("%s replaces %s as the %s hook", hook.name, previous.name, action)
        REQUEST_HOOKS[action] = hook
        return function

    return register


def on_change(type_and_path, to=ANY, from_=ANY):
    dp_type, dot, path = type_and_path.partition(".")
    if dp_type not in (CHARGE_POINT, CONNECTOR) or path not in ELEMENTS.get(dp_type, {}):
        raise HookDefinitionError(f"@on_change({type_and_path!r}): write <type>.<element path>, e.g. {CONNECTOR}.Status.status")

    def register(function):
        if len(inspect.signature(function).parameters) != 3:
            raise HookDefinitionError(f"{_name(function)}: a change hook takes (dp, old, new)")
        CHANGE_HOOKS[:] = [h for h in CHANGE_HOOKS if h.name != _name(function)]
        CHANGE_HOOKS.append(ChangeHook(_name(function), dp_type, path, to, from_, function))
        return function

    return register


def load_hook_modules(modules=None):
    """Import every hook module; -> {module: error text} for those that failed (and are skipped)."""
    failures = {}
    for module in settings.OCPP_HOOK_MODULES if modules is None else modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a hook module must never stop the server
            failures[module] = f"{type(exc).__name__}: {exc}"
            log.error("hook module %s not loaded: %s", module, failures[module])
    return failures


def change_hooks_for(dp_type, path):
    return [h for h in CHANGE_HOOKS if h.dp_type == dp_type and h.path == path]


class ChargePointView:
    """Read-only view of a charge point for hooks: `cp["Status.status"]`, `cp.connector(1)[...]`,
    `cp.id_tag("RFID")` (-> {"status", "expiryDate", "parentIdTag"} or None), `cp.name`,
    `cp.client_id`, and `cp.default_answer` (the built-in answer to the current request)."""

    def __init__(self, datapoint, default_answer=None):
        self._dp = datapoint
        self.name = datapoint.name
        self.client_id = datapoint.client_id
        self.default_answer = default_answer
        self._values = None

    def __getitem__(self, path):
        if self._values is None:
            from .models import Element

            self._values = dict(Element.objects.filter(datapoint=self._dp).values_list("path", "value"))
        return self._values.get(path)

    def get(self, path, default=None):
        value = self[path]
        return default if value is None else value

    def connector(self, connector_id):
        from .models import Datapoint

        connector = Datapoint.objects.filter(charge_point=self._dp, connector_id=connector_id).first()
        return ChargePointView(connector) if connector else None

    def id_tag(self, id_tag):
        from django.utils import timezone

        from .models import IdTag

        tag = IdTag.objects.filter(id_tag=id_tag).first()
        return tag.id_tag_info(timezone.now()) if tag else None
