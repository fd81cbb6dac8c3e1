"""On the real Maven CRM dataset, the pivot reproduces the dataset's own figures exactly.

The expected figures are computed here from the CSV files with the csv module, independently of Baton.
"""

import csv
import os
import statistics
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from baton.core.testing import factories as fx
from baton.reports import engine, store

DATASET = Path(os.environ.get("BATON_DATASETS", "/work/shared/datasets")) / "maven-crm-sales-opportunities"

if not (DATASET / "sales_pipeline.csv").is_file():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"the Maven CRM dataset is missing at {DATASET} and CI=true forbids skipping")
    pytest.skip(f"Maven CRM dataset not found at {DATASET} (set BATON_DATASETS)", allow_module_level=True)

pytestmark = pytest.mark.django_db


def _expected():
    with open(DATASET / "sales_teams.csv", newline="", encoding="utf-8-sig") as fh:
        teams = {r["sales_agent"]: r for r in csv.DictReader(fh)}
    with open(DATASET / "sales_pipeline.csv", newline="", encoding="utf-8-sig") as fh:
        deals = list(csv.DictReader(fh))
    won = [d for d in deals if d["deal_stage"] == "Won"]
    lost = [d for d in deals if d["deal_stage"] == "Lost"]
    by_office, by_manager, by_agent = defaultdict(Decimal), defaultdict(Decimal), defaultdict(Decimal)
    for d in won:
        value = Decimal(d["close_value"])
        by_office[teams[d["sales_agent"]]["regional_office"]] += value
        by_manager[teams[d["sales_agent"]]["manager"]] += value
        by_agent[d["sales_agent"]] += value
    cycle = [(date.fromisoformat(d["close_date"]) - date.fromisoformat(d["engage_date"])).days for d in won]
    return {
        "won_total": sum(Decimal(d["close_value"]) for d in won), "by_office": by_office,
        "by_manager": by_manager, "by_agent": by_agent, "stages": Counter(d["deal_stage"] for d in deals),
        "win_rate": round(len(won) / (len(won) + len(lost)), 4), "median_cycle": statistics.median(cycle),
    }


@pytest.fixture(scope="module")
def expected():
    return _expected()


@pytest.fixture
def imported(db):
    call_command("import", "maven-crm", str(DATASET))
    store.sync(triggered_by="test")
    return fx.user("maven_ops", roles=("ops",))


def _pivot(user, dims, mets, eng):
    filt = {"field": "pipeline", "op": "eq", "value": "Maven"}
    return engine.pivot(user=user, source="opportunities", dimensions=dims, metrics=mets, filters=filt,
                        engine=eng)["rows"]


@pytest.mark.parametrize("eng", ["duckdb", "db"])
def test_maven_figures(imported, expected, eng):
    user = imported
    total = _pivot(user, [], ["won_amount", "win_rate", "sales_cycle_days_median", "deal_count"], eng)[0]
    assert Decimal(str(total["won_amount"])) == expected["won_total"]
    assert total["win_rate"] == expected["win_rate"]
    assert total["sales_cycle_days_median"] == expected["median_cycle"]
    assert total["deal_count"] == sum(expected["stages"].values())

    offices = {r["region"]: Decimal(str(r["won_amount"])) for r in _pivot(user, ["region"], ["won_amount"], eng)}
    assert offices == {f"Maven {k}": v for k, v in expected["by_office"].items()}
    managers = {r["manager"]: Decimal(str(r["won_amount"])) for r in _pivot(user, ["manager"], ["won_amount"], eng)}
    assert {k: v for k, v in managers.items() if v} == dict(expected["by_manager"])
    agents = {r["owner"]: Decimal(str(r["won_amount"])) for r in _pivot(user, ["owner"], ["won_amount"], eng)}
    assert {k: v for k, v in agents.items() if v} == dict(expected["by_agent"])
    stages = {r["stage"]: r["deal_count"] for r in _pivot(user, ["stage"], ["deal_count"], eng)}
    assert stages == dict(expected["stages"])
