"""A hook for an action chargers never send (tests/test_hooks.py: hooks check)."""
from datapoints.hooks import request_hook


@request_hook("Reboot")
def reboot(request, cp):
    return {}
