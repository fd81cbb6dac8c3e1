"""`POST /api/leads` under concurrent clients vs a bare endpoint (validate + insert one row), same run.

    .venv/bin/python bench/intake_bench.py [--db sqlite|postgres|both] [--seconds 10] [--max-requests 20000]

For each database (SQLite in a temp dir; PostgreSQL when reachable, a fresh database): migrate, install the
shipped defaults (rules, grade bands, pools) plus a catch-all round-robin pool of 6 reps, issue an API token,
then start `baton serve --no-worker` (gunicorn, 2 workers) on a free loopback port, twice:
  * full: the real app; clients POST valid, distinct leads to /api/leads with the token (validation, dedupe
    lookup, tags, score, grade, assignment, audit, one transaction per request);
  * bare: the same server and settings with only bench/bare_urls.py (JSON validation + one ORM insert into
    the same lead table);
  * floor (with --floor): bench/bare_urls.py's floor endpoint, the full request's database statements with fixed
    values and none of its logic: what any implementation of the full request can reach on this stack;
    `unlocked`, the same statements without the pool's lock and rotation write; and `minimal`, only the token
    read, the duplicate lookups and the lead with one audit row (no assignment, tags or score stored): a lower
    bound for any implementation of the issue's list of steps, whatever it chooses to store.
Each is loaded with 1 client and with 8 concurrent keep-alive clients (threads, http.client) for a bounded
time and request count. Prints requests/s, p50 and p99 latency, and the ratios the issue sets as goals:
throughput full/bare >= 0.5 at 8 clients, p99 full/bare <= 3 at 8 clients.
"""

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
_HANZI = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"  # varied leading characters, like real company names


def setup_child():
    """Runs in a fresh process with the target DATABASE_URL: prints the API token."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from baton.assignment.models import Pool, PoolMember
    from baton.core.testing import factories as f
    from baton.org.services import api_token_issue

    try:
        from baton.core.defaults import install_defaults

        install_defaults()
    except ImportError:
        from baton.assignment.services import assignment_install_defaults
        from baton.rules.services import rules_install_defaults

        rules_install_defaults()
        assignment_install_defaults()
    pool = Pool.objects.create(name="Bench catch-all", strategy="round_robin", priority=50)
    for i in range(6):
        PoolMember.objects.create(pool=pool, user=f.user(username=f"bench_rep{i}", roles=("rep",)),
                                  daily_cap=1_000_000)
    f.user(username="bench_api", roles=("ops",), password="bench-pw-123456")
    _token, raw = api_token_issue(username="bench_api", password="bench-pw-123456", name="bench")
    print(raw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port, path, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path)
            c.getresponse().read()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def load(port, path, headers, clients, seconds, max_requests, tag):
    """Run `clients` keep-alive clients for `seconds` (or `max_requests` in all). Returns stats."""
    lat, errors, lock = [], [], threading.Lock()
    stop_at = time.perf_counter() + seconds
    counter = iter(range(max_requests))

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < stop_at:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = json.dumps({"source": ("web_form", "referral", "trade_show", "advertising")[n % 4],
                               "company": f"{_HANZI[n % 20]}{_HANZI[n // 20 % 20]}科技{tag}{n}有限公司", "contact_name": f"联系人{n % 97}",
                               "phone": f"139{tag}{n:07d}", "email": f"b{tag}.{n}@example.com",
                               "budget": str((n % 7) * 50000)})
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status in (200, 201)
            except OSError as exc:
                ok = False
                resp = exc
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            dt = time.perf_counter() - t0
            if ok:
                mine.append(dt)
            else:
                errors.append(getattr(resp, "status", str(resp)))
        conn.close()
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    return {"n": len(lat), "errors": len(errors), "first_errors": errors[:3], "rps": len(lat) / took,
            "p50": pct(0.50), "p99": pct(0.99), "mean": statistics.mean(lat) * 1000 if lat else float("nan")}


def serve(env, port, extra=()):
    return subprocess.Popen([PY, "-m", "baton", "serve", "--no-worker", "--bind", f"127.0.0.1:{port}", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc):
    try:
        os.killpg(proc.pid, 15)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def endpoints(token: str) -> dict:
    """(settings module, path, headers) of each variant the benches load."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return {"full": ("baton.config.settings", "/api/leads", auth),
            "bare": ("bench.bare_settings", "/api/bare-leads", {"Content-Type": "application/json"}),
            "floor": ("bench.bare_settings", "/api/floor-leads", auth),
            "unlocked": ("bench.bare_settings", "/api/floor-leads-unlocked", auth),
            "minimal": ("bench.bare_settings", "/api/floor-leads-minimal", auth)}


