"""Applying a charger's current limit: Config.MaxCurrent, capped by its share of the site limit.

    await apply_max_current("_ChargePoint0001")

1. Read what we know (one query): Config.MaxCurrent, State.MaxCurrentSiteShare, the remembered
   method, the cached `Configuration.ChargingScheduleAllowedChargingRateUnit` and
   `Configuration.ChargeProfileMaxStackLevel`, and the connectors' measured voltage, phases and
   running transactions.
2. Unknown configuration keys: ask once with GetConfiguration (its answer lands in
   Configuration.<key>, so the next time we do not ask).
3. Walk the ladder (profiles.ladder), the remembered method first, until the charger accepts.
4. Write State.MaxCurrent (amps accepted), State.MaxCurrentError (empty on success, else what was
   tried and what to do) and State.MaxCurrentMethod (what worked).
No limit at all: our profiles are cleared by their ids (ClearChargingProfile {id}).

Runs in the server process (the consumer starts it on a Config.MaxCurrent write and after an
Accepted boot), in a Celery worker or in a management command; commands go through
datapoints.commands either way. One apply per charger at a time in a process.
"""
import asyncio
import contextvars
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from ..commands import CommandRefused, _in_database_thread, send_command_async
from ..elements import CHARGE_POINT
from ..events import publish_on_commit
from ..models import Datapoint, Element
from ..writes import write_elements
from . import profiles

log = logging.getLogger(__name__)
CP_PATHS = (
    "Config.MaxCurrent",
    "State.MaxCurrentSiteShare",
    "State.MaxCurrent",
    "State.MaxCurrentError",
    "State.MaxCurrentMethod",
    "State.NumberOfConnectors",
    "State.RegistrationStatus",
    "State.ConfigurationUnknownKeys",
) + tuple(f"Configuration.{key}" for key in profiles.CONFIG_KEYS)
CONNECTOR_PATHS = ("Metering.Voltage", "Metering.Current.Import.L1", "Metering.Current.Import.L2", "Metering.Current.Import.L3", "Transaction.CurrentTransactionId")
STOP_CODES = {"NotImplemented"}  # a charger without Smart Charging: no other profile will do
_locks = {}


@dataclass
class ChargerState:
    cp: Datapoint
    values: dict
    connectors: dict = field(default_factory=dict)  # connector id -> {path: value}

    @property
    def limit(self):
        """Amps for the whole charger: Config.MaxCurrent capped by the site share; None: no limit."""
        given = [v for v in (self.values.get("Config.MaxCurrent"), self.values.get("State.MaxCurrentSiteShare")) if v not in (None, "")]
        return min(float(v) for v in given) if given else None

    @property
    def running(self):
        """[(connector id, transaction id)] of the transactions running on the charger."""
        return sorted((c, v["Transaction.CurrentTransactionId"]) for c, v in self.connectors.items() if v.get("Transaction.CurrentTransactionId"))

    @property
    def connector_count(self):
        return max(self.values.get("State.NumberOfConnectors") or 0, max(self.connectors, default=0), 1)

    def config_known(self):
        unknown = self.values.get("State.ConfigurationUnknownKeys") or []
        return all(f"Configuration.{key}" in self.values or key in unknown for key in profiles.CONFIG_KEYS)

    def config(self, key):
        return self.values.get(f"Configuration.{key}")


def element_rows(cp_ids, paths):
    """(datapoint id, its charge point id or None, connector id or None, path, value) of `paths` on
    the charge points `cp_ids` and their connectors: one query on the (datapoint, path) key (an OR
    of the two sides made PostgreSQL scan the whole table: 10 ms a charger with 25k elements)."""
    dps = Datapoint.objects.filter(Q(id__in=cp_ids) | Q(charge_point_id__in=cp_ids)).values("id")
    rows = Element.objects.filter(datapoint_id__in=dps, path__in=paths)
    return rows.values_list("datapoint_id", "datapoint__charge_point_id", "datapoint__connector_id", "path", "value")


def read_state(charge_point):
    """ChargerState of a charge point (datapoint or name), in one query for its elements."""
    cp = charge_point if isinstance(charge_point, Datapoint) else Datapoint.objects.get(name=charge_point, dp_type=CHARGE_POINT)
    state = ChargerState(cp, {})
    for _dp_id, _parent_id, connector_id, path, value in element_rows([cp.id], CP_PATHS + CONNECTOR_PATHS):
        if connector_id is None:
            state.values[path] = value
        else:
            state.connectors.setdefault(connector_id, {})[path] = value
    return state


