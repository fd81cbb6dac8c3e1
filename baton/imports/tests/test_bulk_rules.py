"""The bulk import shares rule and pool evaluations between rows with equal inputs; these tests check that
what it stores is exactly what the per-lead engines decide for the stored lead."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from baton.core.testing import factories as f
from baton.imports import services
from baton.leads.models import Lead, Tag

pytestmark = pytest.mark.django_db

HEADER = ["公司", "电话", "邮箱", "来源", "预算", "行业"]
COLUMNS = {"公司": "company", "电话": "phone", "邮箱": "email", "来源": "source", "预算": "budget",
           "行业": "industries"}


def test_bulk_rules_agree_with_lead_evaluate_and_pool_conditions(importer):
    from baton.accounts.models import Industry
    from baton.assignment.models import Assignment, Pool, PoolMember
    from baton.rules import conditions
    from baton.rules.models import LeadEvaluation, ScoringRule, TaggingRule
    from baton.rules.services import lead_evaluate

    Industry.objects.get_or_create(code="medical", defaults={"name": "Medical"})
    Industry.objects.get_or_create(code="retail", defaults={"name": "Retail"})
    for name in ("callable", "med"):
        Tag.objects.get_or_create(name=name)
    TaggingRule.objects.create(key="t.phone", name="has phone", priority=1, tags=["callable"],
                               condition={"field": "phone", "op": "is_null", "value": False})
    TaggingRule.objects.create(key="t.med", name="medical", priority=2, tags=["med", "callable"],
                               condition={"field": "industries", "op": "has_any", "value": ["medical"]})
    ScoringRule.objects.create(key="s.tag", name="callable", priority=1, points=40,
                               condition={"field": "tags", "op": "has_any", "value": ["callable"]})
    ScoringRule.objects.create(key="s.big", name="big", priority=2, points=50,
                               condition={"any": [{"field": "budget", "op": "gte", "value": 100000},
                                                  {"not": {"field": "source", "op": "in",
                                                           "value": ["referral", "web_form"]}}]})
    ScoringRule.objects.create(key="s.events", name="events", priority=3, points=30,
                               condition={"event": {"type": "page_view"}, "within": "P7D", "op": "gte",
                                          "value": 1})
    ScoringRule.objects.create(key="s.email", name="no email", priority=4, points=-10,
                               condition={"field": "email", "op": "is_null", "value": True})
    a_pool = Pool.objects.create(name="A", strategy="round_robin", priority=1,
                                 condition={"field": "grade", "op": "eq", "value": "A"})
    b_pool = Pool.objects.create(name="B", strategy="round_robin", priority=2,
                                 condition={"field": "tags", "op": "has_any", "value": ["med"]})
    for pool in (a_pool, b_pool):
        PoolMember.objects.create(pool=pool, user=f.user(roles=("rep",)), daily_cap=100)
    rows = [HEADER]
    for i in range(60):
        rows.append([f"C{i}", f"1380013{i:04d}" if i % 3 else "", f"u{i}@example.com" if i % 4 else "",
                     ["referral", "web_form", "trade_show"][i % 3], ["", "5000", "150000"][i % 5 % 3],
                     ["", "medical", "retail", "medical,retail"][i % 4]])
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    job = services.job_create(actor=importer, file=SimpleUploadedFile("l.csv", buf.getvalue().encode()),
                              columns=COLUMNS, options={})
    job = services.job_run(job.pk, chunk=7)
    assert job.accepted == 60, (job.message, job.error_sample)
    grades = set()
    for lead in Lead.objects.prefetch_related("tags", "industries"):
        stored = LeadEvaluation.objects.get(lead=lead)
        result = lead_evaluate(lead=lead)
        assert result["changes"] == {}, (lead.company, result["changes"])
        assert result["score_explanation"] == stored.score_explanation
        assert result["tag_explanation"] == stored.tag_explanation
        assert set(stored.auto_tags) == set(result["tags"])
        grades.add(lead.grade)
        lead = Lead.objects.prefetch_related("tags").get(pk=lead.pk)
        expected = next((p for p in (a_pool, b_pool) if conditions.to_predicate(Lead, p.condition)(lead)), None)
        assignment = Assignment.objects.get(lead=lead)
        assert assignment.pool_id == (expected.pk if expected else None), lead.company
    assert len(grades) > 1


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "18", "19", "11", "12", "17"])
def test_phone_fast_path_matches_phonenumbers(importer, prefix):
    import random

    from baton.capture import dedupe

    cleaner = services.RowCleaner(["电话"], {"电话": "phone"}, {"source_default": "other"})
    rnd = random.Random(prefix)
    numbers = [f"{prefix}{rnd.randrange(10 ** 9):09d}" for _ in range(300)] + [f"{prefix}000000000",
                                                                               f"{prefix}999999999"]
    for number in numbers:
        data, errors = cleaner.clean([number])
        expected = dedupe.normalise_phone(number)
        assert (data.get("phone_norm") or "") == expected if expected else errors, number
