"""How long an intake holds its pool's lock on PostgreSQL, and what it does meanwhile; for an intake that takes
no lock (the express path swaps its pick in, `assignment.services.assignment_reserve`), how often its pick had
to be made again because another intake wrote first.

    .venv/bin/python bench/intake_hold.py [--clients 8] [--seconds 8] [--serve-args "--threads 1"]

Starts the full app as `intake_bench.py` does (same database set-up and clients) with `bench/hold_settings.py`,
which times the express intake's steps in each worker, loads it, and prints per assigned intake: the wait for
the pool's row lock, the hold from the grant to the commit, and within the hold the members' read (with
today's counts), the insert statement and the commit. Throughput x mean hold near 1 means the pool's lock is
the bottleneck: every intake into the pool queues behind it. Diagnosis; no goal.
"""

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake_bench as bench  # noqa: E402


def _summary(values: list[float]) -> str:
    values = sorted(values)
    return (f"mean {statistics.mean(values):6.2f}  p50 {values[len(values) // 2]:6.2f}  "
            f"p99 {values[min(len(values) - 1, int(len(values) * 0.99))]:6.2f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--serve-args", default="")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton_hold_") as logs, bench.target_env("postgres", args.pg_url) as env:
        if env is None:
            return
        token = subprocess.run([bench.PY, bench.__file__, "--setup"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
        _settings, path, headers = bench.endpoints(token)["full"]
        log = os.path.join(logs, "hold")
        port = bench.free_port()
        proc = bench.serve({**env, "DJANGO_SETTINGS_MODULE": "bench.hold_settings", "BATON_HOLD_LOG": log}, port,
                           args.serve_args.split())
        try:
            if not bench.wait_up(port, path):
                print("server did not start")
                return
            bench.load(port, path, headers, 2, 1.5, 200, "hw")
            for name in glob.glob(log + ".*"):
                open(name, "w").close()  # noqa: SIM115 (warm-up lines dropped)
            r = bench.load(port, path, headers, args.clients, args.seconds, 20000, "h")
        finally:
            bench.stop(proc)
        lines = [line.split() for name in glob.glob(log + ".*") for line in open(name)]  # noqa: SIM115
    rows = [line[1:] for line in lines if line[0] == "L"]
    swapped = [line[1:] for line in lines if line[0] == "S"]
    print(f"{args.clients} client(s): {r['rps']:.1f} req/s, p99 {r['p99']:.1f} ms; {len(rows)} intakes took the "
          f"pool's lock, {len(swapped)} swapped their pick in")
    if swapped:
        attempts = [int(row[0]) for row in swapped]
        print(f"  swap statements per intake: mean {statistics.mean(attempts):.2f}, max {max(attempts)}; "
              f"{sum(a > 1 for a in attempts) / len(attempts):.1%} of picks made again")
        print(f"  time in swap statements   {_summary([float(row[1]) for row in swapped])}")
        print(f"  whole intake              {_summary([float(row[2]) for row in swapped])}")
    if not rows:
        return
    hold = [float(row[2]) for row in rows]
    print(f"  wait for the pool's lock  {_summary([float(row[1]) for row in rows])}")
    print(f"  hold, grant to commit     {_summary(hold)}")
    steps: dict = {}
    for row in rows:
        for key, value in (re.fullmatch(r"(\w+)=([\d.]+)", item).groups() for item in row[3:]):
            steps.setdefault(key, []).append(float(value))
    for key, values in sorted(steps.items()):
        print(f"    {key:22s}  {_summary(values)}")
    print(f"  throughput x mean hold = {r['rps'] * statistics.mean(hold) / 1000:.2f} "
          "(near 1: the pool's lock is the bottleneck)")


if __name__ == "__main__":
    main()
