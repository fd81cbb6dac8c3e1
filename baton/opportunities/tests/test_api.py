"""`/api/opportunities`: stages by name, amounts as decimals, stage moves logged."""

import pytest

from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_account, make_opportunity, make_team, make_user
from baton.opportunities.models import Opportunity, StageChange
from baton.opportunities.services import pipeline_ensure_default

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return make_user(roles=["rep"], team=make_team())


@pytest.fixture
def api(rep):
    return ApiClient(rep)


def test_create_with_stage_name_and_move_stage(rep, api):
    pipeline = pipeline_ensure_default()
    account = make_account(owner=rep)
    created = api.post("/api/opportunities", {"name": "二期扩容", "account": account.pk, "amount": "1200000.00",
                                              "stage": "方案", "expected_close_date": "2030-06-30"})
    assert created.status_code == 201, created.content
    deal = created.json()
    assert deal["stage"] == "方案" and deal["pipeline"] == pipeline.name
    assert deal["amount"] == "1200000.00" and deal["probability"] == 25 and deal["status"] == "open"

    moved = api.patch(f"/api/opportunities/{deal['id']}", {"stage": "报价"})
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == "报价" and moved.json()["probability"] == 40
    history = [(c.from_stage and c.from_stage.name, c.to_stage.name)
               for c in StageChange.objects.filter(opportunity_id=deal["id"])]
    assert history == [(None, "方案"), ("方案", "报价")]

    lost = api.patch(f"/api/opportunities/{deal['id']}", {"stage": "输单"})
    assert lost.status_code == 422 and lost.json()["errors"][0]["field"] == "lost_reason"
    lost = api.patch(f"/api/opportunities/{deal['id']}", {"stage": "输单", "lost_reason": "预算取消"})
    assert lost.status_code == 200 and lost.json()["status"] == "lost"


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "probability": 101}, "probability"), ({"name": "x", "amount": "-1"}, "amount"),
    ({"name": "x", "stage": "不存在"}, "stage"), ({"name": "x", "pipeline": "不存在"}, "pipeline"),
    ({"name": "x", "amount": "lots"}, "amount"), ({"amount": "1"}, "name"),
    ({"name": "x", "expected_close_date": "soon"}, "expected_close_date"),
])
def test_invalid_input_is_422(api, body, field):
    pipeline_ensure_default()
    response = api.post("/api/opportunities", body)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Opportunity.objects.exists()


def test_list_filters_by_stage_name_and_scope(rep, api):
    pipeline = pipeline_ensure_default()
    quote = pipeline.stages.get(name="报价")
    make_opportunity(owner=rep, stage=quote, amount=500)
    make_opportunity(owner=rep, amount=100)
    hidden = make_opportunity(owner=make_user(roles=["rep"], team=make_team()), stage=quote)
    listed = api.get("/api/opportunities", {"stage": "报价"}).json()
    assert listed["count"] == 1 and listed["items"][0]["stage"] == "报价"
    assert api.get("/api/opportunities", {"ordering": "-amount"}).json()["items"][0]["amount"] == "500.00"
    assert api.get(f"/api/opportunities/{hidden.pk}").status_code == 404
    # Finance reviews every deal.
    assert ApiClient(make_user(roles=["finance"])).get("/api/opportunities").json()["count"] == 3


def test_delete(rep):
    deal = make_opportunity(owner=rep)
    manager = make_user(roles=["manager"], team=rep.team)
    assert ApiClient(rep).delete(f"/api/opportunities/{deal.pk}").status_code == 403
    assert ApiClient(manager).delete(f"/api/opportunities/{deal.pk}").status_code == 204
    assert not Opportunity.objects.exists()
