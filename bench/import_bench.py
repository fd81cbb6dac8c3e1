"""Import benchmark: N synthetic leads through the real import path vs a raw insert of the same rows.

    .venv/bin/python bench/import_bench.py --rows 200000 [--db sqlite|postgres|both] [--pg-url postgres://...]

For each database (SQLite in a temp dir; PostgreSQL when reachable, a fresh database): migrate, install the
default rules plus scoring rules up to 20, a pool of 10 reps with daily caps, then
  1. raw: insert the N lead rows (same columns, same indexed table) with executemany (SQLite) / COPY (PG);
  2. import: truncate, then services.job_run on the CSV: parse, normalise, dedupe against file and DB,
     tags + 20 scoring rules, assignment with caps, insert, commit in chunks.
Prints time, leads/s, the ratio import/raw and peak RSS. Memory stays flat: the CSV is streamed in chunks.
"""

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, rows: int, seed=7):
    rnd = random.Random(seed)
    sources = ["referral", "trade_show", "web_form", "advertising", "phone", "Billboard"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["外部编号", "公司名称", "联系人", "手机", "邮箱", "来源", "预算", "员工数"])
        for i in range(rows):
            dup = i > 10 and rnd.random() < 0.01  # ~1 % repeat an earlier e-mail
            j = rnd.randrange(i) if dup else i
            w.writerow([f"X{i}", f"公司{i}有限公司", f"联系人{i % 997}", f"139{j:08d}", f"user{j}@example.com",
                        sources[i % len(sources)] if i % 200 else "Billboard",
                        str(rnd.choice([0, 5000, 50000, 150000, 300000, 800000])), str(rnd.randrange(1, 5000))])


def child(args):
    """Runs inside a fresh process whose settings point at the chosen database."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from baton.assignment.models import Pool, PoolMember
    from baton.capture import dedupe
    from baton.core import clock
    from baton.core.rawsql import RawInserter
    from baton.core.testing import factories as f
    from baton.imports import services
    from baton.imports.models import ImportJob
    from baton.leads.models import Lead
    from baton.rules.models import ScoringRule
    from baton.rules.services import rules_install_defaults

    call_command("migrate", verbosity=0)
    rules_install_defaults()
    n_scoring = ScoringRule.objects.count()
    for k in range(max(0, 20 - n_scoring)):
        ScoringRule.objects.create(key=f"bench.{k}", name=f"bench {k}", points=1 + k % 5, priority=100,
                                   condition={"all": [{"field": "budget", "op": "gte", "value": 1000 * k}]})
    pool = Pool.objects.create(name="Bench", strategy="round_robin")
    for _i in range(10):
        PoolMember.objects.create(pool=pool, user=f.user(roles=("rep",)), daily_cap=args.rows // 20 + 1)
    ops = f.user(roles=("ops",), username="bench_ops")
    csv_path = Path(args.csv)

    def truncate():
        """Remove the raw phase's leads (only lead rows were written) without loading them as instances, so
        that the import starts on an empty table as the raw phase did. On PostgreSQL a DELETE would leave the
        raw rows as dead tuples and index entries with the very keys the import then looks up and inserts
        (this server runs without autovacuum): TRUNCATE (the tables that reference leads are empty)."""
        table = connection.ops.quote_name(Lead._meta.db_table)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {table} CASCADE")
            else:
                cursor.execute(f"DELETE FROM {table}")

    # 1. raw insert of the same rows (columns as the import writes them), chunked like the import
    inserter = RawInserter(Lead)
    now = clock.now()
    t0 = time.perf_counter()
    with open(csv_path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch = []
        for r in reader:
            batch.append(inserter.row({"external_id": r[0], "company": r[1], "contact_name": r[2], "phone": r[3],
                                       "email": r[4], "source": "referral", "budget": r[6], "created_at": now,
                                       "updated_at": now, "phone_norm": "+86" + r[3], "email_norm": r[4],
                                       "company_norm": r[1], "custom_fields": {"staff": int(r[7])}}))
            if len(batch) >= services.CHUNK:
                with transaction.atomic():
                    inserter.insert_tuples(batch)
                batch = []
        with transaction.atomic():
            inserter.insert_tuples(batch)
    raw = time.perf_counter() - t0
    raw_count = Lead.objects.count()
    truncate()
    connection.close()

    # 2. the import
    from django.core.files import File

    with open(csv_path, "rb") as fh:
        job = services.job_create(actor=ops, file=File(fh, name="bench.csv"), columns={
            "外部编号": "external_id", "公司名称": "company", "联系人": "contact_name", "手机": "phone",
            "邮箱": "email", "来源": "source", "预算": "budget"}, options={
            "new_custom_fields": {"员工数": {"key": "staff", "type": "number", "label_zh": "员工数",
                                             "label_en": "Staff"}}})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    job = services.job_run(job.pk)
    took = time.perf_counter() - t0
    assert job.status == ImportJob.Status.DONE, job.message
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[{connection.vendor}] rows={args.rows} raw {'executemany' if connection.vendor == 'sqlite' else 'COPY'}: "
          f"{raw:.1f}s ({raw_count / raw:,.0f} rows/s)")
    print(f"[{connection.vendor}] import: {took:.1f}s ({job.accepted / took:,.0f} leads/s) accepted={job.accepted} "
          f"rejected={job.rejected} duplicates={job.duplicates} assigned="
          f"{Lead.objects.filter(owner__isnull=False).count()}")
    print(f"[{connection.vendor}] ratio import/raw = {took / raw:.2f}x   peak RSS = {rss:.0f} MB "
          f"(before the import: {rss_before:.0f} MB)   load average {os.getloadavg()[0]:.1f}")
    del dedupe


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--child", action="store_true")
    p.add_argument("--csv")
    args = p.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory(prefix="baton_bench_") as tmp:
        csv_path = Path(tmp) / "leads.csv"
        t0 = time.perf_counter()
        generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s")
        base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "baton.config.settings", "PYTHONPATH": str(ROOT),
                    "BATON_VAR_DIR": tmp}
        targets = []
        if args.db in ("sqlite", "both"):
            targets.append(("sqlite", {"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3"}))
        if args.db in ("postgres", "both"):
            import psycopg

            name = f"baton_bench_{os.getpid()}"
            try:
                with psycopg.connect(args.pg_url + "/postgres", autocommit=True, connect_timeout=3) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    c.execute(f'CREATE DATABASE "{name}"')
                targets.append(("postgres", {"DATABASE_URL": f"{args.pg_url}/{name}", "_drop": name}))
            except Exception as exc:
                print(f"PostgreSQL not reachable ({exc}); skipped")
        for _label, env in targets:
            drop = env.pop("_drop", None)
            subprocess.run([sys.executable, __file__, "--child", "--rows", str(args.rows), "--csv", str(csv_path)],
                           env={**base_env, **env}, check=True)
            if drop:
                import psycopg

                with psycopg.connect(args.pg_url + "/postgres", autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{drop}"')


if __name__ == "__main__":
    main()
