"""`POST /api/leads` answers a new lead with JSON built without pydantic (`core.api.schema_json`): for every
kind of decision the express intake makes, the body is byte for byte what ninja renders for the same lead,
and the same JSON a following `GET /api/leads/<id>` answers."""

import json
from decimal import Decimal

import pytest
from ninja import Schema, Status

from baton.assignment.models import Pool, PoolMember
from baton.capture.idempotency import _render
from baton.core import api as core_api
from baton.core import clock
from baton.core.defaults import install_defaults
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.leads import express
from baton.leads.api import LeadOut
from baton.leads.api import router as leads_router
from baton.rules.services import rule_create
from baton.sla.models import SlaPolicy

pytestmark = pytest.mark.django_db

# A Friday afternoon in Shanghai (a working-hours clock runs over the weekend), in UTC as `clock.now()` gives it
# outside tests: an instant the lead holds in another zone would be written differently once read back.
AT = "2026-11-20T08:15:00+00:00"
LEAD = {"source": "web_form", "company": "渲染测试科技有限公司", "contact_name": "王芳", "phone": "13900004321",
        "email": "wang@example.com", "budget": "250000.50"}


def _create_operation():
    return next(op for op in leads_router.path_operations["/leads"].operations if "POST" in op.methods)


@pytest.fixture
def intake(monkeypatch):
    """(ops API client, reps, calls): each call records the fast body and ninja's answer for the same lead."""
    install_defaults()
    Pool.objects.all().delete()  # each case builds the pools it is about
    ops = f.make_user(username="render_ops", roles=["ops"])
    reps = [f.make_user(username=f"render_rep{i}", roles=["rep"]) for i in range(3)]
    calls = {"express": 0, "rendered": []}
    original_express, original_json = express.lead_create_express, core_api.schema_json

    def counting_express(**kw):
        calls["express"] += 1
        return original_express(**kw)

    def recording_json(schema, obj, context=None):
        body = original_json(schema, obj, context)
        ninja = _render(_create_operation(), context["request"], Status(201, obj))
        calls["rendered"].append((body, ninja))
        return body

    monkeypatch.setattr(express, "lead_create_express", counting_express)
    monkeypatch.setattr(core_api, "schema_json", recording_json)
    return ApiClient(ops), reps, calls


def _pool(name, reps=(), cap=8, **kw):
    pool = Pool.objects.create(name=name, **kw)
    for rep in reps:
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=cap)
    return pool


def _post(client, calls, body=LEAD, headers=None) -> dict:
    express_before, rendered_before = calls["express"], len(calls["rendered"])
    with clock.frozen(AT):
        response = client.post("/api/leads", body, headers=headers)
        assert response.status_code == 201, response.content
        assert calls["express"] == express_before + 1, "the express path was not taken"
        assert len(calls["rendered"]) == rendered_before + 1
        fast, ninja = calls["rendered"][-1]
        assert fast is not None, "schema_json handed the lead back to ninja"
        assert response.content == fast == ninja.content
        assert response["Content-Type"] == ninja["Content-Type"] and ninja.status_code == 201
        created = response.json()
        fetched = client.get(f"/api/leads/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    return created


def test_assigned_round_robin_with_tags_score_and_working_hours_clock(intake):
    client, reps, calls = intake
    _pool("Round robin", reps, rotation_last_user_id=reps[0].pk)
    rule_create(rule_type="scoring", actor=None, reevaluate=False, name="网页表单加分",
                condition={"field": "tags", "op": "has_any", "value": ["来源：网页表单"]}, points=25)
    lead = _post(client, calls)
    assert lead["owner"] == reps[1].pk and lead["status"] == "assigned"
    assert "来源：网页表单" in lead["tags"] and lead["score"] >= 25
    assert any(e["rule"] == "网页表单加分" for e in lead["score_explanation"])
    assert lead["assignment_explanation"]["pool"]
    assert lead["budget"] == "250000.50"
    working = SlaPolicy.objects.get(code="first_contact", calendar="working_hours")
    assert {c["policy"]: c["due_at"] for c in lead["clocks"]}[working.name] == "2026-11-23T11:15:00+08:00"


def test_nurtured(intake):
    client, _reps, calls = intake
    _pool("Nurture", action="nurture")
    assert _post(client, calls)["status"] == "nurturing"


def test_backlog_when_everyone_is_capped(intake):
    client, reps, calls = intake
    _pool("Full", reps, cap=0)
    lead = _post(client, calls)
    assert lead["owner"] is None and lead["assignment_explanation"]["backlog"]


def test_unmatched_without_budget(intake):
    client, reps, calls = intake
    _pool("Only A", reps, condition={"field": "grade", "op": "eq", "value": "A"})
    lead = _post(client, calls, {"source": "other", "company": "无名公司"})
    assert lead["owner"] is None and lead["budget"] is None
    assert lead["assignment_explanation"]["kind"] == "unmatched"


def test_flagged_duplicate(intake):
    client, reps, calls = intake
    _pool("Round robin", reps)
    first = _post(client, calls)
    again = _post(client, calls, {**LEAD, "company": "渲染测试科技", "email": "other@example.com"})
    assert again["duplicate_of"] == first["id"]


def test_idempotent_retry_replays_the_fast_answer(intake):
    client, reps, calls = intake
    _pool("Round robin", reps)
    first = _post(client, calls, headers={"Idempotency-Key": "render-1"})
    with clock.frozen(AT):
        retry = client.post("/api/leads", LEAD, headers={"Idempotency-Key": "render-1"})
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first


def test_budget_without_cents_answers_as_a_later_read(intake):
    # The new lead's amount holds the column's two places, as the database gives it back: "50000.00".
    client, reps, calls = intake
    _pool("Round robin", reps)
    with clock.frozen(AT):
        response = client.post("/api/leads", {**LEAD, "budget": "50000"})
        fetched = client.get(f"/api/leads/{response.json()['id']}").json()
    fast, ninja = calls["rendered"][-1]
    assert response.content == fast == ninja.content
    assert response.json()["budget"] == "50000.00"
    assert response.json() == fetched


def test_a_value_pydantic_would_convert_goes_back_to_ninja():
    lead = f.make_lead(company="类型测试")
    assert core_api.schema_json(LeadOut, lead) == _render(_create_operation(), None, Status(201, lead)).content
    lead.score = "7"  # pydantic would answer 7, not "7"
    assert core_api.schema_json(LeadOut, lead) is None
    lead.score, lead.budget = 7, 7  # and "7" for a Decimal field given an int
    assert core_api.schema_json(LeadOut, lead) is None
    lead.budget = Decimal("7")
    assert json.loads(core_api.schema_json(LeadOut, lead))["budget"] == "7"


def test_a_schema_it_cannot_render_is_refused_at_registration():
    from pydantic import Field

    class Aliased(Schema):
        name: str = Field(alias="company")

    with pytest.raises(TypeError):
        core_api._render_plan(Aliased)


def test_openapi_still_documents_leadout_for_201(client):
    create = client.get("/api/openapi.json").json()["paths"]["/api/leads"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadOut"}
