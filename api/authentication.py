"""`Authorization: Bearer <token>` for DRF (next to Django's session auth), and how the OpenAPI
schema names it."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import tokens

HOW = "create one with `manage.py api_token USERNAME` and send it as `Authorization: Bearer <token>`"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword:
            return None  # no token: the session may still authenticate
        token = token.strip()
        if not token or " " in token:
            raise exceptions.AuthenticationFailed(f"the Authorization header must be `Bearer <token>`; {HOW}")
        row, why = tokens.check(token)
        if row is None:
            raise exceptions.AuthenticationFailed(f"{why}: {HOW}")
        return row.user, row

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def user_for(header):
    """The user of an `Authorization: Bearer` header value for views outside DRF (the older
    command endpoint) -> (user or None, why not); (None, "") when there is no bearer header."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None, ""
    row, why = tokens.check(token.strip())
    return (row.user, "") if row else (None, f"{why}: {HOW}")


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A token from `manage.py api_token USERNAME`."}
