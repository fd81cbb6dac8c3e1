"""Run every benchmark at a small default size (the Makefile's `make bench`). Each prints its own figures;
the full sizes the issues set (1,000,000 rows etc.) are the scripts' own defaults — see bench/README.md.

    .venv/bin/python bench/run_all.py [--db sqlite|postgres|both] [--only import,intake,...]

A bench that fails is reported and the others still run; the exit status is non-zero if any failed.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benches(db: str) -> list[tuple[str, list[str]]]:
    one_db = "postgres" if db == "postgres" else "sqlite"  # for scripts that take a single database
    return [
        ("import", ["import_bench.py", "--rows", "20000", "--db", db]),
        ("intake", ["intake_bench.py", "--seconds", "5", "--max-requests", "5000", "--floor", "--db", db]),
        ("preview", ["preview_bench.py", "--rows", "100000", "--repeat", "2", "--db", db]),
        ("demo", ["demo_bench.py", "--scale", "0.2", "--db", db]),
        ("visit", ["visit_bench.py", "--visits", "3"]),
        ("pivot", ["pivot_bench.py", "--leads", "50000", "--activities-per-lead", "2", "--changes", "1000",
                   "--db", one_db]),
        ("sla", ["sla_bench.py", "--rows", "50000", "--messages", "1000", "--db", db]),
        ("board", ["board_bench.py", "--deals", "2000", "--reps", "20", "--db", db]),
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--only", default="", help="comma-separated names: import,intake,preview,demo,visit,pivot,"
                                              "sla,board")
    args = p.parse_args()
    only = {n for n in args.only.split(",") if n}
    failed = []
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    for name, cmd in benches(args.db):
        if only and name not in only:
            continue
        script = HERE / cmd[0]
        if not script.exists():
            print(f"== {name}: {cmd[0]} not present, skipped", flush=True)
            continue
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script), *cmd[1:]], cwd=HERE.parent).returncode
        print(f"== {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {time.perf_counter() - t0:.0f}s",
              flush=True)
        if rc:
            failed.append(name)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if failed:
        print("failed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