def per_transaction(cp_id):
    """Does the charger need its limit applied again when a transaction starts or stops? Yes when
    it has one and took only a TxProfile, or took nothing yet."""
    paths = ("Config.MaxCurrent", "State.MaxCurrentSiteShare", "State.MaxCurrentMethod", "State.MaxCurrentError")
    values = dict(Element.objects.filter(datapoint_id=cp_id, path__in=paths).values_list("path", "value"))
    limited = ChargerState(None, values).limit is not None
    method = values.get("State.MaxCurrentMethod") or {}
    return limited and (method.get("purpose") == profiles.TX or bool(values.get("State.MaxCurrentError")))


def write_state(cp, values):
    with transaction.atomic():
        publish_on_commit(write_elements([(cp, path, value) for path, value in values.items()]))


async def apply_max_current(charge_point):
    """Apply the charger's limit now; returns State.MaxCurrentError ("" on success).

    The lock keeps one apply per charger in this process; another process (a Celery worker, another
    node) may apply the same charger at the same time with a limit that has changed since. So after
    sending, the wanted limit is read again and, if it moved, sent again: whoever sends last checks
    last, and the charger ends with the limit that is wanted now, not an older one."""
    name = charge_point.name if isinstance(charge_point, Datapoint) else str(charge_point)
    lock = _locks.setdefault(name, asyncio.Lock())
    async with lock:
        for _attempt in range(MAX_ROUNDS):
            state = await _in_database_thread(read_state)(charge_point)
            error = await _apply(name, state)
            if (await _in_database_thread(read_state)(charge_point)).limit == state.limit:
                break
        return error


MAX_ROUNDS = 3


async def _apply(name, state):
    try:
        result = await (_set(state) if state.limit is not None else _clear(state))
    except CommandRefused as exc:  # a payload we built that the schema refuses: our bug, said plainly
        log.exception("%s: max current not applied", name)
        result = {"State.MaxCurrentError": f"the central system built a refused command ({exc}); report this"}
    if result:
        await _in_database_thread(write_state)(state.cp, result)
    return (result or {}).get("State.MaxCurrentError", "")


async def _set(state):
    amps = state.limit
    wanted = f"{amps:g} A"
    if state.values.get("State.RegistrationStatus") != "Accepted":
        return {"State.MaxCurrentError": f"{wanted} not applied: the charger is not Accepted; it is applied when it boots Accepted"}
    if not state.config_known():
        problem = await _read_configuration(state)
        if problem:
            return {"State.MaxCurrentError": f"{wanted} not applied: {problem}"}
    unit = profiles.rate_unit(state.config(profiles.RATE_UNIT_KEY))
    voltage = profiles.measured_voltage(state.connectors.values())
    phases = profiles.measured_phases(state.connectors.values())
    if unit == "W":
        wanted += f" (as {profiles.in_unit(amps, 'W', voltage, phases):g} W at {voltage:g} V x {phases} phases)"
    remembered = state.values.get("State.MaxCurrentMethod")
    if remembered and remembered["purpose"] == profiles.TX and not state.running:
        return {"State.MaxCurrentError": f"{wanted} waits for a transaction: this charger took only a TxProfile (State.MaxCurrentMethod); it is applied when one starts"}
    methods = profiles.ladder(profiles.max_stack_level(state.config(profiles.STACK_LEVEL_KEY)), unit, state.values.get("State.MaxCurrentMethod"), bool(state.running))
    refusals = []
    for method in methods:
        outcome = await _try(state, method, amps, voltage, phases)
        if outcome is True:
            return {"State.MaxCurrent": amps, "State.MaxCurrentError": "", "State.MaxCurrentMethod": method}
        refusals.append(f"{profiles.describe(method)}: {outcome.text}")
        if outcome.final:
            return {"State.MaxCurrentError": f"{wanted} not applied: {outcome.text}"}
        if outcome.stop_ladder:
            break
    return {
        "State.MaxCurrentError": f"{wanted} not applied; the charger refused every charging profile tried: " + "; ".join(refusals)
        + ". Check that it supports Smart Charging (Configuration.SupportedFeatureProfiles), or set its current on the charger itself."
    }


@dataclass
class Refusal:
    text: str
    final: bool = False  # offline or no answer: trying other profiles is pointless now
    stop_ladder: bool = False


async def _try(state, method, amps, voltage, phases):
    """True if the charger accepted `method` for `amps`, else a Refusal."""
    if method["purpose"] == profiles.TX:
        share = amps / len(state.running)
        targets = [(connector_id, tx_id, share) for connector_id, tx_id in state.running]
    elif method["purpose"] == profiles.TX_DEFAULT:  # on connector 0 it limits each connector
        targets = [(0, None, amps / state.connector_count)]
    else:
        targets = [(0, None, amps)]
    for connector_id, tx_id, target_amps in targets:
        limit = profiles.in_unit(target_amps, method["unit"], voltage, phases)
        outcome = await send_command_async(state.cp, "SetChargingProfile", profiles.set_profile(method, limit, connector_id, tx_id))
        refusal = _refusal(outcome)
        if refusal:
            return refusal
    return True


