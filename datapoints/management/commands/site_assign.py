from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.management.arguments import charge_point_argument
from datapoints.sites import SiteError, assign, get_site


class Command(BaseCommand):
    help = "Put charge points into a site (each is in at most one site; this moves it). Sets Config.Site."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the site's slug (site_create made it)")
        parser.add_argument("charge_points", nargs="+", metavar="DP_OR_CLIENT_ID", help="datapoint names or ClientIds")

    def handle(self, slug, charge_points, **options):
        try:
            site = get_site(slug)
        except SiteError as exc:
            raise CommandError(str(exc)) from None
        dps = [charge_point_argument(text) for text in charge_points]
        for dp in assign(site, dps):
            audit.record(None, "site_assign", charge_point=dp, site=site, detail={"site": site.slug})
            self.stdout.write(f"{dp.name} ({dp.client_id}) -> {site.slug}")