@contextlib.contextmanager
def target_env(db: str, pg_url: str):
    """The environment of a server on a fresh database (SQLite in a temp dir; PostgreSQL a new database, dropped
    after), or None when PostgreSQL is unreachable (said so)."""
    with tempfile.TemporaryDirectory(prefix="baton_intake_") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BATON_VAR_DIR": tmp, "DJANGO_SETTINGS_MODULE":
               "baton.config.settings", "DATABASE_URL": f"sqlite:///{tmp}/intake.sqlite3"}
        env.pop("BATON_DEBUG", None)
        if db == "sqlite":
            yield env
            return
        import psycopg

        name = f"baton_intake_{os.getpid()}"
        try:
            with psycopg.connect(pg_url + "/postgres", autocommit=True, connect_timeout=3) as c:
                c.execute(f'CREATE DATABASE "{name}"')
        except Exception as exc:
            print(f"PostgreSQL not reachable ({exc}); skipped")
            yield None
            return
        try:
            yield {**env, "DATABASE_URL": f"{pg_url}/{name}"}
        finally:
            with psycopg.connect(pg_url + "/postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_target(label, env, args):
    token = subprocess.run([PY, __file__, "--setup"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    results = {}
    for variant, (settings, path, headers) in endpoints(token).items():
        if variant in ("floor", "unlocked", "minimal") and not args.floor:
            continue
        port = free_port()
        proc = serve({**env, "DJANGO_SETTINGS_MODULE": settings}, port, args.serve_args.split())
        try:
            if not wait_up(port, path):  # 405 / 401: up
                print(f"[{label}] {variant}: server did not start")
                continue
            load(port, path, headers, 2, 1.5, 200, f"w{variant[0]}")  # warm-up: imports, connections
            for clients in (1, 8):
                r = load(port, path, headers, clients, args.seconds, args.max_requests, f"{variant[0]}{clients}")
                results[(variant, clients)] = r
                print(f"[{label}] {variant:4s} {clients} client(s): {r['rps']:7.1f} req/s  p50 {r['p50']:6.1f} ms  "
                      f"p99 {r['p99']:6.1f} ms  ({r['n']} ok, {r['errors']} errors {r['first_errors']})",
                      flush=True)
        finally:
            stop(proc)
    if ("full", 8) in results and ("bare", 8) in results:
        f8, b8 = results[("full", 8)], results[("bare", 8)]
        f1, b1 = results[("full", 1)], results[("bare", 1)]
        print(f"[{label}] throughput full/bare at 8 clients = {f8['rps'] / b8['rps']:.2f} (goal >= 0.5); "
              f"p99 full/bare at 8 = {f8['p99'] / b8['p99']:.2f} (goal <= 3); "
              f"p50 at 1 client: full {f1['p50']:.1f} ms, bare {b1['p50']:.1f} ms")
    for variant, what in (("floor", "the full request's statements, no logic"),
                          ("unlocked", "the same without the pool's lock"),
                          ("minimal", "token, duplicate lookups, lead + one audit row: no assignment at all")):
        if (variant, 8) in results and ("bare", 8) in results:
            l8, b8 = results[(variant, 8)], results[("bare", 8)]
            print(f"[{label}] {variant} ({what}) / bare at 8 clients: throughput {l8['rps'] / b8['rps']:.2f}, "
                  f"p99 {l8['p99'] / b8['p99']:.2f}")
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--max-requests", type=int, default=20000)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--setup", action="store_true")
    p.add_argument("--floor", action="store_true", help="also load bench/bare_urls.py's floor endpoints: the full "
                   "request's database statements with fixed values and none of its logic, with and without the "
                   "pool's lock")
    p.add_argument("--serve-args", default="", help="extra `baton serve` options for both servers, e.g. "
                   "'--threads 2'")
    args = p.parse_args()
    if args.setup:
        return setup_child()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for db in ("sqlite", "postgres"):
        if args.db in (db, "both"):
            with target_env(db, args.pg_url) as env:
                if env is not None:
                    run_target(db, env, args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
