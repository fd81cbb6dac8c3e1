"""Stage gates: each requirement kind, conditional requirements, the API's 422, skip with reason and review."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from baton.activities.models import Task
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.opportunities import services
from baton.opportunities.gates import gate_check
from baton.opportunities.models import Stage, StageChange, StageRequirement, StageSkipReview

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def pipeline():
    p = services.pipeline_ensure_default()
    services.stage_requirements_install_defaults(p)
    return p


@pytest.fixture
def org():
    team = f.make_team()
    manager = f.make_user(roles=["manager"], team=team)
    team.manager = manager
    team.save()
    rep = f.make_user(roles=["rep"], team=team, manager=manager)
    return type("Org", (), {"team": team, "manager": manager, "rep": rep})


def stage(pipeline, name) -> Stage:
    return pipeline.stages.get(name=name)


def upload(name="x.pdf", content=b"%PDF-1.4 evidence"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def attach(deal, pipeline, stage_name, code, actor):
    req = StageRequirement.objects.get(stage__pipeline=pipeline, stage__name=stage_name, code=code)
    return services.evidence_attach(opportunity=deal, requirement_id=req.pk, file=upload(), actor=actor)


def test_installer_is_idempotent(pipeline):
    assert StageRequirement.objects.count() == len(services.DEFAULT_REQUIREMENTS)
    assert services.stage_requirements_install_defaults(pipeline) == 0
    assert StageRequirement.objects.count() == len(services.DEFAULT_REQUIREMENTS)


def test_decision_contact_requirement(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "线索"))
    with pytest.raises(ValidationFailed) as exc:
        services.opportunity_update(opportunity=deal, actor=org.rep, stage=stage(pipeline, "需求确认"))
    [(field, message)] = exc.value.errors
    assert field == "stage" and "需求确认" in message and "决策角色" in message
    deal.refresh_from_db()
    assert deal.stage.name == "线索" and StageChange.objects.filter(opportunity=deal).count() == 1
    f.make_contact(account=deal.account, decision_role="decision_maker")
    services.opportunity_update(opportunity=deal, actor=org.rep, stage=stage(pipeline, "需求确认"))
    deal.refresh_from_db()
    assert deal.stage.name == "需求确认"


def test_field_requirement_counts_the_value_sent_with_the_move(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "方案"), amount=Decimal("0"))
    with pytest.raises(ValidationFailed) as exc:
        services.opportunity_update(opportunity=deal, actor=org.rep, stage=stage(pipeline, "报价"))
    assert [m for _, m in exc.value.errors] == ["“报价”要求：填写“金额”（报价金额）。"]
    services.opportunity_update(opportunity=deal, actor=org.rep, stage=stage(pipeline, "报价"),
                                amount=Decimal("5000"))
    deal.refresh_from_db()
    assert (deal.stage.name, deal.amount) == ("报价", Decimal("5000.00"))


def test_evidence_requirement_counts_uploads_for_that_requirement(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "报价"))
    target = stage(pipeline, "客户内部决策会")
    [unmet] = gate_check(deal, target)
    assert unmet.requirement.code == "meeting-photo" and "0" in unmet.message
    # A photo uploaded for another purpose does not count.
    f.make_attachment(uploaded_by=org.rep, linked=deal, kind="photo")
    assert len(gate_check(deal, target)) == 1
    attach(deal, pipeline, "客户内部决策会", "meeting-photo", org.rep)
    assert gate_check(deal, target) == []
    services.opportunity_update(opportunity=deal, actor=org.rep, stage=target)


def test_checklist_requirement(pipeline, org):
    quote = stage(pipeline, "报价")
    req = services.stage_requirement_create(actor=org.manager, stage=quote, code="price-approval",
                                            label="价格审批", kind="checklist")
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "方案"))
    assert [u.requirement for u in gate_check(deal, quote)] == [req]
    services.checklist_tick(opportunity=deal, requirement_id=req.pk, actor=org.rep)
    assert gate_check(deal, quote) == []
    assert AuditEntry.objects.filter(object_id=deal.pk, action="event", changes__checklist__1="价格审批").exists()


def test_conditional_requirement_applies_only_to_auto_parts_accounts(pipeline, org):
    auto = f.make_industry(code="auto-parts", name="汽车零部件")
    plain = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "需求确认"))
    car = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "需求确认"),
                             account=f.make_account(owner=org.rep, industries=[auto]))
    proposal = stage(pipeline, "方案")
    assert [u.requirement.code for u in gate_check(plain, proposal)] == ["proposal"]
    assert [u.requirement.code for u in gate_check(car, proposal)] == ["proposal", "line-takt"]
    attach(car, pipeline, "方案", "proposal", org.rep)
    with pytest.raises(ValidationFailed) as exc:
        services.opportunity_update(opportunity=car, actor=org.rep, stage=proposal)
    assert len(exc.value.errors) == 1 and "产线节拍分析" in exc.value.errors[0][1]
    attach(car, pipeline, "方案", "line-takt", org.rep)
    services.opportunity_update(opportunity=car, actor=org.rep, stage=proposal)


def test_jumping_ahead_meets_every_stage_passed_and_backward_moves_pass(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "线索"), amount=Decimal("0"))
    codes = [u.requirement.code for u in gate_check(deal, stage(pipeline, "签约"))]
    assert codes == ["decision-contact", "proposal", "amount", "meeting-photo", "legal-signed", "po", "contract"]
    deal2 = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "报价"))
    assert gate_check(deal2, stage(pipeline, "方案")) == []
    assert gate_check(deal2, stage(pipeline, "输单")) == []


def test_create_into_a_later_stage_is_gated(pipeline, org):
    with pytest.raises(ValidationFailed):
        services.opportunity_create(actor=org.rep, name="跳级", account=f.make_account(owner=org.rep),
                                    stage=stage(pipeline, "报价"))


def test_api_patch_answers_422_naming_every_unmet_requirement(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "线索"), amount=Decimal("0"))
    api = ApiClient(org.rep)
    response = api.patch(f"/api/opportunities/{deal.pk}", {"stage": "报价"})
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"stage"} and len(errors) == 3
    text = " ".join(e["message"] for e in errors)
    assert "决策角色" in text and "方案文档" in text and "报价金额" in text
    deal.refresh_from_db()
    assert deal.stage.name == "线索"
    # A user who reads English gets the same refusal in English.
    org.rep.language = "en"
    org.rep.save()
    response = ApiClient(org.rep).patch(f"/api/opportunities/{deal.pk}", {"stage": "报价"})
    assert "requires" in response.json()["errors"][0]["message"]


def test_skip_with_reason_opens_a_review_and_a_manager_task(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "客户内部决策会"))
    legal = stage(pipeline, "法务初审通过")
    with pytest.raises(ValidationFailed) as exc:
        services.opportunity_update(opportunity=deal, actor=org.rep, stage=legal)
    assert "skipped" in exc.value.errors[0][1] or "跳过" in exc.value.errors[0][1]
    services.opportunity_update(opportunity=deal, actor=org.rep, stage=legal, skip_reason="法务邮件已确认，签字件下周补")
    deal.refresh_from_db()
    assert deal.stage == legal
    review = StageSkipReview.objects.get(opportunity=deal)
    assert review.status == "pending" and review.from_stage.name == "客户内部决策会"
    assert [s["label"] for s in review.skipped] == ["法务初审签字件"]
    task = review.task
    assert task.assignee == org.manager and task.origin == Task.Origin.REVIEW and task.linked_id == deal.pk
    assert AuditEntry.objects.filter(content_type__model="stageskipreview", object_id=review.pk,
                                     action="create").count() == 1

    # The rep cannot approve their own skip; the manager approves.
    with pytest.raises(PermissionDenied):
        services.skip_review_approve(review=review, actor=org.rep)
    services.skip_review_approve(review=review, actor=org.manager, note="同意")
    review.refresh_from_db()
    task.refresh_from_db()
    assert (review.status, review.reviewer) == ("approved", org.manager) and task.status == "done"


def test_skip_is_refused_when_a_requirement_is_not_skippable(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "报价"))
    with pytest.raises(ValidationFailed):
        services.opportunity_update(opportunity=deal, actor=org.rep, stage=stage(pipeline, "法务初审通过"),
                                    skip_reason="赶时间")
    assert not StageSkipReview.objects.exists()


def test_reject_moves_the_deal_back(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "客户内部决策会"))
    services.opportunity_update(opportunity=deal, actor=org.rep, stage=stage(pipeline, "法务初审通过"),
                                skip_reason="客户催单")
    review = StageSkipReview.objects.get(opportunity=deal)
    with pytest.raises(ValidationFailed):
        services.skip_review_reject(review=review, actor=org.manager, note="")
    services.skip_review_reject(review=review, actor=org.manager, note="先补签字件")
    deal.refresh_from_db()
    review.refresh_from_db()
    assert deal.stage.name == "客户内部决策会" and review.status == "rejected"
    assert [c.to_stage.name for c in StageChange.objects.filter(opportunity=deal)][-2:] == ["法务初审通过",
                                                                                       "客户内部决策会"]
    assert AuditEntry.objects.filter(content_type__model="stageskipreview", object_id=review.pk,
                                     action="update", actor=org.manager).exists()


def test_requirement_config_is_validated(pipeline, org):
    with pytest.raises(ValidationFailed) as exc:
        services.stage_requirement_create(actor=org.manager, stage=stage(pipeline, "报价"), code="bad",
                                          label="x", kind="field", field_name="nope")
    assert exc.value.errors[0][0] == "field_name"
    with pytest.raises(ValidationFailed) as exc:
        services.stage_requirement_create(actor=org.manager, stage=stage(pipeline, "报价"), code="bad2",
                                          label="x", kind="evidence", attachment_kind="photo",
                                          condition={"field": "nope", "op": "eq", "value": 1})
    assert exc.value.errors[0][0] == "condition"


def test_api_skip_with_reason(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=stage(pipeline, "客户内部决策会"))
    api = ApiClient(org.rep)
    assert api.patch(f"/api/opportunities/{deal.pk}", {"stage": "法务初审通过"}).status_code == 422
    moved = api.patch(f"/api/opportunities/{deal.pk}", {"stage": "法务初审通过", "skip_reason": "客户法务口头同意"})
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == "法务初审通过"
    assert StageSkipReview.objects.get(opportunity=deal).reason == "客户法务口头同意"
