"""The audit log: every operator action (panel, CLI, API), with who, when, what and the outcome.

    audit.record(user, "approve", charge_point=dp, detail={...}, ok=True, outcome="Accepted")

`user` is a Django user, or None for a shell (management commands run by the deployer).
"""
import json
import logging

from django.utils import timezone

from .models import AuditEntry
from .values import printable, unstorable

log = logging.getLogger(__name__)


def record(user, action, charge_point=None, site=None, target="", detail=None, ok=True, outcome=""):
    if site is None and charge_point is not None:
        site = charge_point.site
    entry = AuditEntry.objects.create(
        at=timezone.now(),
        user=user if user is not None and user.is_authenticated else None,
        username=user.get_username() if user is not None and user.is_authenticated else "",
        action=action,
        site=site,
        charge_point=charge_point,
        target=printable(target or (charge_point.client_id if charge_point is not None else "")),
        detail=_keepable(detail or {}),
        ok=ok,
        outcome=printable(str(outcome)[:2000]),
    )
    log.info("audit: %s %s %s %s%s", entry.username or "shell", action, entry.target, "ok" if ok else "FAILED", f": {outcome}" if outcome else "")
    return entry


def _keepable(detail):
    """`detail`, or when it holds what the database refuses (a NUL: PostgreSQL's jsonb) or the
    channel layer cannot carry, its JSON text (NULs spelled \\u0000): a refusal is recorded too."""
    problem = unstorable(detail)
    if not problem:
        return detail
    return {"unstorable": problem, "as_text": json.dumps(detail, default=str)[:4000]}


def shared_site(charge_points):
    """The site of the charge points when they all have the same one (an entry on it is read by
    that site's people), else None (superusers read it)."""
    sites = {dp.site_id for dp in charge_points}
    return charge_points[0].site if len(sites) == 1 and None not in sites else None


def record_command(user, charge_point, action, payload, outcome, refused="", batch=None):
    """A command sent by an operator: the payload (secrets masked) and the charger's answer.
    `batch` ties the commands of one send-to-many together (panel/bulk.py)."""
    from .protocol.results import redacted

    detail = {"command": action, "payload": redacted(action, payload)}
    if batch:
        detail["batch"] = batch
    if outcome is None:
        return record(user, "command", charge_point=charge_point, detail=detail, ok=False, outcome=f"refused: {refused}")
    detail["outcome"] = outcome.as_dict()
    ok = outcome.status == "answered"
    text = json.dumps(outcome.response) if ok else f"{outcome.status}: {outcome.error_code + ' ' if outcome.error_code else ''}{outcome.error}"
    return record(user, "command", charge_point=charge_point, detail=detail, ok=ok, outcome=text)
