"""Pipelines & gates editor (ops) and its API: stages, reorder, delete refused when used, requirements with a
condition that the gate then applies, and evidence uploaded through the API."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from baton.core.errors import PermissionDenied
from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.opportunities import services
from baton.opportunities.models import Opportunity, Pipeline, Stage, StageRequirement
from baton.process.models import StageDwellRule

pytestmark = pytest.mark.django_db

AUTO_PARTS = {"field": "account.industries", "op": "has_any", "value": ["auto-parts"]}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def ops():
    return f.make_user(roles=["ops"])


@pytest.fixture
def rep():
    return f.make_user(roles=["rep"], team=f.make_team())


@pytest.fixture
def small(ops):
    """A pipeline 初访 → 方案 → 成交 (+ 输单), no requirements."""
    return services.pipeline_create(actor=ops, name="项目型", stages=[
        {"name": "初访", "probability": 10}, {"name": "方案", "probability": 40},
        {"name": "成交", "kind": "won", "probability": 100}, {"name": "输单", "kind": "lost", "probability": 0}])


def names(pipeline):
    return list(pipeline.stages.order_by("position").values_list("name", flat=True))


def test_editor_pages_are_for_ops_only(client, ops, rep, small):
    stage = small.stages.get(name="方案")
    req = services.stage_requirement_create(actor=ops, stage=stage, code="doc", label="方案文档", kind="evidence",
                                            attachment_kind="document")
    pages = [reverse("opportunities:pipeline_settings"),
             reverse("opportunities:pipeline_settings_edit", args=[small.pk]),
             reverse("opportunities:stage_settings", args=[stage.pk]),
             reverse("opportunities:requirement_create", args=[stage.pk]),
             reverse("opportunities:requirement_edit", args=[req.pk])]
    client.force_login(rep)
    for url in pages:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("opportunities:stage_delete", args=[stage.pk])).status_code == 403
    assert client.post(reverse("opportunities:requirement_delete", args=[req.pk])).status_code == 403
    assert Stage.objects.filter(pk=stage.pk).exists() and StageRequirement.objects.filter(pk=req.pk).exists()
    client.force_login(ops)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(pages[1]).content.decode()
    assert all(n in html for n in ("初访", "方案", "成交", "输单"))
    html = client.get(pages[4]).content.decode()
    assert "/api/conditions/fields?model=opportunity" in html


def test_ops_creates_pipeline_and_stage_with_dwell_rule(client, ops):
    client.force_login(ops)
    response = client.post(reverse("opportunities:pipeline_settings"), {"name": "渠道业务"})
    pipeline = Pipeline.objects.get(name="渠道业务")
    assert response.status_code == 302
    url = reverse("opportunities:pipeline_settings_edit", args=[pipeline.pk])
    response = client.post(url, {"op": "add_stage", "stage-name": "报备", "stage-kind": "open",
                                 "stage-probability": "20", "stage-color": "azure", "stage-guidance": "先报备",
                                 "stage-max_dwell_days": "3", "stage-handbook_url": "https://wiki.example.com/a"})
    assert response.status_code == 302
    stage = pipeline.stages.get(name="报备")
    rule = StageDwellRule.objects.get(stage=stage)
    assert (stage.probability, stage.color, stage.guidance) == (20, "azure", "先报备")
    assert (rule.max_business_days, rule.handbook_url) == (3, "https://wiki.example.com/a")
    assert AuditEntry.objects.filter(object_id=str(stage.pk), action="create").exists() or \
        AuditEntry.objects.filter(action="create").count() >= 2
    # A bad value is put back on the form precisely.
    response = client.post(url, {"op": "add_stage", "stage-name": "报备", "stage-kind": "open",
                                 "stage-probability": "120", "stage-color": "blue", "stage-max_dwell_days": "0"})
    assert response.status_code == 200
    form = response.context["stage_form"]
    assert set(form.errors) >= {"probability", "max_dwell_days"}
    # Editing the stage clears the dwell rule when the maximum is emptied, and renames it.
    response = client.post(reverse("opportunities:stage_settings", args=[stage.pk]), {
        "name": "渠道报备", "kind": "open", "probability": "20", "color": "azure", "guidance": "",
        "max_dwell_days": "", "handbook_url": ""})
    assert response.status_code == 302
    stage.refresh_from_db()
    assert stage.name == "渠道报备" and not StageDwellRule.objects.filter(stage=stage).exists()


def test_reorder_with_up_and_down(client, ops, small):
    client.force_login(ops)
    plan = small.stages.get(name="方案")
    client.post(reverse("opportunities:stage_shift", args=[plan.pk, "up"]))
    assert names(small) == ["方案", "初访", "成交", "输单"]
    client.post(reverse("opportunities:stage_shift", args=[plan.pk, "down"]))
    client.post(reverse("opportunities:stage_shift", args=[plan.pk, "down"]))
    assert names(small) == ["初访", "成交", "方案", "输单"]
    ids = list(small.stages.order_by("-position").values_list("pk", flat=True))
    client.post(reverse("opportunities:stage_reorder", args=[small.pk]), {"stage": ids})
    assert names(small) == ["输单", "方案", "成交", "初访"]


def test_delete_refused_while_a_deal_is_in_the_stage(client, ops, rep, small):
    client.force_login(ops)
    plan = small.stages.get(name="方案")
    deal = f.make_opportunity(owner=rep, stage=plan)
    response = client.post(reverse("opportunities:stage_delete", args=[plan.pk]), follow=True)
    assert Stage.objects.filter(pk=plan.pk).exists()
    assert "1" in response.content.decode() and "方案" in str(list(response.context["messages"])[0])
    deal.delete()
    # Deals that passed through it still name it in their history: refused too.
    lead_stage = small.stages.get(name="初访")
    other = f.make_opportunity(owner=rep, stage=lead_stage)
    services.opportunity_update(opportunity=other, actor=ops, stage=small.stages.get(name="成交"))
    response = client.post(reverse("opportunities:stage_delete", args=[lead_stage.pk]), follow=True)
    assert Stage.objects.filter(pk=lead_stage.pk).exists()
    # An unused stage goes.
    client.post(reverse("opportunities:stage_delete", args=[plan.pk]))
    assert not Stage.objects.filter(pk=plan.pk).exists()
    assert AuditEntry.objects.filter(action="delete", message="方案").exists()


def test_conditional_requirement_made_in_the_editor_gates_the_move(client, ops, rep, small):
    industry = f.make_industry(code="auto-parts", name="汽车零部件")
    plan = small.stages.get(name="方案")
    client.force_login(ops)
    url = reverse("opportunities:requirement_create", args=[plan.pk])
    bad = client.post(url, {"label": "产线节拍分析", "code": "line-takt", "kind": "evidence",
                            "attachment_kind": "document", "min_count": "1",
                            "condition": json.dumps({"field": "account.nope", "op": "eq", "value": 1})})
    assert bad.status_code == 200 and "condition" in bad.context["form"].errors
    assert "account.nope" in " ".join(bad.context["form"].errors["condition"])
    missing = client.post(url, {"label": "产线节拍分析", "code": "line-takt", "kind": "evidence", "min_count": "1",
                                "condition": "{}"})
    assert missing.status_code == 200 and "attachment_kind" in missing.context["form"].errors
    ok = client.post(url, {"label": "产线节拍分析", "code": "line-takt", "kind": "evidence",
                           "attachment_kind": "document", "min_count": "1", "skippable": "",
                           "condition": json.dumps(AUTO_PARTS)})
    assert ok.status_code == 302
    req = StageRequirement.objects.get(stage=plan, code="line-takt")
    assert req.condition == AUTO_PARTS and not req.skippable

    auto = f.make_opportunity(owner=rep, stage=small.stages.get(name="初访"),
                              account=f.make_account(owner=rep, industries=[industry]))
    other = f.make_opportunity(owner=rep, stage=small.stages.get(name="初访"))
    api = ApiClient(rep)
    refused = api.patch(f"/api/opportunities/{auto.pk}", {"stage": "方案", "pipeline": "项目型"})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["stage"]
    assert "产线节拍分析" in refused.json()["errors"][0]["message"]
    assert api.patch(f"/api/opportunities/{other.pk}", {"stage": "方案"}).status_code == 200

    upload = api.client.post(f"/api/opportunities/{auto.pk}/evidence", {
        "file": SimpleUploadedFile("takt.pdf", b"%PDF-1.4 takt", content_type="application/pdf"),
        "kind": "document"}, headers=api._headers(None))
    assert upload.status_code == 201, upload.content
    body = upload.json()
    assert body["next_stage"] == "方案" and body["unmet"] == []
    assert body["evidence"]["requirement"] == req.pk
    moved = api.patch(f"/api/opportunities/{auto.pk}", {"stage": "方案"})
    assert moved.status_code == 200 and moved.json()["stage"] == "方案"


def test_evidence_api_lists_what_is_still_missing_and_refuses_bad_input(ops, rep, small):
    plan = small.stages.get(name="方案")
    photo = services.stage_requirement_create(actor=ops, stage=plan, code="photo", label="现场照片", kind="evidence",
                                              attachment_kind="photo", min_count=2)
    deal = f.make_opportunity(owner=rep, stage=small.stages.get(name="初访"))
    api = ApiClient(rep)

    def post(data):
        return api.client.post(f"/api/opportunities/{deal.pk}/evidence", data, headers=api._headers(None))

    first = post({"file": SimpleUploadedFile("a.jpg", b"jpg1"), "requirement": str(photo.pk)})
    assert first.status_code == 201
    [unmet] = first.json()["unmet"]
    assert unmet["requirement"] == photo.pk and "1" in unmet["message"]
    nothing = post({"file": SimpleUploadedFile("b.jpg", b"jpg2")})
    assert nothing.status_code == 422 and nothing.json()["errors"][0]["field"] == "requirement"
    wrong = post({"file": SimpleUploadedFile("b.pdf", b"pdf"), "kind": "signed_pdf"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "kind"
    second = post({"file": SimpleUploadedFile("c.jpg", b"jpg3"), "kind": "photo"})
    assert second.status_code == 201 and second.json()["unmet"] == []
    someone = f.make_opportunity(owner=f.make_user(roles=["rep"]), stage=small.stages.get(name="初访"))
    hidden = api.client.post(f"/api/opportunities/{someone.pk}/evidence",
                             {"file": SimpleUploadedFile("x.jpg", b"x"), "requirement": str(photo.pk)},
                             headers=api._headers(None))
    assert hidden.status_code == 404


def test_pipelines_api(ops, rep, small):
    as_rep, as_ops = ApiClient(rep), ApiClient(ops)
    listed = as_rep.get("/api/pipelines")
    assert listed.status_code == 200
    mine = next(p for p in listed.json() if p["name"] == "项目型")
    assert [s["name"] for s in mine["stages"]] == ["初访", "方案", "成交", "输单"]
    body = {"name": "服务续约", "stages": [{"name": "续约沟通", "max_dwell_days": 5}, {"name": "续约", "kind": "won"}]}
    assert as_rep.post("/api/pipelines", body).status_code == 403
    assert not Pipeline.objects.filter(name="服务续约").exists()
    created = as_ops.post("/api/pipelines", body)
    assert created.status_code == 201, created.content
    assert [(s["name"], s["max_dwell_days"]) for s in created.json()["stages"]] == [("续约沟通", 5), ("续约", None)]
    bad = as_ops.post("/api/pipelines", {"name": "x", "stages": [{"name": "a", "probability": 101}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "stages.0.probability"
    dup = as_ops.post("/api/pipelines", {"name": "y", "stages": [{"name": "a"}, {"name": "a"}]})
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"].startswith("stages.1")
    assert not Pipeline.objects.filter(name__in=["x", "y"]).exists()
    pid = created.json()["id"]
    renamed = as_ops.patch(f"/api/pipelines/{pid}", {"name": "服务续约（年度）"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "服务续约（年度）"
    stage_id = created.json()["stages"][0]["id"]
    changed = as_ops.patch(f"/api/stages/{stage_id}", {"probability": 30, "max_dwell_days": None})
    assert changed.status_code == 200
    assert changed.json()["stages"][0]["probability"] == 30 and changed.json()["stages"][0]["max_dwell_days"] is None
    ids = [s["id"] for s in changed.json()["stages"]]
    order = as_ops.post(f"/api/pipelines/{pid}/stage-order", {"stage_ids": ids[::-1]})
    assert [s["name"] for s in order.json()["stages"]] == ["续约", "续约沟通"]
    partial = as_ops.post(f"/api/pipelines/{pid}/stage-order", {"stage_ids": ids[:1]})
    assert partial.status_code == 422 and partial.json()["errors"][0]["field"] == "stage_ids"
    in_use = small.stages.get(name="方案")
    f.make_opportunity(owner=rep, stage=in_use)
    refused = as_ops.delete(f"/api/stages/{in_use.pk}")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "stage"
    assert as_ops.delete(f"/api/stages/{ids[0]}").status_code == 204


def test_requirements_api(ops, rep, small):
    f.make_industry(code="auto-parts")
    plan = small.stages.get(name="方案")
    url = f"/api/stages/{plan.pk}/requirements"
    as_ops = ApiClient(ops)
    body = {"code": "line-takt", "label": "产线节拍分析", "kind": "evidence", "attachment_kind": "document",
            "condition": AUTO_PARTS}
    assert ApiClient(rep).post(url, body).status_code == 403
    created = as_ops.post(url, body)
    assert created.status_code == 201, created.content
    assert created.json()["condition"] == AUTO_PARTS and created.json()["stage"] == plan.pk
    for bad, field in [({**body, "code": "x", "condition": {"field": "nope", "op": "eq", "value": 1}}, "condition"),
                       ({**body, "code": "y", "attachment_kind": ""}, "attachment_kind"),
                       ({**body, "code": "z", "kind": "field", "field_name": "colour"}, "field_name"),
                       ({**body, "code": "line-takt"}, "code"),
                       ({**body, "code": "w", "kind": "nope"}, "kind"),
                       ({**body, "code": "v", "min_count": 0}, "min_count")]:
        response = as_ops.post(url, bad)
        assert response.status_code in (409, 422), (bad, response.content)
        fields = {e["field"] for e in response.json()["errors"]}
        assert field in fields or any((x or "").startswith(field) for x in fields), (bad, response.json())
        assert all(e["message"] for e in response.json()["errors"])
    rid = created.json()["id"]
    listed = ApiClient(rep).get(url)
    assert [r["code"] for r in listed.json()] == ["line-takt"]
    patched = as_ops.patch(f"{url}/{rid}", {"condition": None, "skippable": True})
    assert patched.status_code == 200 and patched.json()["condition"] is None and patched.json()["skippable"]
    assert as_ops.delete(f"{url}/{rid}").status_code == 204
    assert not StageRequirement.objects.filter(pk=rid).exists()
    assert Opportunity.objects.count() == 0


def test_renaming_a_stage_carries_required_action_triggers(ops):
    from baton.process.models import ActionTemplate
    from baton.process.services import process_install_defaults

    pipeline = services.pipeline_ensure_default()
    process_install_defaults()
    proposal = pipeline.stages.get(name="方案")
    services.stage_update(stage=proposal, actor=ops, name="解决方案")
    assert ActionTemplate.objects.get(code="decision-chain").trigger_event == "stage_entered:解决方案"
    rep = f.make_user(roles=["rep"])
    with pytest.raises(PermissionDenied):
        services.stage_update(stage=proposal, actor=rep, name="x")
