from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.charging.site_limit import parse_amps
from datapoints.elements import HEARTBEAT_SECONDS, REGISTRATION_STATUSES
from datapoints.sites import SiteError, create_site


class Command(BaseCommand):
    help = "Create a site (it owns charge points; operators get rights per site). Prints its slug."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short name in URLs and Config.Site, e.g. plant-a")
        parser.add_argument("--name", default="", help="display name (default: the slug)")
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Vienna (default UTC)")
        parser.add_argument("--max-current", default="", help="amps shared by the site's charging connectors (default: no limit); see site_limit")
        parser.add_argument("--auto-create", choices=("yes", "no"), help="create unknown chargers that connect at /ocpp/<slug>/<ClientId> (default: OCPP_AUTO_CREATE_CHARGE_POINTS)")
        parser.add_argument("--new-status", choices=REGISTRATION_STATUSES, help="registration status of a charger created there (default: OCPP_NEW_CHARGE_POINT_STATUS)")
        parser.add_argument("--heartbeat-interval", type=int, help="seconds, for its chargers without their own Config.HeartbeatInterval (default: OCPP_HEARTBEAT_INTERVAL)")

    def handle(self, slug, name, time_zone, max_current, **options):
        low, high = HEARTBEAT_SECONDS
        if options["heartbeat_interval"] is not None and not low <= options["heartbeat_interval"] <= high:
            raise CommandError(f"--heartbeat-interval must be {low} to {high} seconds")
        try:
            amps = parse_amps(max_current)
            site = create_site(slug, name, time_zone)
        except (SiteError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        detail = {"name": site.name, "time_zone": site.time_zone}
        chosen = {
            "max_current": amps,
            "auto_create": None if options["auto_create"] is None else options["auto_create"] == "yes",
            "new_charge_point_status": options["new_status"] or "",
            "heartbeat_interval": options["heartbeat_interval"],
        }
        chosen = {field: value for field, value in chosen.items() if value not in (None, "")}
        if chosen:
            for field, value in chosen.items():
                setattr(site, field, value)
            site.save(update_fields=list(chosen))
            detail.update(chosen)
        audit.record(None, "site_create", site=site, target=site.slug, detail=detail)
        self.stdout.write(site.slug)
