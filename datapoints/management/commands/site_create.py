from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.charging.site_limit import parse_amps
from datapoints.sites import SiteError, create_site


class Command(BaseCommand):
    help = "Create a site (it owns charge points; operators get rights per site). Prints its slug."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short name in URLs and Config.Site, e.g. plant-a")
        parser.add_argument("--name", default="", help="display name (default: the slug)")
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Vienna (default UTC)")
        parser.add_argument("--max-current", default="", help="amps shared by the site's charging connectors (default: no limit); see site_limit")

    def handle(self, slug, name, time_zone, max_current, **options):
        try:
            amps = parse_amps(max_current)
            site = create_site(slug, name, time_zone)
        except (SiteError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        detail = {"name": site.name, "time_zone": site.time_zone}
        if amps is not None:
            site.max_current = detail["max_current"] = amps
            site.save(update_fields=["max_current"])
        audit.record(None, "site_create", site=site, target=site.slug, detail=detail)
        self.stdout.write(site.slug)
