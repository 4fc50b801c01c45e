import shlex

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.loader import render_to_string

READ_TIMEOUT = 3600  # seconds; Daphne pings every 20 s (README), so an open socket is never idle this long


class Command(BaseCommand):
    help = "Print an nginx site (map, upstream, rate limits, server) for Daphne nodes: websockets upgraded, X-Forwarded-For set at the edge, /static/ served, TLS optional."

    def add_arguments(self, parser):
        parser.add_argument("--listen", type=int, required=True, help="port nginx listens on (443 with TLS)")
        parser.add_argument("--node", action="append", required=True, metavar="HOST:PORT", help="a Daphne node; repeat for each")
        parser.add_argument("--server-name", default="", help="nginx server_name (empty: any)")
        parser.add_argument("--tls-cert", default="", help="certificate file (with --tls-key): TLS on --listen, port 80 redirects")
        parser.add_argument("--tls-key", default="")
        parser.add_argument("--http-listen", type=int, default=80, help="with TLS: the plain-HTTP port that redirects (default 80)")
        parser.add_argument("--client-ca", default="", help="CA file for chargers' TLS client certificates (security profile 3): adds a listener that verifies them (needs --tls-cert)")
        parser.add_argument("--client-cert-listen", type=int, default=8443, help="with --client-ca: the port of that listener (default 8443)")
        parser.add_argument("--handshake-rate", type=int, default=100, help="new charger connections per second per address (default 100)")

    def handle(self, *args, **options):
        nodes = [self._node(text) for text in options["node"]]
        cert, key = options["tls_cert"], options["tls_key"]
        if bool(cert) != bool(key):
            raise CommandError("give both --tls-cert and --tls-key, or neither")
        if options["client_ca"] and not cert:
            raise CommandError("--client-ca needs TLS: give --tls-cert and --tls-key too")
        if options["client_ca"] and options["client_cert_listen"] in (options["listen"], options["http_listen"]):
            raise CommandError("--client-cert-listen must differ from --listen and --http-listen")
        rate = options["handshake_rate"]
        if rate < 1:
            raise CommandError("--handshake-rate must be 1 or more")
        self.stdout.write(
            render_to_string(
                "deploy/nginx.conf",
                {
                    "args": self._args(options),
                    "nodes": nodes,
                    "listen": options["listen"],
                    "http_listen": options["http_listen"],
                    "server_name": options["server_name"],
                    "tls": bool(cert),
                    "tls_cert": cert,
                    "tls_key": key,
                    "client_ca": options["client_ca"],
                    "client_cert_listen": options["client_cert_listen"],
                    "static_root": str(settings.STATIC_ROOT).rstrip("/"),
                    "read_timeout": READ_TIMEOUT,
                    "handshake_rate": rate,
                    "handshake_burst": rate * 10,
                    "connections_per_address": 10000,
                    "metrics_token": bool(settings.OCPP_METRICS_TOKEN),  # /metrics proxied only when the nodes want a token
                },
            ),
            ending="",
        )

    @staticmethod
    def _node(text):
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CommandError(f"--node {text!r}: write HOST:PORT, e.g. --node 127.0.0.1:8001")
        return f"{host}:{port}"

    @staticmethod
    def _args(options):
        parts = [f"--listen {options['listen']}"] + [f"--node {shlex.quote(n)}" for n in options["node"]]
        for name in ("server_name", "tls_cert", "tls_key", "client_ca"):
            if options[name]:
                parts.append(f"--{name.replace('_', '-')} {shlex.quote(options[name])}")
        return " " + " ".join(parts)
