"""Hooks that misbehave on purpose, chosen by the idTag of an Authorize (OCPP_HOOK_MODULES in
tests/test_hooks.py). Any other tag: Accepted with a note that the hook answered."""
import time

from datapoints.commands import send_command
from datapoints.hooks import request_hook


@request_hook("Authorize")
def misbehave(request, cp):
    tag = request["idTag"]
    if tag == "HANG":
        time.sleep(60)
    if tag == "RAISE":
        raise RuntimeError("the tariff server is down")
    if tag == "NONE":
        return None
    if tag == "LIST":
        return ["Accepted"]
    if tag == "BAD":
        return {"idTagInfo": {"status": "Maybe"}}
    if tag == "SLOW":
        time.sleep(0.3)
    if tag == "FOLLOW":
        send_command(cp.name, "GetLocalListVersion", {})  # sent after this answer, never before
    return {"idTagInfo": {"status": "Blocked" if tag.startswith("BLOCK") else "Accepted", "parentIdTag": "HOOK"}}
