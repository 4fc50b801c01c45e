from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.charging import site_limit
from datapoints.commands import run_sync
from datapoints.sites import SiteError, get_site


class Command(BaseCommand):
    help = (
        "Set a site's max current: amps shared equally by its charging connectors (each charge point "
        "capped by its Config.MaxCurrent); `none` removes the limit. The shares are applied to the "
        "connected chargers at once; prints each charge point's share."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the site, e.g. plant-a")
        parser.add_argument("amps", help="amps, e.g. 63, or none")

    def handle(self, slug, amps, **options):
        try:
            site = get_site(slug)
            amps = site_limit.parse_amps(amps)
        except (SiteError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        old = site_limit.set_limit(site, amps)
        audit.record(None, "site_limit", site=site, target=site.slug, detail={"max_current": [old, amps]}, outcome="set")
        run_sync(site_limit.redivide, site.id)
        self.stdout.write(f"{site.slug}: " + (f"{amps:g} A shared by its charging connectors" if amps is not None else "no limit"))
        for row in site_limit.overview(site):
            share = f"{row.share:g} A" if row.share is not None else "no site share"
            self.stdout.write(f"{row.name}: {share}, {row.charging} charging" + (f" ({row.error})" if row.error else ""))
