import json

import pytest

from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.rules.models import RuleVersion, ScoringRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_client():
    return ApiClient(f.make_user(roles=("ops",)))


def test_create_and_update_scoring_rule_bumps_version(ops_client):
    resp = ops_client.post("/api/rules/scoring", {
        "name": "转介绍", "points": 25, "condition": {"all": [{"field": "source", "op": "eq", "value": "referral"}]}})
    assert resp.status_code == 201, resp.content
    rule_id = resp.json()["id"]
    assert resp.json()["version"] == 1
    resp = ops_client.patch(f"/api/rules/scoring/{rule_id}", {"points": 30})
    assert resp.status_code == 200 and resp.json()["version"] == 2
    versions = ops_client.get(f"/api/rules/scoring/{rule_id}/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert RuleVersion.objects.filter(rule_id=rule_id, rule_type="scoring").count() == 2


def test_invalid_condition_answers_422_with_path(ops_client):
    resp = ops_client.post("/api/rules/tagging", {
        "name": "bad", "tags": ["x"], "condition": {"all": [{"field": "no_such", "op": "eq", "value": 1}]}})
    assert resp.status_code == 422
    fields = [e["field"] for e in resp.json()["errors"]]
    assert fields and all(f_ and f_.startswith("condition") for f_ in fields)


def test_rep_may_not_change_rules():
    client = ApiClient(f.make_user(roles=("rep",)))
    assert client.post("/api/rules/scoring", {"name": "x", "points": 1}).status_code == 403
    assert client.get("/api/rules/scoring").status_code == 403
    assert not ScoringRule.objects.exists()


def test_grade_bands_and_preview(ops_client):
    resp = ops_client.client.put("/api/rules/grade-bands", json.dumps({"a_min": 80, "b_min": 50}),
                                 content_type="application/json", headers=ops_client._headers(None))
    assert resp.status_code == 200 and resp.json()["a_min"] == 80
    f.lead(source="referral")
    f.lead(source="phone")
    resp = ops_client.post("/api/rules/preview", {
        "rule_type": "scoring", "points": 85,
        "condition": {"all": [{"field": "source", "op": "eq", "value": "referral"}]}})
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"matches": 1, "grade_changes": {"A": 1, "B": 0, "C": 1}}
