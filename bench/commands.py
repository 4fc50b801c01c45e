"""Benchmark: commands across two nodes, on PostgreSQL and Redis.

  python bench/commands.py [--calls 500] [--fanout 1000] [--rounds 3]

Each round starts two Daphne processes, node A and node B, sharing one database and one Redis,
and connects simulated chargers (a separate process) to node A. Then:

  round trip     this process calls send_command_async(GetLocalListVersion) N times in a row:
                 API -> Redis -> node A -> charger -> answer stored -> Redis -> caller;
  through node B the same, posted to node B's /api/local/command, so the command starts inside
                 node B and crosses Redis to node A and back;
  fan-out        ChangeConfiguration to every charger at once (asyncio.gather).

Prints p50 / p99 / max per round and the medians over rounds, and writes bench/results/commands.json.
Needs PostgreSQL at BENCH_CMD_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ocpp_bench_cmd;
it is recreated) and Redis at BENCH_CMD_REDIS_URL (default redis://127.0.0.1:6379/14; flushed).
"""
import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from fleet import Charger  # bench/ is on sys.path when this file runs as a script
from run import free_port, recreate_database, stop, wait_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench/results"
PY = sys.executable
DB_URL = os.environ.get("BENCH_CMD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ocpp_bench_cmd")
REDIS_URL = os.environ.get("BENCH_CMD_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET_KEY = "bench-commands-not-secret"  # the same on both nodes and here: the local API token derives from it
TARGET_P99_MS = 50
WARMUP_CALLS = 20
ROUND_TRIP = ("GetLocalListVersion", {})
FAN_OUT = ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"})
PREFIX = "CMD"
# A valid CALLRESULT payload for every OCPP 1.6 command the central system can send.
ANSWERS = {"GetLocalListVersion": {"listVersion": 1}, "GetConfiguration": {}, "GetDiagnostics": {}, "UpdateFirmware": {}, "UnlockConnector": {"status": "Unlocked"}}
DEFAULT_ANSWER = {"status": "Accepted"}
SHARED_ENV = {"DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING"}


# --- the chargers (a process of their own: `bench/commands.py --serve-chargers URL N`) ----------------
async def answer_calls(charger, counts):
    """Answer every CALL from the central system with a CALLRESULT, until the socket closes."""
    try:
        async for text in charger.ws:
            frame = json.loads(text)
            if frame[0] == 2:
                counts[frame[2]] += 1
                await charger.ws.send(json.dumps([3, frame[1], ANSWERS.get(frame[2], DEFAULT_ANSWER)]))
    except Exception as exc:  # a closed socket ends the loop; anything else is reported at exit
        counts[f"error: {type(exc).__name__}"] += 1


async def serve_chargers(url, n):
    """Connect and boot n chargers in groups of 100, answer calls until stdin closes, then print
    what they were asked."""
    chargers = [Charger(url, f"{PREFIX}{i:05d}") for i in range(n)]
    for i in range(0, n, 100):
        group = chargers[i : i + 100]
        await asyncio.gather(*(c.connect() for c in group))
        await asyncio.gather(*(c.boot(0) for c in group))
    counts = Counter()
    tasks = [asyncio.create_task(answer_calls(c, counts)) for c in chargers]
    print(json.dumps({"ready": n}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(c.ws.close() for c in chargers), return_exceptions=True)
    await asyncio.gather(*tasks)
    print(json.dumps({"answered": dict(counts)}), flush=True)


class ChargerFleet:
    """The charger process, seen from the benchmark."""

    async def start(self, port, n):
        self.ids = [f"{PREFIX}{i:05d}" for i in range(n)]
        url = f"ws://127.0.0.1:{port}/ocpp"
        self.proc = await asyncio.create_subprocess_exec(PY, __file__, "--serve-chargers", url, str(n), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 300)
        if not line:
            raise RuntimeError("the charger process exited before its chargers were connected")
        return self

    async def close(self):
        """Disconnect every charger; -> what they were asked, by action."""
        self.proc.stdin.close()
        out, _ = await asyncio.wait_for(self.proc.communicate(), 60)
        return json.loads(out.decode().strip().splitlines()[-1])["answered"]


# --- servers ------------------------------------------------------------------------------------------
def flush_redis():
    import redis

    redis.from_url(REDIS_URL).flushdb()


def start_node(port, name):
    env = {**os.environ, **SHARED_ENV, "OCPP_AUTO_CREATE_CHARGE_POINTS": "1", "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "OCPP_NODE_NAME": name}
    cmd = [PY, "-m", "daphne", "-v", "0", "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
        "--websocket_timeout", "-1", "--websocket_connect_timeout", "60", "ocpp_dp.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(RESULTS / f"commands-node-{name}.log", "a"))
    wait_port(port, proc)
    return proc


# --- measurements -------------------------------------------------------------------------------------
def latency_stats(seconds):
    ms = sorted(s * 1000 for s in seconds)
    return {"calls": len(ms), "p50_ms": round(statistics.median(ms), 2), "p99_ms": round(statistics.quantiles(ms, n=100, method="inclusive")[98], 2), "max_ms": round(ms[-1], 2)}


def check_answered(outcome, path):
    if outcome.status != "answered":
        raise AssertionError(f"{path}: {ROUND_TRIP[0]} ended {outcome.status}: {outcome.as_dict()}")


async def timed_calls(send, calls):
    """Call `send()` WARMUP_CALLS + calls times in a row; -> the latencies of the last `calls`."""
    latencies = []
    for i in range(WARMUP_CALLS + calls):
        started = time.perf_counter()
        await send()
        if i >= WARMUP_CALLS:
            latencies.append(time.perf_counter() - started)
    return latency_stats(latencies)


async def round_trip(client_id, calls):
    from datapoints.commands import send_command_async

    async def send():
        check_answered(await send_command_async(client_id, *ROUND_TRIP, timeout=10), "direct")

    return await timed_calls(send, calls)


class LocalApi:
    """POST /api/local/command on one node, over one kept-alive HTTP connection."""

    def __init__(self, port):
        from datapoints.notify import local_api_token

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", "X-OCPP-Token": local_api_token()}

    def command(self, charge_point, action, payload, timeout):
        from datapoints.commands import Outcome

        body = json.dumps({"charge_point": charge_point, "action": action, "payload": payload, "timeout": timeout})
        self.conn.request("POST", "/api/local/command", body, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"/api/local/command answered HTTP {response.status}: {data[:500]!r}")
        return Outcome(**json.loads(data))


async def round_trip_via_node(port, client_id, calls):
    api = LocalApi(port)

    async def send():  # a thread, so that this event loop stays free
        check_answered(await asyncio.to_thread(api.command, client_id, *ROUND_TRIP, 10), "through node B")

    try:
        return await timed_calls(send, calls)
    finally:
        api.conn.close()


async def fan_out(client_ids):
    from datapoints.commands import send_command_async

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(send_command_async(c, *FAN_OUT, timeout=30) for c in client_ids), return_exceptions=True)
    seconds = time.perf_counter() - started
    ends = Counter(o.status if not isinstance(o, BaseException) else f"{type(o).__name__}: {o}" for o in outcomes)
    return {"chargers": len(client_ids), "seconds": round(seconds, 3), "answered": ends.pop("answered", 0), "other": dict(ends)}


async def one_round(args, number):
    flush_redis()
    port_a, port_b = free_port(), free_port()
    nodes = []
    try:
        nodes.append(start_node(port_a, "A"))
        nodes.append(start_node(port_b, "B"))
        fleet = await ChargerFleet().start(port_a, max(args.fanout, 1))
        try:
            result = {"direct": await round_trip(fleet.ids[0], args.calls)}
            result["via_node_b"] = await round_trip_via_node(port_b, fleet.ids[0], args.calls)
            result["fan_out"] = await fan_out(fleet.ids[: args.fanout]) if args.fanout else None
        finally:
            asked = await fleet.close()
    finally:
        for proc in nodes:
            stop(proc)
    result["chargers_asked"] = asked
    print_round(number, result)
    return result


def print_round(number, r):
    d, b, f = r["direct"], r["via_node_b"], r["fan_out"] or {}
    print(f"round {number}: direct p50 {d['p50_ms']:6.2f} p99 {d['p99_ms']:6.2f} max {d['max_ms']:7.2f} ms | "
        f"via node B p50 {b['p50_ms']:6.2f} p99 {b['p99_ms']:6.2f} max {b['max_ms']:7.2f} ms | "
        f"fan-out {f.get('answered', 0)}/{f.get('chargers', 0)} in {f.get('seconds', 0):.2f} s {f.get('other') or ''}", flush=True)


def summarize(rounds, args):
    def median(path, key):
        values = [r[path][key] for r in rounds if r[path]]
        return round(statistics.median(values), 2) if values else None

    summary = {path: {key: median(path, key) for key in ("p50_ms", "p99_ms", "max_ms")} for path in ("direct", "via_node_b")}
    summary["fan_out"] = {"chargers": args.fanout, "seconds": median("fan_out", "seconds"), "answered_min": min((r["fan_out"]["answered"] for r in rounds if r["fan_out"]), default=None)}
    summary["target_p99_ms"] = TARGET_P99_MS
    summary["target_met"] = {path: summary[path]["p99_ms"] <= TARGET_P99_MS for path in ("direct", "via_node_b")}
    return summary


def setup_django():
    os.environ.update(SHARED_ENV)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ocpp_dp.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


async def run_rounds(args):
    return [await one_round(args, r + 1) for r in range(args.rounds)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500, help="sequential commands per path and round (after 20 warm-up calls)")
    parser.add_argument("--fanout", type=int, default=1000, help="chargers sent one command each at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-chargers", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_chargers:
        return asyncio.run(serve_chargers(args.serve_chargers[0], int(args.serve_chargers[1])))
    RESULTS.mkdir(exist_ok=True)
    recreate_database(DB_URL)
    setup_django()
    rounds = asyncio.run(run_rounds(args))
    summary = summarize(rounds, args)
    print(json.dumps(summary, indent=2))
    (RESULTS / "commands.json").write_text(json.dumps({"args": vars(args), "rounds": rounds, "summary": summary}, indent=2))
    for path, met in summary["target_met"].items():
        print(f"target p99 <= {TARGET_P99_MS} ms {path}: {'met' if met else 'NOT met'} ({summary[path]['p99_ms']} ms)")
    if any(r["fan_out"] and r["fan_out"]["answered"] != r["fan_out"]["chargers"] for r in rounds):
        sys.exit("fan-out: not every command was answered (see `other` above)")


if __name__ == "__main__":
    main()