def _refusal(outcome):
    if outcome.status == "answered":
        status = outcome.response.get("status")
        return None if status == "Accepted" else Refusal(status)
    if outcome.status in ("offline", "timeout"):
        again = "it is applied when the charger connects again" if outcome.status == "offline" else "write Config.MaxCurrent again to retry"
        return Refusal(f"{outcome.status} ({outcome.error}); {again}", final=True)
    return Refusal(f"CALLERROR {outcome.error_code} {outcome.error}".strip() if outcome.status == "error" else f"invalid answer ({outcome.error})", stop_ladder=outcome.error_code in STOP_CODES)


async def _read_configuration(state):
    """GetConfiguration of the two keys; their values go into state (and, by the answer's
    effect, into Configuration.<key>). Returns a problem text, or "" when done."""
    outcome = await send_command_async(state.cp, "GetConfiguration", {"key": list(profiles.CONFIG_KEYS)})
    if outcome.status in ("offline", "timeout"):
        return f"GetConfiguration: {outcome.status} ({outcome.error}); it is applied when the charger connects again"
    if outcome.status == "answered":
        for item in outcome.response.get("configurationKey") or []:
            state.values[f"Configuration.{item['key']}"] = item.get("value", "")
    return ""  # a charger that cannot answer GetConfiguration gets amps and stack level 0


async def _clear(state):
    """No limit any more: clear the profiles we set, by their ids."""
    method = state.values.get("State.MaxCurrentMethod")
    if state.values.get("State.MaxCurrent") is None:
        return {"State.MaxCurrentError": ""} if state.values.get("State.MaxCurrentError") else None
    if method:
        connectors = [c for c, _tx in state.running] if method["purpose"] == profiles.TX else [0]
        for connector_id in connectors:
            outcome = await send_command_async(state.cp, "ClearChargingProfile", profiles.clear_profile(method["purpose"], connector_id))
            if outcome.status != "answered":  # Accepted or Unknown (nothing to clear) are both fine
                return {"State.MaxCurrentError": f"the limit could not be cleared: ClearChargingProfile {outcome.status} ({outcome.error}); it is cleared when the charger connects again"}
    return {"State.MaxCurrent": None, "State.MaxCurrentError": ""}


# --- starting it from the consumer -------------------------------------------------------------------
_background = set()


def in_background(coroutine):
    """Run `coroutine` as a task of the running loop, kept referenced until it ends. In a fresh
    context: started through async_to_sync from the database thread, the task would otherwise
    inherit that call's executor, gone once the call returns ("CurrentThreadExecutor already quit")."""
    task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _logged(name):
    try:
        await apply_max_current(name)
    except Exception:
        log.exception("%s: applying the max current failed", name)


BOOT_CHECK_DELAY = 0.2  # seconds: boots in this window share one query
_booted = {}  # charge point id -> name, booted since the last check


def after_boot(session, action):
    """After answering `action`: an Accepted BootNotification applies the limit again (a reboot may
    have dropped the profile). Most chargers have none: which do is asked in one query for all the
    boots of BOOT_CHECK_DELAY (a reconnect storm costs one query per window, not one per boot)."""
    if action == "BootNotification" and session.accepted:
        if not _booted:
            in_background(_check_booted())
        _booted[session.cp.id] = session.cp.name


async def _check_booted():
    await asyncio.sleep(BOOT_CHECK_DELAY)
    booted = dict(_booted)
    _booted.clear()
    try:
        names = await _in_database_thread(with_a_limit)(booted)
    except Exception:
        log.exception("could not check %d booted chargers for a max current", len(booted))
        return
    for name in names:
        in_background(_logged(name))


def with_a_limit(charge_points):
    """The names of those of {id: name} with a limit to apply or to clear."""
    paths = ("Config.MaxCurrent", "State.MaxCurrent", "State.MaxCurrentSiteShare")
    rows = Element.objects.filter(datapoint_id__in=list(charge_points), path__in=paths).values_list("datapoint_id", "value")
    return sorted({charge_points[dp_id] for dp_id, value in rows if value not in (None, "")})


def after_config(session, path):
    """An operator wrote `path` (cp.config): Config.MaxCurrent applies at once, and the charger's
    site limit (if any) is shared again, since its cap changed."""
    if path == "Config.MaxCurrent" and session.accepted:
        from .site_limit import after_cap_change

        _booted.pop(session.cp.id, None)  # applied now: the boot check need not again
        in_background(after_cap_change(session.cp))
