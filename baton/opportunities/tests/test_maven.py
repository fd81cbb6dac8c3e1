"""`baton import maven-crm`: counts, won total, quirks and stage history checked against the CSV files."""

import csv
import io
import os
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from baton.core.models import AuditEntry
from baton.opportunities.maven import default_dir
from baton.opportunities.models import Opportunity, Pipeline, StageChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def maven_dir():
    path = default_dir()
    if not (path / "sales_pipeline.csv").is_file():
        message = f"dataset missing: {path} (set BATON_DATASETS)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def read(path, name):
    with open(path / name, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_import_matches_the_csv(maven_dir):
    out = io.StringIO()
    call_command("import", "maven-crm", str(maven_dir), stdout=out)
    deals = read(maven_dir, "sales_pipeline.csv")
    pipeline = Pipeline.objects.get(name="Maven")

    expected = Counter(d["deal_stage"] for d in deals)
    got = Counter({name: Opportunity.objects.filter(pipeline=pipeline, stage__name=name).count() for name in expected})
    assert got == expected and sum(expected.values()) == 8800
    won = sum(Decimal(d["close_value"]) for d in deals if d["deal_stage"] == "Won")
    assert Opportunity.objects.filter(pipeline=pipeline, status="won").aggregate(s=Sum("amount"))["s"] == won
    assert Opportunity.objects.filter(pipeline=pipeline, account__isnull=True).count() == \
        sum(1 for d in deals if not d["account"])

    text = out.getvalue()
    assert "GTXPro" in text and "GTX Pro" in text and "technolgy" in text and "no account" in text
    assert not Opportunity.objects.filter(custom_fields__product="GTXPro").exists()
    assert Opportunity.objects.filter(custom_fields__product="GTX Pro").count() == \
        sum(1 for d in deals if d["product"] == "GTXPro")

    # Stage history: a closed deal entered Engaging on engage_date and left after close_date − engage_date.
    sample = next(d for d in deals if d["deal_stage"] == "Won")
    opp = Opportunity.objects.get(custom_fields__external_id=sample["opportunity_id"])
    path = list(StageChange.objects.filter(opportunity=opp).select_related("to_stage"))
    assert [c.to_stage.name for c in path] == ["Engaging", "Won"]
    days = (date.fromisoformat(sample["close_date"]) - date.fromisoformat(sample["engage_date"])).days
    assert path[-1].dwell_seconds == days * 86400
    assert opp.owner.display_name == sample["sales_agent"] and opp.owner.manager is not None

    # One audit event for the whole import, and a second run is refused.
    assert AuditEntry.objects.filter(object_id=pipeline.pk, content_type__model="pipeline").count() == 1
    with pytest.raises(CommandError):
        call_command("import", "maven-crm", str(maven_dir), stdout=io.StringIO())
    assert Opportunity.objects.filter(pipeline=pipeline).count() == 8800
