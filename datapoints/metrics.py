"""Prometheus metrics: what the processes of a machine count, summed at /metrics.

Every Daphne process and Celery worker of a machine writes its figures into memory-mapped files in
one directory, PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode); any node's
/metrics reads them all (metrics_endpoint.py). Without the variable a process counts in memory and
/metrics shows that process alone (`make run`). See docs/decisions/0017-metrics.md.

Call sites use the small functions below, never the metric objects: each caches its labelled
children, so the hot path costs a dict lookup and one or two writes to a mapped file (measured:
docs/decisions/0017-metrics.md). Label values are bounded: an action or error code a charger made
up is counted as "other".
"""
import atexit
import glob
import logging
import os
import re
import time

log = logging.getLogger(__name__)
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db$")


# --- the directory's housekeeping --------------------------------------------------------------------
def forget_live_values(path, pid):
    """Delete the live-gauge files of process `pid` (prometheus_client's mark_process_dead);
    counters stay, so a machine's sums never go down while it runs."""
    for name in glob.glob(os.path.join(path, f"gauge_live*_{pid}.db")):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def forget_dead_processes(path=None):
    """Live-gauge files of processes that no longer run (killed, crashed): deleted, so a charger
    of a dead node leaves ocpp_connected_chargers. Run before each scrape."""
    path = path or DIRECTORY
    if not path:
        return []
    dead = []
    for name in os.listdir(path):
        match = _LIVE_FILE.match(name)
        if match and not _running(int(match.group(1))):
            dead.append(int(match.group(1)))
            forget_live_values(path, int(match.group(1)))
    return dead


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _prepare_directory():
    """The multiprocess directory, created if missing; None (in-memory counting, with a warning)
    when it cannot be written: metrics must never stop a process from serving chargers."""
    path = os.environ.get(DIRECTORY_VARIABLE)
    if not path:
        return None
    try:
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"no write access for uid {os.getuid()}")
    except OSError as exc:
        log.warning("%s=%s cannot be used (%s): this process counts its metrics in memory only", DIRECTORY_VARIABLE, path, exc)
        del os.environ[DIRECTORY_VARIABLE]
        return None
    forget_live_values(path, os.getpid())  # a process that had our pid before is dead
    return path


DIRECTORY = _prepare_directory()

# prometheus_client picks file-backed or in-memory values when it is first imported: after the above.
from prometheus_client import Counter, Gauge, Histogram  # noqa: E402
from prometheus_client import values as _values  # noqa: E402

MULTIPROCESS = bool(getattr(_values.ValueClass, "_multiprocess", False))
if DIRECTORY and not MULTIPROCESS:  # imported before the variable was set: say so, count in memory
    log.warning("prometheus_client was imported before %s was seen: this process's metrics stay in memory", DIRECTORY_VARIABLE)
    DIRECTORY = None

# --- the metrics -------------------------------------------------------------------------------------
# Seconds: group commit answers in milliseconds to a few hundred; hooks may take up to OCPP_HOOK_TIMEOUT.
HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FLUSH_UNITS_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

CONNECTED = Gauge(
    "ocpp_connected_chargers", "Chargers with an open websocket, per node (summed over the live processes of the node)",
    ["node"], multiprocess_mode="livesum",
)
HANDSHAKES = Counter("ocpp_handshakes", "Charger websocket handshakes by outcome", ["outcome"])
MESSAGES = Counter(
    "ocpp_messages",
    "OCPP CALLs by action, direction (in: from a charger, out: to a charger) and result "
    "(in: answered, callerror; out: answered, callerror, invalid, timeout, offline)",
    ["action", "direction", "result"],
)
UNANSWERABLE = Counter("ocpp_unanswerable_frames", "Frames from chargers that could not be answered (no usable id, binary, or an answer to nothing asked)")
CALLERRORS = Counter("ocpp_callerrors", "CALLERROR frames by code and direction (out: sent to a charger, in: a charger's answer to a command)", ["code", "direction"])
HANDLING = Histogram("ocpp_call_handling_seconds", "From a charger's CALL frame received to its answer sent, by action", ["action"], buckets=HANDLING_BUCKETS)
COMMANDS = Counter(
    "ocpp_commands", "Commands to chargers by action and outcome (answered, error, invalid, timeout, offline, refused)", ["action", "outcome"]
)
HOOK_FALLBACKS = Counter("ocpp_hook_fallbacks", "Request hooks that failed or timed out, so the built-in answer went out", ["action", "reason"])
REPLAYS = Counter("ocpp_transaction_replays", "StartTransaction / StopTransaction received again and answered as the first time, nothing stored", ["action"])
FLUSH_UNITS = Histogram("ocpp_recorder_flush_units", "Units of work per group commit (runner: Recorder, the element writes; Gate, the handshake decisions)", ["runner"], buckets=FLUSH_UNITS_BUCKETS)
FLUSH_SECONDS = Histogram("ocpp_recorder_flush_seconds", "One group commit, from handing it to the database thread to its outcome", ["runner"], buckets=FLUSH_SECONDS_BUCKETS)

