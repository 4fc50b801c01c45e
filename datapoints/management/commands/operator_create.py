import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from datapoints import audit
from datapoints.models import SiteRole
from datapoints.sites import SiteError, create_operator, get_site


class Command(BaseCommand):
    help = (
        "Create a panel login with a role on one or more sites (or give an existing one that role). "
        "The password comes from OPERATOR_PASSWORD when set, else it is prompted for."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--site", action="append", required=True, metavar="SLUG", help="a site's slug; repeat for several")
        parser.add_argument("--role", choices=[SiteRole.VIEWER, SiteRole.OPERATOR], default=SiteRole.VIEWER, help="viewer (sees) or operator (also acts); default viewer")

    def handle(self, username, site, role, **options):
        try:
            sites = [get_site(slug) for slug in site]
            user, created = create_operator(username, self._password(username), sites, role)
        except SiteError as exc:
            raise CommandError(str(exc)) from None
        for s in sites:
            audit.record(None, "operator_create" if created else "operator_role", site=s, target=username, detail={"role": role})
        self.stdout.write(f"{username}: {role} of {', '.join(s.slug for s in sites)}{' (new login)' if created else ''}")

    def _password(self, username):
        password = os.environ.get("OPERATOR_PASSWORD")
        if password:
            return password
        try:
            first = getpass.getpass(f"Password for {username} (empty: keep an existing one): ")
            if first and first != getpass.getpass("Again: "):
                raise CommandError("the two passwords differ; run the command again")
        except EOFError:
            raise CommandError("no password: set OPERATOR_PASSWORD, or run the command in a terminal") from None
        return first
