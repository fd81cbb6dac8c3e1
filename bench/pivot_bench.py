"""Pivot benchmark: N leads and 10·N activities, the analytics store (DuckDB) against hand-written DuckDB SQL.

    .venv/bin/python bench/pivot_bench.py [--leads 1000000] [--activities-per-lead 10] [--db sqlite|postgres]
                                          [--pg-url postgres://postgres@127.0.0.1:5432/baton_pivot_bench]
                                          [--changes 10000] [--db-engine]

In a fresh database (SQLite in a temp dir, or a fresh PostgreSQL database): 5 regions, 20 teams, 200 reps;
N leads and N·k activities written with raw multi-row inserts (COPY on PostgreSQL). Then it times:
  1. the first (full) sync of the store;
  2. a pivot of 2 dimensions × 3 metrics over one quarter through `baton.reports.engine.pivot` (the store),
     and the same question as hand-written DuckDB SQL on the same file (median of 5 runs each) and the ratio;
  3. an activities pivot (2 dimensions × 2 metrics, one quarter) the same two ways;
  4. with --db-engine, the same lead pivot straight on the database (the "small install" path);
  5. an incremental sync after --changes leads were changed (updated_at moved on).
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUARTER = (datetime(2025, 1, 1, tzinfo=UTC) - timedelta(hours=8), datetime(2025, 4, 1, tzinfo=UTC) - timedelta(hours=8))


def timed(fn, runs=5):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def child(args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from baton.core import clock
    from baton.imports.rawsql import RawInserter
    from baton.leads.models import Lead
    from baton.org.models import Region, Role, Team, User
    from baton.reports import engine, store

    call_command("migrate", verbosity=0)
    rnd = random.Random(11)
    admin = User.objects.create_superuser("bench-admin", password="x" * 12)
    rep_role, _ = Role.objects.get_or_create(code="rep")
    regions = [Region.objects.create(name=f"Region {i}", code=f"r{i}") for i in range(5)]
    teams = [Team.objects.create(name=f"Team {i}", region=regions[i % 5]) for i in range(20)]
    User.objects.bulk_create(
        [User(username=f"rep{i}", region=teams[i % 20].region, team=teams[i % 20],
              hire_date=datetime(2020 + i % 6, 1 + i % 12, 1).date()) for i in range(200)])
    rep_ids = [u.pk for u in User.objects.filter(username__startswith="rep").order_by("id")]
    n, k = args.leads, args.activities_per_lead
    start = datetime(2024, 7, 1, tzinfo=UTC)
    span = 365 * 24 * 3600
    sources = ["web_form", "phone", "referral", "advertising", "trade_show", "api"]
    t0 = time.perf_counter()
    leads = RawInserter(Lead, with_ids=False)
    from baton.activities.models import Activity

    acts = RawInserter(Activity, with_ids=False)
    chunk = 20_000
    lead_id = 0
    for base in range(0, n, chunk):
        rows, arows = [], []
        for i in range(base, min(n, base + chunk)):
            created = start + timedelta(seconds=rnd.randrange(span))
            first = created + timedelta(minutes=rnd.randrange(5, 4000)) if rnd.random() < 0.8 else None
            owner = rep_ids[rnd.randrange(200)] if rnd.random() < 0.95 else None
            rows.append({"source": sources[i % 6], "company": f"公司{i}", "status": "new",
                         "grade": "ABC"[i % 3], "owner_id": owner, "region_id": regions[i % 5].pk,
                         "created_at": created, "updated_at": created, "first_contact_at": first,
                         "score": i % 100})
        with transaction.atomic():
            leads.insert(rows)
        first_id = lead_id + 1
        lead_id += len(rows)
        for j, r in enumerate(rows):
            for a in range(k):
                at = r["created_at"] + timedelta(hours=a * 7 + 1)
                arows.append({"kind": ("call", "visit", "wechat", "email", "note")[(j + a) % 5],
                              "outcome": ("connected", "no_answer", "done", "busy")[(j * 3 + a) % 4],
                              "occurred_at": at, "created_at": at, "lead_id": first_id + j,
                              "author_id": r["owner_id"] or rep_ids[0]})
        with transaction.atomic():
            acts.insert(arows)
    load = time.perf_counter() - t0
    print(f"db={connection.vendor} leads={n:,} activities={n * k:,} load={load:.1f}s", flush=True)

    t0 = time.perf_counter()
    store.sync(triggered_by="bench", full=True)
    print(f"full sync into DuckDB: {time.perf_counter() - t0:.1f}s  ({store.store_path()})", flush=True)

    quarter = {"field": "created_at", "op": "between",
               "value": [QUARTER[0].isoformat(), QUARTER[1].isoformat()]}
    dims, mets = ["team", "source"], ["lead_count", "response_hours_median", "first_contact_success_rate"]
    t_store, res = timed(lambda: engine.pivot(user=admin, source="leads", dimensions=dims, metrics=mets,
                                              filters=quarter, engine="duckdb"))
    lo, hi = (QUARTER[0].replace(tzinfo=None), QUARTER[1].replace(tzinfo=None))
    hand = f"""
        SELECT u.team_id, f.source, count(*),
               quantile_cont((epoch(f.first_contact_at) - epoch(f.created_at)) / 3600.0, 0.5),
               count(*) FILTER (WHERE fc.outcome IN ('connected', 'done')) / nullif(count(fc.lead_id), 0)
        FROM leads_fact f LEFT JOIN users_dim u ON u.id = f.owner_id
        LEFT JOIN lead_first_contact fc ON fc.lead_id = f.id
        WHERE f.duplicate_of_id IS NULL AND f.created_at >= TIMESTAMP '{lo}' AND f.created_at <= TIMESTAMP '{hi}'
        GROUP BY 1, 2"""

    def hand_run():
        with store.connect(read_only=True) as con:
            return con.execute(hand).fetchall()

    t_hand, hand_rows = timed(hand_run)
    assert len(hand_rows) == len(res["rows"]), (len(hand_rows), len(res["rows"]))
    print(f"lead pivot 2 dims x 3 metrics, one quarter ({len(res['rows'])} rows): store {t_store * 1000:.0f} ms, "
          f"hand-written DuckDB {t_hand * 1000:.0f} ms, ratio {t_store / t_hand:.2f}", flush=True)

    aq = {"field": "occurred_at", "op": "between", "value": [QUARTER[0].isoformat(), QUARTER[1].isoformat()]}
    t_astore, ares = timed(lambda: engine.pivot(user=admin, source="activities", dimensions=["team", "kind"],
                                                metrics=["activity_count", "activities_per_rep"], filters=aq,
                                                engine="duckdb"))
    ahand = f"""SELECT u.team_id, f.kind, count(*), count(*) / count(DISTINCT f.author_id)
        FROM activities_fact f LEFT JOIN users_dim u ON u.id = f.author_id
        WHERE f.occurred_at >= TIMESTAMP '{lo}' AND f.occurred_at <= TIMESTAMP '{hi}' GROUP BY 1, 2"""

    def ahand_run():
        with store.connect(read_only=True) as con:
            return con.execute(ahand).fetchall()

    t_ahand, _rows = timed(ahand_run)
    print(f"activity pivot 2 dims x 2 metrics, one quarter ({len(ares['rows'])} rows): store "
          f"{t_astore * 1000:.0f} ms, hand-written DuckDB {t_ahand * 1000:.0f} ms, ratio {t_astore / t_ahand:.2f}",
          flush=True)

    if args.db_engine:
        t_db, _ = timed(lambda: engine.pivot(user=admin, source="leads", dimensions=dims, metrics=mets,
                                             filters=quarter, engine="db"), runs=1)
        print(f"same lead pivot straight on {connection.vendor}: {t_db * 1000:.0f} ms", flush=True)

    ids = list(Lead.objects.order_by("?").values_list("id", flat=True)[:args.changes]) if args.changes < n else \
        list(Lead.objects.values_list("id", flat=True))
    later = clock.now()
    for i in range(0, len(ids), 5000):
        Lead.objects.filter(id__in=ids[i:i + 5000]).update(grade="A", updated_at=later)
    t0 = time.perf_counter()
    states = store.sync(triggered_by="bench")
    t_sync = time.perf_counter() - t0
    lead_state = next(s for s in states if s.table == "leads_fact")
    print(f"incremental sync after {len(ids):,} changed leads: {t_sync:.2f}s (leads copied: {lead_state.changed:,})",
          flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--activities-per-lead", type=int, default=10)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/baton_pivot_bench")
    p.add_argument("--changes", type=int, default=10_000)
    p.add_argument("--db-engine", action="store_true")
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        return child(args)
    with tempfile.TemporaryDirectory(prefix="pivot_bench_") as tmp:
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="baton.config.settings", BATON_VAR_DIR=tmp)
        if args.db == "postgres":
            import psycopg

            base, _, name = args.pg_url.rpartition("/")
            with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}"')
                con.execute(f'CREATE DATABASE "{name}"')
            env["DATABASE_URL"] = args.pg_url
        else:
            env.pop("DATABASE_URL", None)
        cmd = [sys.executable, __file__, "--child", "--leads", str(args.leads), "--activities-per-lead",
               str(args.activities_per_lead), "--changes", str(args.changes)] + (["--db-engine"] if args.db_engine
                                                                                 else [])
        subprocess.run(cmd, env=env, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
