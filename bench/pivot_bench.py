"""Pivot benchmark: N leads and 10·N activities, the analytics store (DuckDB) against hand-written DuckDB SQL.

    .venv/bin/python bench/pivot_bench.py [--leads 1000000] [--activities-per-lead 10] [--db sqlite|postgres]
                                          [--pg-url postgres://postgres@127.0.0.1:5432/baton_pivot_bench]
                                          [--changes 10000] [--db-engine]

In a fresh database (SQLite in a temp dir, or a fresh PostgreSQL database): 5 regions, 20 teams, 200 reps;
N leads created over the last year (ids in creation order) and N·k activities, made by DuckDB SQL and written
in chunks of 250,000 (executemany on SQLite, COPY on PostgreSQL). Then it times:
  1. the first (full) sync of the store (leads and activities stream from the cursor into arrow batches);
  2. a pivot of 2 dimensions × 3 metrics over the last complete quarter through `baton.reports.engine.pivot`
     (the store), and the same question as hand-written DuckDB SQL on the same file and the same shared
     read-only connection (median of 5 runs each), and the ratio;
  3. an activities pivot (2 dimensions × 2 metrics, one quarter) the same two ways;
  4. each dashboard of `baton.reports.dashboards`: its full render (charts through the engine + the live
     counts), median of 3, and each chart's pivot alone;
  5. with --db-engine, the same lead pivot straight on the database (the "small install" path);
  6. an incremental sync after --changes leads were changed (updated_at moved on).
PIVOT_PROFILE=1 prints a cProfile of one store pivot.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def last_quarter(now):
    """The last complete calendar quarter before `now`, as UTC instants of its Shanghai (UTC+8) bounds."""
    q = (now.month - 1) // 3  # this quarter's index; the one before it is complete
    y, q = (now.year, q - 1) if q else (now.year - 1, 3)
    start = datetime(y, 3 * q + 1, 1, tzinfo=UTC) - timedelta(hours=8)
    end = datetime(y + (q == 3), (3 * q + 3) % 12 + 1, 1, tzinfo=UTC) - timedelta(hours=8)
    return start, end


def timed(fn, runs=5):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def generate(connection, *, regions, rep_ids, n, k, start, chunk=250_000):
    """Write n leads and n·k activities straight into the database: the rows are made by DuckDB (SQL over
    range(), pseudo-random by hash) and streamed in big chunks (executemany on SQLite, COPY on PostgreSQL)."""
    import duckdb
    from django.db import transaction

    from baton.activities.models import Activity
    from baton.core.rawsql import RawInserter
    from baton.leads.models import Lead

    pg = connection.vendor == "postgresql"
    ts = "strftime({}, '%Y-%m-%d %H:%M:%S')" + (" || '+00'" if pg else "")
    gen = duckdb.connect()
    # Leads numbered in creation order (ids grow with time, as in a real install), so the database's time
    # indexes are appended to rather than written at random.
    gen.execute(f"""CREATE TABLE g0 AS SELECT
                    TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + to_seconds((hash(i * 7 + 1) % {365 * 86400})::BIGINT)
                        AS created,
                    CASE WHEN (hash(i * 7 + 2) % 10)::BIGINT < 8 THEN 5 + (hash(i * 7 + 3) % 3995)::BIGINT END
                        AS first_min,
                    CASE WHEN (hash(i * 7 + 4) % 100)::BIGINT < 95
                         THEN ($reps)[1 + (hash(i * 7 + 5) % {len(rep_ids)})::BIGINT] END AS owner
                    FROM range({n}) t(i)""", {"reps": rep_ids})
    gen.execute("CREATE TABLE g AS SELECT row_number() OVER (ORDER BY created) - 1 AS i, * FROM g0")
    if not pg:
        with connection.cursor() as cur:  # a big page cache: the indexes outgrow the default 2 MB
            cur.execute("PRAGMA cache_size = -1000000")
    sources = ["web_form", "phone", "referral", "advertising", "trade_show", "api"]
    lead_sql = f"""SELECT ($sources)[1 + i % 6] AS source, '公司' || i AS company, 'new' AS status,
        (['A', 'B', 'C'])[1 + i % 3] AS grade, owner AS owner_id, ($regions)[1 + i % 5] AS region_id,
        {ts.format('created')} AS created_at, {ts.format('created')} AS updated_at,
        {ts.format('created + to_minutes(first_min)')} AS first_contact_at, i % 100 AS score
        FROM g ORDER BY i"""
    act_sql = f"""SELECT (['call', 'visit', 'wechat', 'email', 'note'])[1 + (i + a) % 5] AS kind,
        (['connected', 'no_answer', 'done', 'busy'])[1 + (i * 3 + a) % 4] AS outcome,
        {ts.format('created + to_hours(a * 7 + 1)')} AS occurred_at,
        {ts.format('created + to_hours(a * 7 + 1)')} AS created_at,
        $first_id + i AS lead_id, coalesce(owner, {rep_ids[0]}) AS author_id
        FROM g, range({k}) r(a) ORDER BY i, a"""

    def write(model, sql, params):
        ins = RawInserter(model, with_ids=False)
        reader = gen.sql(sql, params=params).to_arrow_reader(chunk)
        for batch in reader:
            cols = {name: batch.column(j).to_pylist() for j, name in enumerate(batch.schema.names)}
            given = {ins.index[f]: values for f, values in cols.items()}
            columns = [given[ci] if ci in given else repeat(ins.defaults[ci]) for ci in range(len(ins.columns))]
            with transaction.atomic():
                ins.insert_tuples(list(zip(*columns, strict=False)))  # repeat() columns are endless

    write(Lead, lead_sql, {"sources": sources, "regions": regions})
    first_id = Lead.objects.order_by("id").values_list("id", flat=True).first()
    assert Lead.objects.order_by("-id").values_list("id", flat=True).first() == first_id + n - 1
    write(Activity, act_sql, {"first_id": first_id})
    gen.close()


def child(args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from baton.core import clock
    from baton.leads.models import Lead
    from baton.org.models import Region, Role, Team, User
    from baton.reports import engine, store

    call_command("migrate", verbosity=0)
    admin = User.objects.create_superuser("bench-admin", password="x" * 12)
    rep_role, _ = Role.objects.get_or_create(code="rep")
    regions = [Region.objects.create(name=f"Region {i}", code=f"r{i}") for i in range(5)]
    teams = [Team.objects.create(name=f"Team {i}", region=regions[i % 5]) for i in range(20)]
    User.objects.bulk_create(
        [User(username=f"rep{i}", region=teams[i % 20].region, team=teams[i % 20],
              hire_date=datetime(2020 + i % 6, 1 + i % 12, 1).date()) for i in range(200)])
    rep_ids = [u.pk for u in User.objects.filter(username__startswith="rep").order_by("id")]
    n, k = args.leads, args.activities_per_lead
    t0 = time.perf_counter()
    # a year of leads up to now, so the dashboards' "last 8 weeks" charts have rows to count
    start = (clock.now() - timedelta(days=365)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    generate(connection, regions=[r.pk for r in regions], rep_ids=rep_ids, n=n, k=k, start=start)
    QUARTER = last_quarter(clock.now())  # noqa: N806
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

    def hand_run():  # on the process's shared reader too: the hand-written query gets the warm cache as well
        with store.reader() as con:
            return con.execute(hand).fetchall()

    t_hand, hand_rows = timed(hand_run)
    if os.environ.get("PIVOT_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        engine.pivot(user=admin, source="leads", dimensions=dims, metrics=mets, filters=quarter, engine="duckdb")
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
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
        with store.reader() as con:
            return con.execute(ahand).fetchall()

    t_ahand, _rows = timed(ahand_run)
    print(f"activity pivot 2 dims x 2 metrics, one quarter ({len(ares['rows'])} rows): store "
          f"{t_astore * 1000:.0f} ms, hand-written DuckDB {t_ahand * 1000:.0f} ms, ratio {t_astore / t_ahand:.2f}",
          flush=True)

    from baton.reports import dashboards

    for key, spec in dashboards.DASHBOARDS.items():
        t_dash, _d = timed(lambda key=key: dashboards.render(key, user=admin), runs=3)
        charts = []
        for c in spec["charts"]:
            t_c, r = timed(lambda c=c: engine.pivot(user=admin, source=c["source"], dimensions=c["dimensions"],
                                                    metrics=c["metrics"], filters=c.get("filters")), runs=3)
            charts.append(f"{c['key']} {t_c * 1000:.0f} ms/{len(r['rows'])} rows")
        print(f"dashboard {key}: full load {t_dash * 1000:.0f} ms  [{'; '.join(charts)}]", flush=True)

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
