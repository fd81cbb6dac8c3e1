"""Rule preview over N leads (default 1,000,000): `baton.rules.services.rule_preview` for a static scoring
rule, on SQLite and PostgreSQL. Goal: <= 1 s at 1,000,000 leads.

    .venv/bin/python bench/preview_bench.py [--rows 1000000] [--db sqlite|postgres|both] [--repeat 3]

Each database is fresh (SQLite in a temp dir; PostgreSQL a new database when reachable): migrate, install
the default rules and grade bands, then write N leads (mixed statuses, sources, budgets, scores and grades)
and their LeadEvaluation rows with raw multi-row inserts (executemany / COPY) and ANALYZE. Then times the
preview of a new static rule ("budget > 200k" +20 points) and of a change to an existing rule, as the
unscoped preview (user=None) and as an ops user (scope: all); prints the answer so it can be checked.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 20000


def child(args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from baton.core import clock
    from baton.core.rawsql import RawInserter
    from baton.core.testing import factories as f
    from baton.leads.models import Lead
    from baton.rules.models import LeadEvaluation, ScoringRule
    from baton.rules.services import rule_preview, rules_install_defaults

    call_command("migrate", verbosity=0)
    rules_install_defaults()
    ops = f.user(roles=("ops",), username="preview_ops")
    leads, evals = RawInserter(Lead), RawInserter(LeadEvaluation, with_ids=False)
    rnd = random.Random(11)
    statuses = ["new", "assigned", "contacted", "qualified", "converted", "disqualified", "nurturing"]
    sources = ["referral", "trade_show", "web_form", "advertising", "phone", "other"]
    now = clock.now()
    t0 = time.perf_counter()
    done = 0
    while done < args.rows:
        n = min(CHUNK, args.rows - done)
        rows, scores = [], []
        for i in range(done, done + n):
            score = rnd.randrange(0, 101)
            scores.append(score)
            rows.append({"company": f"公司{i}", "phone": f"139{i:08d}", "phone_norm": f"+86139{i:08d}",
                         "email": f"u{i}@example.com", "email_norm": f"u{i}@example.com",
                         "source": sources[i % 6], "status": statuses[i % 7],
                         "budget": rnd.choice([None, 5000, 50000, 150000, 300000, 800000]),
                         "score": score, "grade": "A" if score >= 85 else "B" if score >= 60 else "C",
                         "created_at": now, "updated_at": now})
        with transaction.atomic():
            ids = leads.insert(rows)
            evals.insert([{"lead_id": pk, "raw_score": float(s), "score_explanation": [], "tag_explanation": [],
                           "auto_tags": [], "grade_bands_version": 1, "evaluated_at": now}
                          for pk, s in zip(ids, scores, strict=True)])
        done += n
    with connection.cursor() as c:
        c.execute("ANALYZE")
    print(f"[{connection.vendor}] wrote {args.rows:,} leads + evaluations in {time.perf_counter() - t0:.1f}s",
          flush=True)
    rule = {"all": [{"field": "budget", "op": "gt", "value": 200000}]}
    old = ScoringRule.objects.filter(kind="static").order_by("id").first()
    cases = [("new rule, unscoped", dict(condition=rule, points=20, user=None)),
             ("new rule, ops user", dict(condition=rule, points=20, user=ops)),
             (f"change of “{old.name}”", dict(condition={"field": "source", "op": "eq", "value": "web_form"},
                                               points=old.points, user=None, rule_id=old.pk))]
    worst = 0.0
    for label, kw in cases:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = rule_preview("lead", "scoring", **kw)
            times.append(time.perf_counter() - t0)
        worst = max(worst, min(times))
        print(f"[{connection.vendor}] preview ({label}): best {min(times):.3f}s, all "
              f"{', '.join(f'{t:.3f}' for t in times)} -> {result}", flush=True)
    print(f"[{connection.vendor}] rows={args.rows:,} slowest case (best of {args.repeat}) = {worst:.3f}s (goal <= 1 s)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        return child(args)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="baton_preview_") as tmp:
        base = {**os.environ, "DJANGO_SETTINGS_MODULE": "baton.config.settings", "PYTHONPATH": str(ROOT),
                "BATON_VAR_DIR": tmp}
        cmd = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--repeat", str(args.repeat)]
        if args.db in ("sqlite", "both"):
            subprocess.run(cmd, env={**base, "DATABASE_URL": f"sqlite:///{tmp}/preview.sqlite3"}, check=True)
        if args.db in ("postgres", "both"):
            import psycopg

            name = f"baton_preview_{os.getpid()}"
            try:
                with psycopg.connect(args.pg_url + "/postgres", autocommit=True, connect_timeout=3) as c:
                    c.execute(f'CREATE DATABASE "{name}"')
            except Exception as exc:
                print(f"PostgreSQL not reachable ({exc}); skipped")
            else:
                try:
                    subprocess.run(cmd, env={**base, "DATABASE_URL": f"{args.pg_url}/{name}"}, check=True)
                finally:
                    with psycopg.connect(args.pg_url + "/postgres", autocommit=True) as c:
                        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
