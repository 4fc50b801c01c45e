"""Bearer tokens for the REST API: made, listed, revoked and checked here.

A token is `odp_` and 43 URL-safe characters (32 random bytes). Only its SHA-256 is stored: the
token has 256 random bits, so a fast hash is enough and a slow KDF would only cost CPU on every
request (docs/decisions/0016-rest-api.md). The first 12 characters are kept as a prefix people
see in `api_token --list` to tell tokens apart and revoke one. A token is never logged.
"""
import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from .models import ApiToken

SCHEME = "odp_"
PREFIX_LENGTH = 12
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


class TokenError(ValueError):
    """What was wrong, said so that the deployer knows what to type instead."""


def digest(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(user, name=""):
    """A new token for `user` -> (ApiToken, the token text: shown once, never stored)."""
    token = SCHEME + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name[: ApiToken._meta.get_field("name").max_length], prefix=token[:PREFIX_LENGTH], digest=digest(token))
    return row, token


def user_of(username):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise TokenError(f"no user {username!r}; make one with `manage.py operator_create` or `createsuperuser`")
    if not user.is_active:
        raise TokenError(f"{username} is not active; a token would be refused")
    return user


def revoke(user, prefix):
    """Revoke the user's unrevoked tokens starting with `prefix` -> how many."""
    if len(prefix) < len(SCHEME) + 4:
        raise TokenError(f"give at least {len(SCHEME) + 4} characters of the prefix, as `--list` shows it")
    found = ApiToken.objects.filter(user=user, prefix__startswith=prefix[:PREFIX_LENGTH], revoked_at__isnull=True)
    return found.update(revoked_at=timezone.now())


def check(token):
    """The ApiToken of `token` -> (ApiToken or None, why not). Marks it used (at most once a minute)."""
    row = ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
    if row is None:
        return None, "unknown token"
    if row.revoked:
        return None, f"the token {row.prefix}… was revoked"
    if not row.user.is_active:
        return None, f"the user of token {row.prefix}… is not active"
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row, ""
