"""GET /metrics: the Prometheus text of every process of this machine (datapoints/metrics.py), plus
figures read from the database at scrape time.

Who may read it: with OCPP_METRICS_TOKEN set, a request carrying `Authorization: Bearer <token>`;
without it, only a request made on this machine: a loopback peer that came through no proxy (a
request nginx forwarded carries X-Forwarded-For or X-Real-IP, and its user is elsewhere). Anyone
else gets 403 with the reason, never a login page.
"""
import hmac
import ipaddress

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from . import metrics

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


class ActiveTransactions:
    """ocpp_active_transactions{site}: transactions started and not stopped, counted in the
    database at scrape time (one GROUP BY). A database figure, not a process's: every node
    reports the same number (aggregate with max, not sum)."""

    def collect(self):
        from .models import Transaction

        family = GaugeMetricFamily(
            "ocpp_active_transactions",
            "Transactions started and not stopped, by site (from the database: every node reports the same figure)",
            labels=["site"],
        )
        rows = Transaction.objects.filter(meter_stop__isnull=True).values("charge_point__site__slug").annotate(n=Count("pk"))
        for row in rows:
            family.add_metric([row["charge_point__site__slug"] or ""], row["n"])
        yield family


class _ProcessRegistry:
    """The default registry (this process's metrics, in-memory mode) as one collector."""

    def collect(self):
        return REGISTRY.collect()


def exposition():
    """The text /metrics answers: every process's metrics of this machine, and the database's."""
    registry = CollectorRegistry()
    if metrics.DIRECTORY:
        metrics.forget_dead_processes()
        MultiProcessCollector(registry, path=metrics.DIRECTORY)
    else:
        registry.register(_ProcessRegistry())
    registry.register(ActiveTransactions())
    return generate_latest(registry)


def refusal(request):
    """Why `request` may not read the metrics, or None when it may."""
    token = settings.OCPP_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[len("Bearer "):].strip().encode(), token.encode()):
            return None
        return "metrics need the header `Authorization: Bearer <OCPP_METRICS_TOKEN>`\n"
    forwarded = [name for name in FORWARDING_HEADERS if name in request.META]
    if forwarded:
        return "metrics are served only to this machine while OCPP_METRICS_TOKEN is unset, and this request came through a proxy; set OCPP_METRICS_TOKEN to scrape through one\n"
    if not _loopback(request.META.get("REMOTE_ADDR", "")):
        return f"metrics are served only to this machine (127.0.0.1, ::1) while OCPP_METRICS_TOKEN is unset; this request came from {request.META.get('REMOTE_ADDR') or 'an unknown address'}\n"
    return None


def _loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@never_cache
@require_GET
def metrics_view(request):
    why = refusal(request)
    if why:
        return HttpResponse(why, status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
