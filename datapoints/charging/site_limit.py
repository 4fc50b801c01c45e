"""A site's max current (Site.max_current) shared among its charging connectors.

A connector counts as charging while it runs a transaction (Transaction.CurrentTransactionId != 0).
Status.status Charging is not used: chargers send StopTransaction before their status leaves
Charging, so at the re-division after a stop the stopped connector would still count. Each charging connector gets an equal share; a charger never gets more
than its own Config.MaxCurrent, and what a capped charger leaves goes to the others (water
filling). A charger with nothing charging may draw up to the site's whole limit. Each charger's
share is written to State.MaxCurrentSiteShare and applied (apply.py) when it changed.

The re-division runs after the commit of a StartTransaction or StopTransaction (and of a change of
the limit), off the charger's answer path: in a Celery worker with Redis, else as a task on the
server's own event loop (the in-memory channel layer lives there), else (a management command
without Redis) in the caller.
"""
import asyncio
import logging
import math
from typing import NamedTuple

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction

from .. import notify
from ..commands import _in_database_thread, run_sync
from ..elements import CHARGE_POINT
from ..models import Datapoint, Site
from . import apply

log = logging.getLogger(__name__)
TASK = "datapoints.tasks.after_session_change"
SHARE = "State.MaxCurrentSiteShare"
RUNNING = "Transaction.CurrentTransactionId"


def parse_amps(text):
    """An operator's site limit: amps (0 or more), or empty / `none` for no limit."""
    text = str(text if text is not None else "").strip()
    if text.lower() in ("", "none"):
        return None
    try:
        amps = float(text)
    except ValueError:
        amps = float("nan")
    if not math.isfinite(amps) or amps < 0:
        raise ValueError(f"{text!r} is not a current; give amps of 0 or more, or none for no limit")
    return amps


def set_limit(site, amps):
    """Store a site's max current; -> the old value. Re-divide after (redivide / redivide_soon)."""
    old = site.max_current
    site.max_current = amps
    site.save(update_fields=["max_current"])
    return old


class ChargerShare(NamedTuple):
    name: str
    client_id: str
    charging: int  # connectors running a transaction
    cap: float  # Config.MaxCurrent
    share: float  # State.MaxCurrentSiteShare
    accepted: float  # State.MaxCurrent
    error: str  # State.MaxCurrentError


def overview(site):
    """[ChargerShare] of a site's charge points, by ClientId: what the panel and the CLI show."""
    cps = {dp.id: dp for dp in Datapoint.objects.filter(site=site, dp_type=CHARGE_POINT).order_by("client_id")}
    paths = ("Config.MaxCurrent", SHARE, "State.MaxCurrent", "State.MaxCurrentError", RUNNING)
    values = {cp_id: {"charging": 0} for cp_id in cps}
    for dp_id, parent_id, _connector_id, path, value in apply.element_rows(list(cps), paths):
        if parent_id is None:
            values[dp_id][path] = value
        elif value:
            values[parent_id]["charging"] += 1
    return [
        ChargerShare(dp.name, dp.client_id, v["charging"], v.get("Config.MaxCurrent"), v.get(SHARE), v.get("State.MaxCurrent"), v.get("State.MaxCurrentError") or "")
        for dp_id, dp in cps.items()
        for v in [values[dp_id]]
    ]


def divide(total, chargers):
    """{key: (charging connectors, cap amps or None)} -> {key: amps} for the chargers with
    connectors charging: equal per connector, capped, the rest shared again; floored to 0.1 A."""
    shares, waiting, remaining = {}, {k: v for k, v in chargers.items() if v[0]}, float(total)
    while waiting:
        per_connector = remaining / sum(n for n, _cap in waiting.values())
        capped = {k: cap for k, (n, cap) in waiting.items() if cap is not None and cap < n * per_connector}
        if not capped:
            shares.update({k: n * per_connector for k, (n, _cap) in waiting.items()})
            break
        for key, cap in capped.items():
            shares[key] = cap
            remaining -= cap
            del waiting[key]
    return {k: math.floor(v * 10 + 1e-9) / 10 for k, v in shares.items()}


