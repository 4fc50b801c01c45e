"""Benchmark: this server (one Daphne process, PostgreSQL) against the baseline
(`bench/baseline_server.py`), measured in the same run, alternating A B A B.

  python bench/run.py [--rounds 3] [--loop-chargers 200] [--seconds 10] [--storm 3000,5000,10000]
                      [--idle 2000] [--variant NAME:VAR=VALUE[,VAR=VALUE...]]... [--via-nginx]

Each storm size runs twice per round on the same server: chargers it has never seen (auto-created:
`unknown`), then the same chargers again (`known`). Times are reported with ours/baseline ratios
(lower is better; the baseline stores nothing, so known and unknown are the same to it), and with
the handshakes the fleet had to retry (`retries`: 0 means none was dropped or refused).

`--storm 0` / `--idle 0` skip those parts. Each `--variant` runs our server once more per round
with those environment variables (e.g. `--variant log-off:OCPP_MESSAGE_LOG_DAYS=0`), in the same
alternation, and is reported against the baseline and against `ours`. `--via-nginx` adds our server
once more behind nginx (the site `manage.py nginx_config` prints; bench/nginx_front.py), reported as
the variant `nginx`: `closed_loop_ours_over_nginx` is what nginx costs.

Every phase also reports the CPU seconds it cost (`cpu`: the server process, PostgreSQL's processes
on this machine, the fleet): on two cores the three compete, and a phase where none of them is
near the wall time waits on something else (a commit, a round trip), not on CPU.

Prints medians and ratios and writes bench/results/latest.json. Needs PostgreSQL at
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ocpp_bench; it is recreated).
"""
import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ocpp_bench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def recreate_database(db_url=DB_URL):
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("REDIS_URL", None)
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)


