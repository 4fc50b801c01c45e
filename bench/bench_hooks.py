"""Trivial request hooks for bench/hooks.py (the Celery worker loads them with
OCPP_HOOK_MODULES=bench_hooks and <root>/bench on PYTHONPATH).

The Authorize answer carries parentIdTag "HOOK", so the benchmark can tell a hook's answer from the
built-in one (which has no parentIdTag for an unknown tag)."""
from datapoints.hooks import request_hook

MARK = "HOOK"


@request_hook("Authorize")
def authorize(request, cp):
    return {"idTagInfo": {"status": "Accepted", "parentIdTag": MARK}}


@request_hook("MeterValues")
def meter_values(request, cp):
    return {}