def plan(site_id):
    """Database: each charger's share of its site's limit; the changed ones are stored. Returns
    the names of the chargers whose share changed and that are connected."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return []
    cps = {dp.id: dp for dp in Datapoint.objects.filter(site_id=site_id, dp_type=CHARGE_POINT)}
    values = {cp_id: {} for cp_id in cps}
    charging = {cp_id: set() for cp_id in cps}  # its connectors that charge
    for dp_id, parent_id, _connector_id, path, value in apply.element_rows(list(cps), ("Config.MaxCurrent", SHARE, "State.Connected", RUNNING)):
        if parent_id is None:
            values[dp_id][path] = value
        elif value:
            charging[parent_id].add(dp_id)
    if site.max_current is None:
        shares = {cp_id: None for cp_id in cps}
    else:
        demands = {cp_id: (len(charging[cp_id]), _amps(values[cp_id].get("Config.MaxCurrent"))) for cp_id in cps}
        shares = {cp_id: float(site.max_current) for cp_id in cps} | divide(site.max_current, demands)
    changed = [cp_id for cp_id, share in shares.items() if values[cp_id].get(SHARE) != share]
    for cp_id in changed:
        apply.write_state(cps[cp_id], {SHARE: shares[cp_id]})
    return [cps[cp_id].name for cp_id in changed if values[cp_id].get("State.Connected")]


def _amps(value):
    return None if value in (None, "") else float(value)


async def redivide(site_id):
    """Share the site's limit again and apply the changed shares; -> {charger: error or ""}."""
    names = await _in_database_thread(plan)(site_id)
    errors = await asyncio.gather(*(apply.apply_max_current(name) for name in names), return_exceptions=True)
    for name, error in zip(names, errors):
        if isinstance(error, BaseException):
            log.error("%s: applying its site share failed: %r", name, error)
    return {name: error if isinstance(error, str) else repr(error) for name, error in zip(names, errors)}


async def after_cap_change(cp):
    """A charger's Config.MaxCurrent changed: apply it, then re-divide its site's limit (if any)."""
    try:
        await apply.apply_max_current(cp.name)
        site_id = await _in_database_thread(_limited_site)(cp.id)
        if site_id is not None:
            await redivide(site_id)
    except Exception:
        log.exception("%s: applying a new Config.MaxCurrent failed", cp.name)


def _limited_site(cp_id):
    return Datapoint.objects.filter(id=cp_id, site__max_current__isnull=False).values_list("site_id", flat=True).first()


def session_changed(cp):
    """From a StartTransaction / StopTransaction handler (database thread, in its transaction):
    after the commit, re-divide the charger's site limit if its site has one, and apply its own
    limit again if only a TxProfile will do (or nothing was accepted yet): a TxProfile names the
    transaction, so each new one needs its own."""
    site_id = _limited_site(cp.id)
    charger = cp.name if apply.per_transaction(cp.id) else None
    if site_id is not None or charger is not None:
        transaction.on_commit(lambda: after_session_soon(site_id, charger))


async def after_session(site_id=None, charger=None):
    """A session started or stopped: apply `charger`'s limit, then re-divide `site_id`'s."""
    if charger is not None:
        await apply.apply_max_current(charger)
    if site_id is not None:
        await redivide(site_id)


def redivide_soon(site_id):
    """Start `redivide(site_id)` without waiting for it (synchronous callers)."""
    after_session_soon(site_id, None)


def after_session_soon(site_id, charger):
    """Start `after_session` without waiting for it: a Celery task with Redis, else a task on the
    server's loop, else (a management command without Redis) right here."""
    if settings.REDIS_URL:
        from ocpp_dp.celery import app

        app.send_task(TASK, args=[site_id, charger])
    elif notify.IN_SERVER:
        async_to_sync(_start)(site_id, charger)  # a database or view thread: hop to the server's loop
    else:
        run_sync(after_session, site_id, charger)  # the local API sends


async def _start(site_id, charger):
    apply.in_background(_logged(site_id, charger))


async def _logged(site_id, charger):
    try:
        await after_session(site_id, charger)
    except Exception:
        log.exception("after a session change (site %s, charger %s): applying the max current failed", site_id, charger)
