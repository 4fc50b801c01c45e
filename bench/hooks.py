"""Benchmark: what a request hook run by a Celery worker costs, on PostgreSQL and Redis.

  python bench/hooks.py [--calls 500] [--seconds 10] [--rounds 3] [--chargers 50]

Each round starts one Daphne process (hooks run in workers: Daphne only reads which hooks exist
from Redis) and connects raw websocket chargers to it: one for Authorize and `--chargers` (default
50) for MeterValues. Each round has two phases, in alternating order (hook, no hook / no hook, hook, ...):

  hook      a real Celery worker (`celery -A ocpp_dp worker --concurrency 2`) with
            OCPP_HOOK_MODULES=bench_hooks (bench/bench_hooks.py): a trivial Authorize hook that
            answers parentIdTag "HOOK" (every answer is checked for it) and a MeterValues hook
            that answers {};
  no hook   the worker stopped and the Redis key `ocpp:hooks` deleted, then 6 s for Daphne's 5 s
            hook cache to forget the hooks (every answer is checked to carry no parentIdTag).

In each phase:

  Authorize   one charger sends `--calls` Authorize calls in a row (after 30 warm-up calls);
              p50 / p99 / max of the round trip. Added = hook minus no hook, per round.
  MeterValues `--chargers` in a closed loop, MeterValues only (3 sampled values each), for
              `--seconds` (after 1 s of warm-up): answered calls/s; every call must be answered
              with a CALLRESULT, the MeterSample rows added must be 3 per call, and the longest
              round trip must stay under OCPP_HOOK_TIMEOUT + 1 s. Fallbacks (the hook's answer
              not used) are counted from Requests.MeterValues.HookError: its history rows
              (datapoints_elementchange), the charge points whose element is not empty now
              (datapoints_element), and the warnings in Daphne's log.

Prints every round and the medians, whether the added Authorize p99 is <= 30 ms, and writes
bench/results/hooks.json. Needs PostgreSQL at BENCH_HOOKS_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/ocpp_bench_hooks; it is recreated) and Redis at
BENCH_HOOKS_REDIS_URL (default redis://127.0.0.1:6379/12; flushed every round).
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from commands import latency_stats  # bench/ is on sys.path when this file runs as a script
from fleet import Charger, meter_values
from run import free_port, recreate_database, stop, wait_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench/results"
PY = sys.executable
DB_URL = os.environ.get("BENCH_HOOKS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ocpp_bench_hooks")
REDIS_URL = os.environ.get("BENCH_HOOKS_REDIS_URL", "redis://127.0.0.1:6379/12")
HOOK_TIMEOUT = 5.0
CACHE_WAIT = 6.0  # Daphne refreshes its view of the hooks every 5 s (hook_runner.SETTINGS_TTL)
REGISTRY_KEY = "ocpp:hooks"  # hook_runner.REGISTRY_KEY
MARK = "HOOK"  # bench_hooks.MARK
TARGET_ADDED_P99_MS = 30
WARMUP_CALLS = 30
LOOP_CHARGERS = 50  # default of --chargers
LOOP_WARMUP_S = 1.0
ID_TAG = "BENCH-TAG-1"
LATENCY_ID = "HOOKLAT"
LOOP_PREFIX = "HOOKMV"
SHARED_ENV = {
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-hooks-not-secret",
    "OCPP_AUTO_CREATE_CHARGE_POINTS": "1",
    "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted",
    "OCPP_HOOK_TIMEOUT": f"{HOOK_TIMEOUT:g}",
    "LOG_LEVEL": "WARNING",
}
DAPHNE_LOG = RESULTS / "hooks-daphne.log"
WORKER_LOG = RESULTS / "hooks-worker.log"
FALLBACK_LOG_TEXT = "failed, default answer sent"  # hook_runner.answer_with_hook's warning


class Unanswered(Exception):
    pass


# --- servers ------------------------------------------------------------------------------------------
def flush_redis():
    import redis

    redis.from_url(REDIS_URL).flushdb()


def start_daphne(port):
    env = {**os.environ, **SHARED_ENV}
    env.pop("OCPP_HOOK_MODULES", None)
    cmd = [PY, "-m", "daphne", "-v", "0", "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
        "--websocket_timeout", "-1", "--websocket_connect_timeout", "60", "ocpp_dp.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(DAPHNE_LOG, "a"))
    wait_port(port, proc)
    return proc


class Worker:
    """A real Celery worker with the bench hooks, in a process group of its own (it forks its pool)."""

    def __init__(self):
        self.node = f"hookbench-{os.getpid()}@{socket.gethostname()}"
        self.env = {**os.environ, **SHARED_ENV, "OCPP_HOOK_MODULES": "bench_hooks", "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}", "PYTHONUNBUFFERED": "1"}
        self.proc = None

    def start(self, timeout=60):
        cmd = [PY, "-m", "celery", "-A", "ocpp_dp", "worker", "--concurrency", "2", "--loglevel", "WARNING",
            "-n", self.node, "--without-gossip", "--without-mingle"]
        with open(WORKER_LOG, "a") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:  # "ready." is logged at INFO, so ask the worker itself
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Celery worker exited ({self.proc.returncode}); see {WORKER_LOG}")
            ping = subprocess.run([PY, "-m", "celery", "-A", "ocpp_dp", "inspect", "ping", "-d", self.node, "--timeout", "1"],
                cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60)
            if ping.returncode == 0 and "pong" in ping.stdout:
                return self
            time.sleep(0.5)
        raise RuntimeError(f"the Celery worker did not answer a ping within {timeout} s; see {WORKER_LOG}")

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()  # warm shutdown: worker_shutdown deletes ocpp:hooks too
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    @property
    def running(self):
        return self.proc is not None


def delete_registry():
    import redis

    redis.from_url(REDIS_URL).delete(REGISTRY_KEY)


# --- the database, read directly ----------------------------------------------------------------------
NOT_EMPTY = "value IS NOT NULL AND value <> 'null'::jsonb AND value <> '\"\"'::jsonb"


def db_counts(action):
    import psycopg

    path = f"Requests.{action}.HookError"
    with psycopg.connect(DB_URL) as conn:
        return {
            "samples": conn.execute("SELECT count(*) FROM datapoints_metersample").fetchone()[0],
            "hook_error_history": conn.execute(f"SELECT count(*) FROM datapoints_elementchange WHERE path = %s AND {NOT_EMPTY}", (path,)).fetchone()[0],
            "hook_error_now": conn.execute(f"SELECT count(*) FROM datapoints_element WHERE path = %s AND {NOT_EMPTY}", (path,)).fetchone()[0],
        }


def log_size():
    return DAPHNE_LOG.stat().st_size if DAPHNE_LOG.exists() else 0


def fallback_warnings(offset, action):
    with open(DAPHNE_LOG, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return sum(1 for line in text.splitlines() if f" {action} hook " in line and FALLBACK_LOG_TEXT in line)


# --- chargers -----------------------------------------------------------------------------------------
async def call(charger, action, payload, timeout):
    """-> the answer frame ([3, id, payload] or [4, id, code, text, details]); Unanswered on timeout."""
    charger.n += 1
    unique_id = str(charger.n)
    await charger.ws.send(json.dumps([2, unique_id, action, payload]))
    try:
        frame = json.loads(await asyncio.wait_for(charger.ws.recv(), timeout))
    except asyncio.TimeoutError:
        raise Unanswered(f"{charger.url}: no answer to {action} within {timeout:g} s") from None
    if frame[1] != unique_id:
        raise RuntimeError(f"{charger.url}: answer {frame} to call {unique_id}")
    return frame


async def authorize(charger):
    """-> (seconds, parentIdTag or None)."""
    started = time.perf_counter()
    frame = await call(charger, "Authorize", {"idTag": ID_TAG}, HOOK_TIMEOUT + 10)
    seconds = time.perf_counter() - started
    if frame[0] != 3:
        raise AssertionError(f"Authorize answered {frame}")
    return seconds, frame[2]["idTagInfo"].get("parentIdTag")


async def connect_all(url, ids):
    chargers = [Charger(url, i) for i in ids]
    for i in range(0, len(chargers), 100):
        group = chargers[i : i + 100]
        await asyncio.gather(*(c.connect() for c in group))
        await asyncio.gather(*(c.boot(1) for c in group))
    return chargers


# --- switching the hook on and off --------------------------------------------------------------------
async def hook_on(worker, probe, timeout=30):
    """Start the worker, then wait until Daphne's cache knows the hooks (an Authorize answer carries
    parentIdTag HOOK). -> seconds from start to the first hooked answer."""
    started = time.monotonic()
    await asyncio.to_thread(worker.start)
    ready = time.monotonic()
    while time.monotonic() - ready < timeout:
        _, parent = await authorize(probe)
        if parent == MARK:
            return {"worker_ready_s": round(ready - started, 2), "hook_active_s": round(time.monotonic() - started, 2)}
        await asyncio.sleep(0.5)
    raise AssertionError(f"no Authorize answer came from the hook within {timeout} s of the worker's ping")


async def hook_off(worker, probe):
    """Stop the worker, delete ocpp:hooks, wait CACHE_WAIT s; the next Authorize must be the built-in
    answer, and quick (not a fallback after OCPP_HOOK_TIMEOUT)."""
    await asyncio.to_thread(worker.stop)
    await asyncio.to_thread(delete_registry)
    await asyncio.sleep(CACHE_WAIT)
    seconds, parent = await authorize(probe)
    if parent is not None or seconds > 1.0:
        raise AssertionError(f"{CACHE_WAIT:g} s after the hooks were unpublished, Authorize still went to a hook "
            f"(parentIdTag {parent!r}, {seconds:.2f} s)")


# --- measurements -------------------------------------------------------------------------------------
async def authorize_latencies(charger, calls, hooked):
    before_db, before_log = await asyncio.to_thread(db_counts, "Authorize"), log_size()
    latencies = []
    for i in range(WARMUP_CALLS + calls):
        seconds, parent = await authorize(charger)
        expected = MARK if hooked else None
        if parent != expected:
            raise AssertionError(f"Authorize {i} ({'hook' if hooked else 'no hook'}): parentIdTag {parent!r}, expected {expected!r}")
        if i >= WARMUP_CALLS:
            latencies.append(seconds)
    after_db = await asyncio.to_thread(db_counts, "Authorize")
    result = latency_stats(latencies)
    result["fallbacks"] = after_db["hook_error_history"] - before_db["hook_error_history"]
    result["fallback_warnings"] = fallback_warnings(before_log, "Authorize")
    return result


async def meter_values_loop(chargers, seconds):
    """Closed loop, MeterValues only, every charger sending its next call when the last is answered."""
    before_db, before_log = await asyncio.to_thread(db_counts, "MeterValues"), log_size()
    state = {"sent": 0, "results": 0, "errors": [], "lost": [], "samples_sent": 0, "counted": 0, "measuring": False, "stop": False}
    round_trips = []

    async def loop(charger):
        i = 0
        while not state["stop"]:
            payload = meter_values(i)
            i += 1
            state["sent"] += 1
            state["samples_sent"] += sum(len(m["sampledValue"]) for m in payload["meterValue"])
            started = time.perf_counter()
            try:
                frame = await call(charger, "MeterValues", payload, HOOK_TIMEOUT + 10)
            except Unanswered as exc:
                state["lost"].append(str(exc))
                return
            round_trips.append(time.perf_counter() - started)
            if frame[0] == 3:
                state["results"] += 1
            else:
                state["errors"].append(frame)
            if state["measuring"]:
                state["counted"] += 1

    tasks = [asyncio.create_task(loop(c)) for c in chargers]
    await asyncio.sleep(LOOP_WARMUP_S)
    state["measuring"] = True
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    counted, elapsed = state["counted"], time.perf_counter() - t0
    state["measuring"], state["stop"] = False, True
    await asyncio.gather(*tasks)
    after_db = await asyncio.to_thread(db_counts, "MeterValues")
    rows = after_db["samples"] - before_db["samples"]
    result = {
        "chargers": len(chargers),
        "seconds": round(elapsed, 3),
        "calls_per_s": round(counted / elapsed, 1),
        "sent": state["sent"],
        "answered": state["results"],
        "call_errors": len(state["errors"]),
        "lost": len(state["lost"]),
        "samples_sent": state["samples_sent"],
        "sample_rows_added": rows,
        "max_round_trip_ms": round(max(round_trips) * 1000, 1) if round_trips else None,
        "p99_round_trip_ms": latency_stats(round_trips)["p99_ms"] if len(round_trips) > 1 else None,
        "fallbacks_history": after_db["hook_error_history"] - before_db["hook_error_history"],
        "fallbacks_now": after_db["hook_error_now"],
        "fallback_warnings": fallback_warnings(before_log, "MeterValues"),
    }
    result["no_loss"] = state["results"] == state["sent"] and not state["lost"] and rows == state["samples_sent"]
    result["deadline_held"] = result["max_round_trip_ms"] is not None and result["max_round_trip_ms"] < (HOOK_TIMEOUT + 1) * 1000
    if state["errors"] or state["lost"]:
        result["first_problems"] = [str(p) for p in (state["errors"] + state["lost"])[:5]]
    return result


async def one_round(args, number, worker):
    await asyncio.to_thread(flush_redis)
    port = free_port()
    daphne = await asyncio.to_thread(start_daphne, port)
    chargers = []
    try:
        url = f"ws://127.0.0.1:{port}/ocpp"
        chargers = await connect_all(url, [LATENCY_ID] + [f"{LOOP_PREFIX}{i:04d}" for i in range(args.chargers)])
        probe, loopers = chargers[0], chargers[1:]
        order = ["hook", "no_hook"] if number % 2 else ["no_hook", "hook"]
        result = {"order": order}
        for phase in order:
            if phase == "hook":
                switch = await hook_on(worker, probe)
            else:
                if worker.running:
                    await hook_off(worker, probe)
                switch = {}
                seconds, parent = await authorize(probe)
                assert parent is None and seconds < 1.0, (parent, seconds)
            result[phase] = {
                "switch": switch,
                "authorize": await authorize_latencies(probe, args.calls, phase == "hook"),
                "meter_values": await meter_values_loop(loopers, args.seconds),
            }
        await asyncio.to_thread(worker.stop)
    finally:
        await asyncio.gather(*(c.ws.close() for c in chargers if c.ws), return_exceptions=True)
        await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(stop, daphne)
    h, n = result["hook"]["authorize"], result["no_hook"]["authorize"]
    result["added"] = {"p50_ms": round(h["p50_ms"] - n["p50_ms"], 2), "p99_ms": round(h["p99_ms"] - n["p99_ms"], 2)}
    print_round(number, result)
    return result


def print_round(number, r):
    for phase in ("hook", "no_hook"):
        a, m = r[phase]["authorize"], r[phase]["meter_values"]
        print(f"round {number} {phase:7s}: Authorize p50 {a['p50_ms']:6.2f} p99 {a['p99_ms']:6.2f} max {a['max_ms']:7.2f} ms | "
            f"MeterValues x{m['chargers']} {m['calls_per_s']:7.1f} calls/s, {m['answered']}/{m['sent']} answered, "
            f"rows {m['sample_rows_added']}/{m['samples_sent']}, max {m['max_round_trip_ms']} ms, fallbacks {m['fallbacks_history']}", flush=True)
    print(f"round {number} added  : p50 {r['added']['p50_ms']:+.2f} ms, p99 {r['added']['p99_ms']:+.2f} ms", flush=True)


def summarize(rounds):
    def median(values):
        return round(statistics.median(values), 2)

    summary = {}
    for phase in ("hook", "no_hook"):
        a = [r[phase]["authorize"] for r in rounds]
        m = [r[phase]["meter_values"] for r in rounds]
        summary[phase] = {
            "authorize": {k: median([x[k] for x in a]) for k in ("p50_ms", "p99_ms", "max_ms")},
            "meter_values": {
                "calls_per_s": median([x["calls_per_s"] for x in m]),
                "max_round_trip_ms": max(x["max_round_trip_ms"] for x in m),
                "sent": sum(x["sent"] for x in m),
                "answered": sum(x["answered"] for x in m),
                "lost": sum(x["lost"] for x in m),
                "call_errors": sum(x["call_errors"] for x in m),
                "samples_sent": sum(x["samples_sent"] for x in m),
                "sample_rows_added": sum(x["sample_rows_added"] for x in m),
                "fallbacks": sum(x["fallbacks_history"] for x in m),
                "fallback_warnings": sum(x["fallback_warnings"] for x in m),
                "no_loss": all(x["no_loss"] for x in m),
                "deadline_held": all(x["deadline_held"] for x in m),
            },
        }
    summary["added"] = {k: median([r["added"][k] for r in rounds]) for k in ("p50_ms", "p99_ms")}
    summary["meter_values_hook_over_no_hook"] = round(summary["hook"]["meter_values"]["calls_per_s"] / summary["no_hook"]["meter_values"]["calls_per_s"], 2)
    summary["target_added_p99_ms"] = TARGET_ADDED_P99_MS
    summary["target_met"] = summary["added"]["p99_ms"] <= TARGET_ADDED_P99_MS
    return summary


async def run_rounds(args):
    worker = Worker()
    try:
        return [await one_round(args, r + 1, worker) for r in range(args.rounds)]
    finally:
        worker.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500, help=f"sequential Authorize calls per phase and round (after {WARMUP_CALLS} warm-up calls)")
    parser.add_argument("--seconds", type=float, default=10, help="length of the MeterValues closed loop per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chargers", type=int, default=LOOP_CHARGERS, help="chargers in the MeterValues closed loop")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    recreate_database(DB_URL)
    rounds = asyncio.run(run_rounds(args))
    summary = summarize(rounds)
    print(json.dumps(summary, indent=2))
    (RESULTS / "hooks.json").write_text(json.dumps({"args": vars(args), "rounds": rounds, "summary": summary}, indent=2))
    added = summary["added"]
    print(f"Authorize added by the hook (median of rounds): p50 {added['p50_ms']:+.2f} ms, p99 {added['p99_ms']:+.2f} ms; "
        f"target p99 added <= {TARGET_ADDED_P99_MS} ms: {'met' if summary['target_met'] else 'NOT met'}")
    mv = summary["hook"]["meter_values"]
    print(f"MeterValues with the hook: {mv['calls_per_s']} calls/s (no hook {summary['no_hook']['meter_values']['calls_per_s']}), "
        f"{'no message lost' if mv['no_loss'] else 'MESSAGES LOST'} ({mv['answered']}/{mv['sent']} answered, {mv['sample_rows_added']}/{mv['samples_sent']} rows), "
        f"deadline {'held' if mv['deadline_held'] else 'NOT held'} (max {mv['max_round_trip_ms']} ms), fallbacks {mv['fallbacks']}")
    if not (mv["no_loss"] and mv["deadline_held"] and summary["no_hook"]["meter_values"]["no_loss"]):
        sys.exit("MeterValues: a call was lost, a row is missing, or the deadline did not hold (see above)")


if __name__ == "__main__":
    main()