def start_ours(port, extra_env=None):
    env = {**os.environ, "DATABASE_URL": DB_URL, "OCPP_AUTO_CREATE_CHARGE_POINTS": "1", "OCPP_NEW_CHARGE_POINT_STATUS": "Accepted", "LOG_LEVEL": "WARNING", **(extra_env or {})}
    env.pop("REDIS_URL", None)
    cmd = [PY, "-m", "daphne", "-v", "0", "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
        "--websocket_timeout", "-1", "--websocket_connect_timeout", "60", "--ping-interval", "20", "ocpp_dp.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(ROOT / "bench/results/daphne.log", "a"))
    wait_port(port, proc)
    return proc


def start_ours_via_nginx(port):
    from nginx_front import NginxFront

    node_port = free_port()
    front = NginxFront(start_ours(node_port), port, node_port)
    wait_port(port, front)
    return front


def start_baseline(port):
    proc = subprocess.Popen([PY, str(ROOT / "bench/baseline_server.py"), str(port)], stdout=subprocess.DEVNULL, stderr=open(ROOT / "bench/results/baseline.log", "a"))
    wait_port(port, proc)
    return proc


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds():
    """CPU seconds so far of this machine's PostgreSQL processes (those alive now: a short-lived
    autovacuum worker that ends within a phase is missed)."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                total += cpu_seconds(comm.parent.name)
        except OSError:
            continue
    return total


def fleet(port, mode, *args, server_pid=None):
    """Run the fleet; its JSON outcome, with `cpu` ({server, postgres, fleet} seconds) when
    `server_pid` is given."""
    before = (cpu_seconds(server_pid), postgres_cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)) if server_pid else None
    out = subprocess.run([PY, str(ROOT / "bench/fleet.py"), f"ws://127.0.0.1:{port}/ocpp", mode, *args], capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    outcome = json.loads(out.stdout.strip().splitlines()[-1])
    if before:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        outcome["cpu"] = {
            "server": round(cpu_seconds(server_pid) - before[0], 2),
            "postgres": round(postgres_cpu_seconds() - before[1], 2),
            "fleet": round(children.ru_utime + children.ru_stime - before[2].ru_utime - before[2].ru_stime, 2),
        }
    return outcome


def cpu_text(cpu):
    return f"cpu s: server {cpu['server']:.1f}, postgres {cpu['postgres']:.1f}, fleet {cpu['fleet']:.1f}"


def stop(proc):
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def idle_rss(start, port, n, prefix):
    proc = start(port)
    try:
        time.sleep(1)
        before = rss_kb(proc.pid)
        sim = subprocess.Popen([PY, str(ROOT / "bench/fleet.py"), f"ws://127.0.0.1:{port}/ocpp", "idle", "--chargers", str(n), "--prefix", prefix], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        sim.stdout.readline()
        time.sleep(2)
        after = rss_kb(proc.pid)
        sim.stdin.close()
        sim.wait(60)
        return round((after - before) / n, 2)
    finally:
        stop(proc)


def storm_sizes(text):
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if any(size < 0 for size in sizes):
        raise argparse.ArgumentTypeError("expected charger counts like 3000,5000,10000 (0: no storm)")
    return [size for size in sizes if size]


def variant(text):
    name, _, assignments = text.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if item)
    if not name or name in ("ours", "baseline") or not env:
        raise argparse.ArgumentTypeError("expected NAME:VAR=VALUE[,VAR=VALUE...]")
    return name, env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop-chargers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--storm", type=storm_sizes, default=[3000, 5000, 10000], help="charger counts, comma-separated; 0: no storm")
    parser.add_argument("--idle", type=int, default=2000, help="0: no idle measurement")
    parser.add_argument("--variant", type=variant, action="append", default=[], help="NAME:VAR=VALUE,...: our server again with this environment")
    parser.add_argument("--via-nginx", action="store_true", help="our server once more, behind nginx (variant 'nginx')")
    args = parser.parse_args()
    (ROOT / "bench/results").mkdir(exist_ok=True)
    recreate_database()
    servers = [("baseline", start_baseline), ("ours", start_ours)]
    servers += [(name, lambda port, env=env: start_ours(port, env)) for name, env in args.variant]
    variants = [name for name, _env in args.variant]
    if args.via_nginx:
        servers.append(("nginx", start_ours_via_nginx))
        variants.append("nginx")
    results = {name: {"loop": [], "cpu": {}, "storm": {str(n): {"unknown": [], "known": [], "retries": 0} for n in args.storm}} for name, _start in servers}
    loop_args = ["--chargers", str(args.loop_chargers), "--seconds", str(args.seconds)]
    for r in range(args.rounds):
        for name, start in servers:
            port = free_port()
            proc = start(port)
            try:
                loop = fleet(port, "closed-loop", *loop_args, "--prefix", "LOOP", server_pid=proc.pid)
                results[name]["cpu"].setdefault("closed_loop", []).append(loop["cpu"])
                storms = []
                for n in args.storm:
                    for kind in ("unknown", "known"):  # the same ids twice: created, then known
                        outcome = fleet(port, "storm", "--chargers", str(n), "--connectors", "2", "--prefix", f"R{r}N{n}-", server_pid=proc.pid)
                        results[name]["storm"][str(n)][kind].append(outcome["seconds"])
                        results[name]["storm"][str(n)]["retries"] += outcome.get("retries", 0)
                        results[name]["cpu"].setdefault(f"storm_{n}_{kind}", []).append(outcome["cpu"])
                        storms.append(f"{n} {kind} {outcome['seconds']:6.2f} s ({outcome.get('retries', 0)} retries; {cpu_text(outcome['cpu'])})")
            finally:
                stop(proc)
            results[name]["loop"].append(loop["calls_per_s"])
            print(f"round {r + 1} {name:8s}: closed loop {loop['calls_per_s']:8.1f} calls/s ({cpu_text(loop['cpu'])})   storms: {'; '.join(storms)}", flush=True)
    if args.idle:
        results["ours"]["idle_kb_per_charger"] = idle_rss(start_ours, free_port(), args.idle, "IDLE")
        results["baseline"]["idle_kb_per_charger"] = idle_rss(start_baseline, free_port(), args.idle, "IDLE")
    loop = {k: statistics.median(v["loop"]) for k, v in results.items()}
    summary = {"closed_loop_calls_per_s": loop, "closed_loop_ratio": round(loop["ours"] / loop["baseline"], 2)}
    for name in variants:
        summary[f"closed_loop_ratio_{name}"] = round(loop[name] / loop["baseline"], 2)
        summary[f"closed_loop_ours_over_{name}"] = round(loop["ours"] / loop[name], 3)
    for n in map(str, args.storm):
        medians = {k: {kind: statistics.median(v["storm"][n][kind]) for kind in ("unknown", "known")} for k, v in results.items()}
        baseline = statistics.median(results["baseline"]["storm"][n]["unknown"] + results["baseline"]["storm"][n]["known"])
        summary[f"storm_{n}"] = {
            "seconds": medians,
            "retries": {k: v["storm"][n]["retries"] for k, v in results.items()},
            **{f"{k}_over_baseline_{kind}": round(medians[k][kind] / baseline, 2) for k in results if k != "baseline" for kind in ("unknown", "known")},
        }
    summary["cpu_seconds"] = {
        name: {phase: {part: statistics.median(run[part] for run in runs) for part in ("server", "postgres", "fleet")} for phase, runs in v["cpu"].items()}
        for name, v in results.items()
    }
    if args.idle:
        summary["idle_kb_per_charger"] = {k: results[k]["idle_kb_per_charger"] for k in ("ours", "baseline")}
    print(json.dumps(summary, indent=2))
    (ROOT / "bench/results/latest.json").write_text(json.dumps({"args": vars(args), "runs": results, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
