"""`manage.py api_token USERNAME [--name NAME] [--revoke PREFIX] [--list]`: a REST API bearer token.

Without options it creates one and prints it once (only its hash is stored)."""
from django.core.management.base import BaseCommand, CommandError

from api import tokens


class Command(BaseCommand):
    help = "Create (print once), list or revoke a REST API token of a user."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'billing export'")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the user's token starting with PREFIX (as --list shows it)")
        parser.add_argument("--list", action="store_true", help="list the user's tokens (prefix, name, created, last used, revoked)")

    def handle(self, username, name, revoke, list, **options):
        try:
            user = tokens.user_of(username)
            if list:
                return self._list(user)
            if revoke:
                count = tokens.revoke(user, revoke)
                if not count:
                    raise CommandError(f"{username} has no unrevoked token starting with {revoke!r}; `api_token {username} --list` shows them")
                self.stdout.write(f"revoked {count} token(s) of {username} starting with {revoke}")
                return
            row, token = tokens.create(user, name)
        except tokens.TokenError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"token {row.prefix}… for {username}{f' ({name})' if name else ''}: shown once, store it now; send it as 'Authorization: Bearer <token>'")
        self.stdout.write(token)

    def _list(self, user):
        rows = user.api_tokens.all()
        if not rows:
            self.stdout.write(f"{user.username} has no tokens")
        for row in rows:
            used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never used"
            state = f"revoked {row.revoked_at.isoformat(timespec='seconds')}" if row.revoked else "active"
            self.stdout.write(f"{row.prefix}  {row.name or '-'}  created {row.created_at.isoformat(timespec='seconds')}  {used}  {state}")