OTHER = "other"
_known_actions = None
_known_codes = None


def _action_label(action):
    """`action` if OCPP 1.6 (or its security extension) names it, else "other": a charger cannot
    make up label values."""
    global _known_actions
    if _known_actions is None:
        from .elements import CSMS_ACTIONS
        from .protocol.handlers import HANDLERS

        _known_actions = frozenset(CSMS_ACTIONS) | frozenset(HANDLERS)
    return action if action in _known_actions else OTHER


def _code_label(code):
    global _known_codes
    if _known_codes is None:
        from .protocol.errors import ALL_CODES

        _known_codes = frozenset(ALL_CODES)
    return code if code in _known_codes else OTHER


class _Children(dict):
    """metric.labels(*key), made once per key."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric

    def __missing__(self, key):
        child = self[key] = self.metric.labels(*key)
        return child


_messages = _Children(MESSAGES)
_callerrors = _Children(CALLERRORS)
_commands = _Children(COMMANDS)
_handshakes = _Children(HANDSHAKES)
_connected = _Children(CONNECTED)
_flush_units = _Children(FLUSH_UNITS)
_flush_seconds = _Children(FLUSH_SECONDS)
_calls = {}  # action label -> its (answered, callerror) message counters and handling histogram


def _call_children(action):
    label = _action_label(action)
    children = _calls.get(label)
    if children is None:
        children = _calls[label] = (_messages[(label, "in", "answered")], _messages[(label, "in", "callerror")], HANDLING.labels(label))
    return children


# --- what the code calls -------------------------------------------------------------------------------
def handshake(outcome):
    """One charger handshake ended: accepted, unknown_404, unauthorized_401, throttled_429,
    tls_required, bad_subprotocol_400, db_unavailable_503, ..."""
    _handshakes[(outcome,)].inc()


def call_answered(action, answer_text, started):
    """A charger's CALL was answered with `answer_text` (a CALLRESULT or CALLERROR frame); `started`
    is time.perf_counter() when its frame came in."""
    seconds = time.perf_counter() - started
    answered, callerror, handling = _calls.get(action) or _call_children(action)
    (callerror if answer_text.startswith("[4") else answered).inc()
    handling.observe(seconds)


def callerror_sent(code):
    _callerrors[(_code_label(code), "out")].inc()


def callerror_received(code):
    _callerrors[(_code_label(code), "in")].inc()


def call_ended(action, result):
    """A CALL we sent to a charger ended: answered, callerror, invalid, timeout or offline."""
    _messages[(_action_label(action), "out", result)].inc()


def unanswerable_frame():
    UNANSWERABLE.inc()


def command(action, outcome):
    """A command's outcome, counted once: by the node holding the charger, or by the caller when
    no node got it (offline, refused, the node unreachable)."""
    _commands[(_action_label(action), outcome)].inc()


def hook_fallback(action, reason):
    """reason: timeout (no answer within OCPP_HOOK_TIMEOUT) or failed (an exception or an answer
    the schema refuses)."""
    HOOK_FALLBACKS.labels(_action_label(action), reason).inc()


def transaction_replay(action):
    REPLAYS.labels(action).inc()


def flushed(runner, units, seconds):
    _flush_units[(runner,)].observe(units)
    _flush_seconds[(runner,)].observe(seconds)


def charger_connected(node):
    _connected[(node,)].inc()


def charger_disconnected(node):
    _connected[(node,)].dec()


if DIRECTORY:
    atexit.register(lambda: forget_live_values(DIRECTORY, os.getpid()))
