from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.sites import SiteError, create_site


class Command(BaseCommand):
    help = "Create a site (it owns charge points; operators get rights per site). Prints its slug."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short name in URLs and Config.Site, e.g. plant-a")
        parser.add_argument("--name", default="", help="display name (default: the slug)")
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Vienna (default UTC)")

    def handle(self, slug, name, time_zone, **options):
        try:
            site = create_site(slug, name, time_zone)
        except SiteError as exc:
            raise CommandError(str(exc)) from None
        audit.record(None, "site_create", site=site, target=site.slug, detail={"name": site.name, "time_zone": site.time_zone})
        self.stdout.write(site.slug)
