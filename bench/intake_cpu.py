"""CPU per request of `POST /api/leads` under load: where the intake's time goes when served.

    .venv/bin/python bench/intake_cpu.py [--db sqlite|postgres] [--clients 8] [--seconds 6] [--variant full|bare|both]
                                         [--serve-args "--threads 1"]

Starts `baton serve --no-worker` the way `intake_bench.py` does (same set-up, same clients), loads it, and reads
from `/proc` the CPU time spent meanwhile by the server's processes (gunicorn master and workers), by this client
process and, on PostgreSQL, by every `postgres` process: printed per request, for the full endpoint and the bare
one. On two cores the throughput ratio follows the ratio of these sums when the run is CPU-bound; when it is
not, something waits (a lock), and the sums show how much CPU was left idle.
"""

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake_bench as bench  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat(entry)[1]), []).append(int(entry))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo += children.get(out[-1], [])
    return out


def _cpu(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICK


def _postgres_pids() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        out.append(int(entry))
            except OSError:
                pass
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--variant", choices=["full", "bare", "both"], default="both")
    p.add_argument("--serve-args", default="")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = p.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with bench.target_env(args.db, args.pg_url) as env:
        if env is None:
            return
        token = subprocess.run([bench.PY, bench.__file__, "--setup"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
        for variant in ("full", "bare") if args.variant == "both" else (args.variant,):
            settings, path, headers = bench.endpoints(token)[variant]
            port = bench.free_port()
            proc = bench.serve({**env, "DJANGO_SETTINGS_MODULE": settings}, port, args.serve_args.split())
            try:
                if not bench.wait_up(port, path):
                    print(f"{variant}: server did not start")
                    continue
                bench.load(port, path, headers, 2, 1.5, 200, f"w{variant[0]}")  # warm-up
                server = _tree(proc.pid)
                postgres = _postgres_pids() if args.db == "postgres" else []
                s0, g0, c0 = _cpu(server), _cpu(postgres), resource.getrusage(resource.RUSAGE_SELF)
                r = bench.load(port, path, headers, args.clients, args.seconds, 1_000_000, f"c{variant[0]}")
                s1, g1, c1 = _cpu(server), _cpu(postgres), resource.getrusage(resource.RUSAGE_SELF)
                n = max(r["n"], 1)
                client = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
                print(f"{variant:4s} {args.clients} client(s): {r['rps']:7.1f} req/s  p99 {r['p99']:6.1f} ms  CPU "
                      f"per request: server {1000 * (s1 - s0) / n:.2f} ms, client {1000 * client / n:.2f} ms"
                      + (f", PostgreSQL {1000 * (g1 - g0) / n:.2f} ms" if postgres else ""), flush=True)
            finally:
                bench.stop(proc)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
