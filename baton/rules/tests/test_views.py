"""The rule builder pages: ops build and save rules (version bump, background run), others are refused."""

import json

import pytest

from baton.core.testing import factories as f
from baton.rules.models import RuleRun, ScoringRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client):
    user = f.user("ops1", roles=("ops",))
    client.force_login(user)
    return user


def test_rep_is_refused(client):
    client.force_login(f.user("rep1", roles=("rep",)))
    assert client.get("/rules/").status_code == 403
    assert client.get("/rules/scoring/new/").status_code == 403
    assert client.get("/rules/grade-bands/").status_code == 403


def test_ops_creates_then_edits_a_scoring_rule(client, ops):
    condition = {"all": [{"field": "grade", "op": "eq", "value": "B"}]}
    page = client.get("/rules/scoring/new/")
    assert page.status_code == 200 and b"condition-builder" in page.content
    r = client.post("/rules/scoring/new/", {"name": "Grade B bonus", "priority": 100, "active": "on",
                                             "condition": json.dumps(condition), "points": 15, "kind": "static"})
    assert r.status_code == 302
    rule = ScoringRule.objects.get(name="Grade B bonus")
    assert rule.version == 1 and rule.condition == condition and rule.points == 15
    assert "?run=" in r["Location"]

    r = client.post(f"/rules/scoring/{rule.pk}/", {"name": "Grade B bonus", "priority": 100, "active": "on",
                                                    "condition": json.dumps(condition), "points": 20,
                                                    "kind": "static"})
    assert r.status_code == 302
    rule.refresh_from_db()
    assert rule.version == 2 and rule.points == 20
    run = RuleRun.objects.filter(rule_type="scoring", rule_id=rule.pk, rule_version=2).get()
    page = client.get(r["Location"])
    assert page.status_code == 200 and f'id="rule-run-{run.pk}"'.encode() in page.content
    assert client.get(f"/rules/runs/{run.pk}/").status_code == 200
    listing = client.get("/rules/")
    assert b"Grade B bonus" in listing.content and b"v2" in listing.content


def test_a_bad_condition_is_shown_on_the_form(client, ops):
    bad = {"all": [{"field": "grade", "op": "gt", "value": "B"}]}
    r = client.post("/rules/scoring/new/", {"name": "Bad", "priority": 100, "condition": json.dumps(bad),
                                             "points": 5, "kind": "static"})
    assert r.status_code == 200 and not ScoringRule.objects.filter(name="Bad").exists()
    assert b"form-errors" in r.content


def test_tagging_rule_and_grade_bands(client, ops):
    r = client.post("/rules/tagging/new/", {"name": "Big", "priority": 10, "active": "on", "tags": "大客户, VIP",
                                             "condition": json.dumps({"all": [{"field": "budget", "op": "gt",
                                                                                "value": 100000}]})})
    assert r.status_code == 302
    r = client.post("/rules/grade-bands/", {"a_min": 80, "b_min": 50})
    assert r.status_code == 302
    page = client.get("/rules/")
    assert "大客户".encode() in page.content and "评分 ≥ 80".encode() in page.content
