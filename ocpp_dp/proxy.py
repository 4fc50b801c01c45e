"""Proxy headers, trusted only from the proxies named in OCPP_TRUSTED_PROXIES.

Behind nginx a request's peer is nginx; the charger's address, whether it came over TLS and its
client certificate arrive as headers. Daphne's own `--proxy-headers` believes X-Forwarded-For from
any peer, so a charger that reaches a Daphne port directly could pose as another address or claim
TLS. This middleware wraps the whole ASGI application instead:

  peer in OCPP_TRUSTED_PROXIES -> scope["client"] from X-Forwarded-For (the address nearest to us
                                  that is not itself a trusted proxy), scope["scheme"] https/wss
                                  from X-Forwarded-Proto, the client-certificate headers kept
  any other peer               -> those headers removed, so nothing downstream can read them

The client-certificate headers are set by the listener `nginx_config --client-ca` renders:
X-SSL-Client-Verify ($ssl_client_verify) and X-SSL-Client-Cert ($ssl_client_escaped_cert).
"""
import ipaddress

from django.conf import settings

FORWARDED_FOR = b"x-forwarded-for"
FORWARDED_PROTO = b"x-forwarded-proto"
CLIENT_VERIFY = b"x-ssl-client-verify"
CLIENT_CERT = b"x-ssl-client-cert"
PROXY_HEADERS = frozenset({FORWARDED_FOR, FORWARDED_PROTO, CLIENT_VERIFY, CLIENT_CERT})
SECURE_SCHEMES = {"http": "https", "websocket": "wss"}


def trusted_networks(text):
    """'127.0.0.1, 10.0.0.0/8, ::1' -> [ip_network]; raises ValueError naming a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"OCPP_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return networks


def is_trusted(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_scope(scope, networks):
    """The scope as the application should see it (a copy when anything changes)."""
    headers = scope.get("headers") or []
    if not any(name in PROXY_HEADERS for name, _value in headers):
        return scope
    peer = (scope.get("client") or ("",))[0]
    if not is_trusted(peer, networks):
        return {**scope, "headers": [(n, v) for n, v in headers if n not in PROXY_HEADERS]}
    scope = dict(scope)
    values = dict(headers)
    forwarded_for = values.get(FORWARDED_FOR)
    if forwarded_for:
        scope["client"] = (_nearest_untrusted(forwarded_for.decode("latin1"), networks, peer), 0)
    if values.get(FORWARDED_PROTO, b"").strip().lower() == b"https":
        scope["scheme"] = SECURE_SCHEMES[scope["type"]]
    return scope


def _nearest_untrusted(forwarded_for, networks, peer):
    """X-Forwarded-For lists addresses, the nearest hop last; proxies we trust may have appended."""
    for address in reversed([a.strip() for a in forwarded_for.split(",") if a.strip()]):
        if not is_trusted(address, networks):
            return address
    return peer


def came_over_tls(scope):
    return scope.get("scheme") in ("https", "wss")


class TrustedProxyMiddleware:
    def __init__(self, app):
        self.app = app
        self.networks = trusted_networks(settings.OCPP_TRUSTED_PROXIES)

    async def __call__(self, scope, receive, send):
        if scope["type"] in SECURE_SCHEMES:
            scope = forwarded_scope(scope, self.networks)
        return await self.app(scope, receive, send)
