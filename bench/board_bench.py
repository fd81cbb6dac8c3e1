"""Board and compliance benchmark.

    .venv/bin/python bench/board_bench.py [--deals 10000] [--reps 100] [--db sqlite|postgres|both]
                                          [--pg-url postgres://postgres@127.0.0.1:5432/baton_board_bench]

On a fresh database (SQLite in a temporary directory; PostgreSQL, when reachable, in a database created and
dropped for the run): 10,000 open deals over the default pipeline's stages, owned by 100 reps in 10 teams,
then times a signed-in GET of the kanban board (Django test client, first and repeated), and the process
compliance rate for 100 reps over a quarter (~50 required actions a rep) per rep, team and region.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2025-06-30T18:00:00+08:00"
sys.path.insert(0, str(ROOT))


def child(deals: int, reps: int) -> None:
    import django

    django.setup()
    import random
    from datetime import timedelta
    from decimal import Decimal

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from baton.accounts.models import Account
    from baton.core import clock
    from baton.opportunities.models import Opportunity, Stage
    from baton.org.models import Region, Role, Team, User
    from baton.process import selectors
    from baton.process.models import ActionTemplate, RequiredAction
    from baton.process.services import process_install_defaults

    # No collectstatic in a throwaway directory: serve static names plainly (as the tests do).
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("migrate", verbosity=0)
    now = clock.parse_now(NOW)
    rnd = random.Random(7)
    with clock.frozen(now):
        process_install_defaults()
        rep_role, _ = Role.objects.get_or_create(code="rep")
        ops_role, _ = Role.objects.get_or_create(code="ops")
        regions = [Region.objects.create(name=f"区域{i}", code=f"r{i}") for i in range(3)]
        teams = [Team.objects.create(name=f"团队{i}", region=regions[i % 3]) for i in range(10)]
        users = User.objects.bulk_create([User(username=f"rep{i}", team=teams[i % 10], region=teams[i % 10].region)
                                          for i in range(reps)])
        User.roles.through.objects.bulk_create([User.roles.through(user_id=u.pk, role_id=rep_role.pk) for u in users])
        ops = User.objects.create_user(username="ops", password="bench-pass-123")
        ops.roles.add(ops_role)
        accounts = Account.objects.bulk_create([Account(name=f"客户{i}", owner=users[i % reps]) for i in range(500)])
        from baton.opportunities.services import pipeline_ensure_default

        pipeline = pipeline_ensure_default()
        stages = list(pipeline.stages.filter(kind=Stage.Kind.OPEN).order_by("position"))
        Opportunity.objects.bulk_create([
            Opportunity(name=f"商机{i}", owner=users[i % reps], account=accounts[i % 500], pipeline=pipeline,
                        stage=stages[i % len(stages)], amount=Decimal(10000 + i), status="open",
                        stage_entered_at=now - timedelta(hours=i % 900), created_at=now - timedelta(days=30),
                        updated_at=now)
            for i in range(deals)], batch_size=2000)

        client = Client()
        client.force_login(ops)
        times = []
        with CaptureQueriesContext(connection) as q:
            started = time.perf_counter()
            r = client.get(f"/opportunities/board/{pipeline.pk}/")
            times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.status_code
        board_queries = len(q.captured_queries)
        for _i in range(3):
            started = time.perf_counter()
            client.get(f"/opportunities/board/{pipeline.pk}/")
            times.append(time.perf_counter() - started)

        # ~50 required actions per rep over Q2, due across the quarter, 80 % completed (70 % of them on time).
        templates = list(ActionTemplate.objects.all())
        deal_ids = list(Opportunity.objects.values_list("pk", "owner_id"))
        start = clock.parse_now("2025-04-01T00:00")
        rows = []
        for n, (pk, owner) in enumerate(deal_ids[: reps * 50]):
            due = start + timedelta(minutes=rnd.randrange(0, 90 * 24 * 60))
            done = rnd.random() < 0.8
            on_time = done and rnd.random() < 0.7
            rows.append(RequiredAction(
                opportunity_id=pk, template=templates[n % len(templates)], owner_id=owner, dedupe_key=str(n),
                triggered_at=due - timedelta(hours=24), warn_at=due - timedelta(hours=6), due_at=due,
                status="done" if done else "overdue", completed_on_time=on_time if done else None,
                completed_at=(due - timedelta(hours=1) if on_time else due + timedelta(hours=3)) if done else None))
        RequiredAction.objects.bulk_create(rows, batch_size=2000)
        end = clock.parse_now("2025-07-01T00:00")
        compliance = {}
        for group in ("rep", "team", "region"):
            started = time.perf_counter()
            result = selectors.compliance(user=ops, group=group, start=start, end=end, now=now)
            compliance[group] = {"seconds": round(time.perf_counter() - started, 4), "rows": len(result)}
        started = time.perf_counter()
        selectors.radar(user=ops, rep_ids=[u.pk for u in users[:10]], start=start, end=end, now=now)
        radar = round(time.perf_counter() - started, 4)
    print(json.dumps({"deals": deals, "reps": reps, "actions": len(rows),
                      "board_first_s": round(times[0], 3), "board_warm_s": round(min(times[1:]), 3),
                      "board_queries": board_queries, "board_bytes": len(r.content),
                      "compliance": compliance, "team_radar_10_reps_s": radar}))


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


def run(label: str, env: dict, deals: int, reps: int) -> None:
    cmd = [sys.executable, __file__, "--child", "--deals", str(deals), "--reps", str(reps)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        print(f"{label}: failed\n{proc.stderr[-3000:]}")
        return
    print(f"{label}: {proc.stdout.strip().splitlines()[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--deals", type=int, default=10000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/baton_board_bench")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baton.config.settings")
    if args.child:
        child(args.deals, args.reps)
        return
    base_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", {**base_env, "BATON_VAR_DIR": tmp}, args.deals, args.reps)
    if args.db in ("postgres", "both"):
        name = args.pg_url.rsplit("/", 1)[1]
        if pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}"') and pg_admin(
                args.pg_url, f'CREATE DATABASE "{name}"'):
            with tempfile.TemporaryDirectory() as tmp:
                run("PostgreSQL", {**base_env, "DATABASE_URL": args.pg_url, "BATON_VAR_DIR": tmp}, args.deals,
                    args.reps)
            pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}"')
        else:
            print("PostgreSQL: not reachable, skipped")


if __name__ == "__main__":
    main()
