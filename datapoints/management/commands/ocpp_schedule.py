from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from datapoints.commands import CommandRefused
from datapoints.management.arguments import charge_point_argument, json_argument
from django.utils import timezone

from datapoints.schedules import ScheduleError, check_timing, create_schedule, record


class Command(BaseCommand):
    help = (
        "Schedule a command, run by Celery beat and a worker: "
        "ocpp_schedule DP_OR_CLIENT_ID|--all ACTION 'JSON' (--at ISO8601 | --cron 'm h dom mon dow'). "
        "Every run and each charger's outcome is kept (admin: Scheduled runs)."
    )

    def add_arguments(self, parser):
        parser.add_argument("args", nargs="+", metavar="[DP_OR_CLIENT_ID] ACTION JSON")
        parser.add_argument("--all", action="store_true", help="every accepted charge point, at the time of each run")
        parser.add_argument("--at", help="one run at this time, ISO 8601 (e.g. 2026-11-21T16:00:00+01:00; no offset means TIME_ZONE)")
        parser.add_argument("--cron", help="runs on this cron, 5 fields in TIME_ZONE (e.g. '0 16 * * *': every day at 16:00)")
        parser.add_argument("--name", help="a name for the schedule (default: made from the action and the timing)")
        parser.add_argument("--timeout", type=float, default=30, help="seconds each charger has to answer")

    def handle(self, *args, **options):
        expected = 2 if options["all"] else 3
        if len(args) != expected:
            raise CommandError("give DP_OR_CLIENT_ID ACTION JSON, or --all ACTION JSON")
        charge_points = [] if options["all"] else [charge_point_argument(args[0])]
        action, payload = args[-2], json_argument(args[-1])
        at = self._time(options["at"]) if options["at"] else None
        target = "every accepted charger" if options["all"] else charge_points[0].name
        name = options["name"] or f"{action} on {target} {'at ' + at.isoformat() if at else 'cron ' + (options['cron'] or '')}"
        try:
            check_timing(at, options["cron"], future_after=timezone.now())  # a past --at would fire at once
            command = create_schedule(name, action, payload, charge_points, options["all"], at, options["cron"], options["timeout"])
        except (ScheduleError, CommandRefused) as exc:
            record(None, "schedule_create", ok=False, outcome=str(exc), name=name, targets=charge_points, detail={"command": action, "via": "cli"})
            raise CommandError(str(exc)) from None
        record(None, "schedule_create", command, detail={"via": "cli"})
        self.stdout.write(f"scheduled {command.name!r} (id {command.id}): {action} on {target}")

    @staticmethod
    def _time(text):
        when = parse_datetime(text)
        if when is None:
            raise CommandError(f"--at {text!r} is not an ISO 8601 time, e.g. 2026-11-21T16:00:00+01:00")
        return make_aware(when) if is_naive(when) else when
