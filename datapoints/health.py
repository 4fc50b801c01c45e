"""Health for load balancers and orchestration: `/healthz` says the process answers (no database,
no Redis: a liveness probe must not restart a node because a dependency is down); `/readyz` says
whether this node should get traffic: the database and Redis (when configured) reachable and the
node not draining. 200 or 503, always with a JSON body saying what is wrong and what to check."""
import os
import socket
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

REDIS_TIMEOUT = 1.0  # seconds: a probe must answer well within the balancer's own timeout
PROBE_TIMEOUT = 2.0  # seconds to wait for a pooled database connection
_draining = False


def start_draining():
    """A graceful stop has begun: /readyz answers 503 so the balancer sends nothing new here."""
    global _draining
    _draining = True


def node():
    """OCPP_NODE_NAME, else host:pid (what a deployer can find in `ps`)."""
    return settings.OCPP_NODE_NAME or f"{socket.gethostname()}:{os.getpid()}"


def database_check():
    try:
        if connection.settings_dict.get("OPTIONS", {}).get("pool"):
            # Django's cursor() would wait the pool's whole timeout (10 s) for a connection while
            # PostgreSQL is down: past the balancer's probe timeout. The probe asks the pool itself.
            connection.pool.open()  # as Django does before its first connection (a no-op after)
            with connection.pool.connection(timeout=PROBE_TIMEOUT) as conn:
                conn.execute("SELECT 1").fetchone()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:  # any failure is the answer, not a 500
        return f"unreachable: {type(exc).__name__}: {str(exc).strip()[:200]} (check DATABASE_URL and that the database server runs)"
    return "ok"


def redis_check():
    if not settings.REDIS_URL:
        return "not configured (single node: the in-memory channel layer)"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
    try:
        client.ping()
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}: {str(exc).strip()[:200]} (check REDIS_URL and that Redis runs; chargers are still answered, commands across nodes are not)"
    finally:
        client.close()
    return "ok"


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "alive", "node": node()})


@never_cache
@require_GET
def readyz(request):
    started = time.monotonic()
    checks = {"database": database_check(), "redis": redis_check(), "draining": "yes: a graceful stop has begun" if _draining else "no"}
    ready = checks["database"] == "ok" and not checks["redis"].startswith("unreachable") and not _draining
    body = {"status": "ready" if ready else "unavailable", "node": node(), "checks": checks, "seconds": round(time.monotonic() - started, 4)}
    return JsonResponse(body, status=200 if ready else 503)
