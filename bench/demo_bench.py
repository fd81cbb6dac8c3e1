"""Demo company benchmark: `baton demo` on a fresh database, timed.

    .venv/bin/python bench/demo_bench.py [--scale 1.0] [--seed 42] [--db sqlite|postgres|both]
                                          [--pg-url postgres://postgres@127.0.0.1:5432/baton_demo_bench]

SQLite runs in a temporary directory; PostgreSQL (when reachable) in a freshly created database that is
dropped afterwards. Each run is a separate process: migrate, then the demo command, timed on its own.
Prints seconds, rows per kind and peak RSS. The target is under 60 s at scale 1.0 on two cores.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2025-06-30T18:00:00+08:00"


def child(scale: float, seed: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from baton.core import clock
    from baton.demo.services import demo_load

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    result = demo_load(seed=seed, password="bench-pass-123", now=clock.parse_now(NOW), scale=scale)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 2), "counts": result.counts, "rss_mb": round(rss_mb)}))


def pg_admin(url: str, sql: str) -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    base = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql)
        return True
    except psycopg.Error as exc:
        print(f"  PostgreSQL: {exc}".strip(), file=sys.stderr)
        return False


def run(label: str, env: dict, scale: float, seed: int) -> dict | None:
    cmd = [sys.executable, __file__, "--child", "--scale", str(scale), "--seed", str(seed)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        print(f"{label}: FAILED\n{proc.stderr[-3000:]}")
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = ", ".join(f"{k} {v}" for k, v in result["counts"].items())
    print(f"{label:<10} {result['seconds']:>6.1f} s   peak RSS {result['rss_mb']} MB\n           {counts}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/baton_demo_bench")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.scale, args.seed)

    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "baton.config.settings",
                "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    base_env.pop("DATABASE_URL", None)
    print(f"baton demo, scale {args.scale:g}, seed {args.seed}, {os.cpu_count()} CPUs")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="baton-demo-bench-") as tmp:
            run("SQLite", {**base_env, "BATON_VAR_DIR": tmp}, args.scale, args.seed)
    if args.db in ("postgres", "both"):
        name = args.pg_url.rsplit("/", 1)[1]
        if not pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}"') or \
                not pg_admin(args.pg_url, f'CREATE DATABASE "{name}"'):
            print("PostgreSQL: SKIPPED (unreachable)")
            return
        try:
            with tempfile.TemporaryDirectory(prefix="baton-demo-bench-") as tmp:
                run("PostgreSQL", {**base_env, "BATON_VAR_DIR": tmp, "DATABASE_URL": args.pg_url},
                    args.scale, args.seed)
        finally:
            pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
