import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datapoints import hooks
from datapoints.management.arguments import charge_point_argument, json_argument
from datapoints.models import HookSetting
from datapoints.protocol import errors, validation


class Command(BaseCommand):
    help = (
        "Hook authors' tools. `hooks list`: loaded hooks, their actions, where they are on or off. "
        "`hooks check`: import every OCPP_HOOK_MODULES module, report import errors, unknown actions "
        "and bad signatures (exit 1 if any). `hooks try ACTION 'JSON' --cp DP`: run the hook on a "
        "sample request, validate its answer against the 1.6 schema, print it."
    )

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["list", "check", "try"])
        parser.add_argument("args", nargs="*", metavar="ACTION JSON")
        parser.add_argument("--cp", help="the charge point the hook sees (hooks try)")
        parser.add_argument("--modules", help="comma-separated modules instead of OCPP_HOOK_MODULES")

    def handle(self, *args, **options):
        what, cp, modules = options["what"], options.get("cp"), options.get("modules")
        modules = [m.strip() for m in modules.split(",")] if modules else settings.OCPP_HOOK_MODULES
        if not modules:
            raise CommandError("no hook modules: set OCPP_HOOK_MODULES (comma-separated dotted paths) or pass --modules")
        failures = self._load(modules)
        if what == "check":
            return self._check(modules, failures)
        if failures:
            raise CommandError("fix these first (hooks check): " + "; ".join(f"{m}: {e}" for m, e in failures.items()))
        if what == "list":
            return self._list()
        return self._try(args, cp)

    @staticmethod
    def _load(modules):
        failures = {}
        for module in modules:
            try:
                failures.update(hooks.load_hook_modules([module]) or {})
            except hooks.HookDefinitionError as exc:
                failures[module] = str(exc)
        return failures

    def _check(self, modules, failures):
        for module in modules:
            self.stdout.write(f"{module}: {'FAILED ' + failures[module] if module in failures else 'ok'}")
        count = len(hooks.REQUEST_HOOKS) + len(hooks.CHANGE_HOOKS)
        if failures:
            raise CommandError(f"{len(failures)} of {len(modules)} hook modules failed to load")
        self.stdout.write(f"{count} hook(s) loaded")

    def _list(self):
        settings_by_hook = {}
        for setting in HookSetting.objects.select_related("charge_point"):
            settings_by_hook.setdefault(setting.hook, []).append(f"{'on' if setting.enabled else 'off'} for {setting.charge_point or 'all'}")
        for action, hook in sorted(hooks.REQUEST_HOOKS.items()):
            where = ", ".join(settings_by_hook.get(hook.name, [])) or "on for all"
            self.stdout.write(f"request {action:34s} {hook.name}  ({where})")
        for hook in hooks.CHANGE_HOOKS:
            self.stdout.write(f"change  {hook.dp_type}.{hook.path}  {hook.name}")

    def _try(self, args, cp):
        if len(args) != 2 or not cp:
            raise CommandError("usage: hooks try ACTION 'JSON' --cp DP_OR_CLIENT_ID")
        action, text = args
        hook = hooks.REQUEST_HOOKS.get(action)
        if hook is None:
            raise CommandError(f"no {action} hook is loaded; loaded: {', '.join(sorted(hooks.REQUEST_HOOKS)) or 'none'}")
        request = json_argument(text, "request")
        try:
            validation.validate(action, request)
        except errors.CallError as exc:
            raise CommandError(f"the sample request breaks the 1.6 schema: {exc.description}") from None
        dp = charge_point_argument(cp)
        from datapoints.commands import FOLLOW_UPS

        follow_ups = []
        token = FOLLOW_UPS.set(follow_ups)
        try:
            answer = hook.function(request, hooks.ChargePointView(dp))
        finally:
            FOLLOW_UPS.reset(token)
        try:
            if not isinstance(answer, dict):
                raise errors.FormationViolation(f"the hook returned {type(answer).__name__}, not a dict")
            validation.validate(action, answer, response=True)
        except errors.CallError as exc:
            raise CommandError(f"{hook.name} answered {answer!r}, which the charger would not get: {exc.description}") from None
        self.stdout.write(json.dumps(answer))
        for command in follow_ups:
            self.stderr.write(f"then (not sent by `try`): {command['action']} {json.dumps(command['payload'])} to {command['charge_point']}")
