"""Required-action templates and the risk strategy library, edited in the UI by ops."""

import json

import pytest
from django.urls import reverse

from baton.core.testing import factories as f
from baton.process.models import ActionTemplate, RequiredAction, RiskStrategy
from baton.process.services import GOLDEN_SIX, deal_signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(db):
    return f.make_user(roles=["ops"])


def form_of(template, **changes):
    data = {"name_zh": template.name_zh, "name_en": template.name_en, "description": template.description,
            "trigger_kind": template.trigger_kind, "trigger_event": template.trigger_event,
            "trigger_condition": json.dumps(template.trigger_condition or {}),
            "requirements": json.dumps(template.requirements), "deadline_value": template.deadline_value,
            "deadline_unit": template.deadline_unit, "warning_pct": template.warning_pct, "active": "on"}
    data.update(changes)
    return data


def test_pages_are_for_ops_only(client, pipeline, org, ops):
    template = ActionTemplate.objects.get(code="competitor-filing")
    risk = RiskStrategy.objects.first()
    pages = [reverse("process:settings"), reverse("process:template_create"),
             reverse("process:template_edit", args=[template.pk]), reverse("process:risk_edit", args=[risk.pk])]
    for user in (org.rep, org.manager):
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 403, url
        assert client.post(reverse("process:risk_delete", args=[risk.pk])).status_code == 403
    client.force_login(ops)
    for url in pages:
        assert client.get(url).status_code == 200, url
    html = client.get(pages[0]).content.decode()
    assert all(spec["name_zh"] in html for spec in GOLDEN_SIX)
    assert RiskStrategy.objects.filter(pk=risk.pk).exists()


def test_edit_deadline_and_threshold_applies_to_new_actions(client, pipeline, org, ops):
    template = ActionTemplate.objects.get(code="competitor-filing")
    client.force_login(ops)
    url = reverse("process:template_edit", args=[template.pk])
    response = client.post(url, form_of(template, deadline_value="2", deadline_unit="business_days"))
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.deadline_value, template.deadline_unit, template.version) == (2, "business_days", 2)
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="需求确认"))
    [action] = deal_signal(opportunity=deal, kind="competitor_named", detail="友商", actor=org.rep)
    assert action.template_version == 2 and (action.due_at - action.triggered_at).days >= 2

    match = ActionTemplate.objects.get(code="solution-match")
    reqs = [dict(r, min_pct=80) for r in match.requirements]
    assert client.post(reverse("process:template_edit", args=[match.pk]),
                       form_of(match, requirements=json.dumps(reqs))).status_code == 302
    match.refresh_from_db()
    assert match.requirements[0]["min_pct"] == 80


@pytest.mark.parametrize("requirements,needle", [
    ('[{"type": "evidence", "kind": "hologram", "min": 1}]', "hologram"),
    ('[{"type": "match", "items_field": "a", "history_field": "b", "min_pct": 150}]', "min_pct"),
    ('[{"type": "form", "fields": []}]', "form"),
    ('[{"type": "telepathy"}]', "telepathy"),
    ("[{", "JSON"),
])
def test_bad_requirements_are_refused_precisely(client, pipeline, ops, requirements, needle):
    template = ActionTemplate.objects.get(code="key-terms-consensus")
    before = template.requirements
    client.force_login(ops)
    response = client.post(reverse("process:template_edit", args=[template.pk]),
                           form_of(template, requirements=requirements))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get("requirements", []))
    assert errors and ("1" in errors or needle == "JSON")
    template.refresh_from_db()
    assert template.requirements == before


def test_custom_action_with_condition_trigger(client, pipeline, ops):
    client.force_login(ops)
    bad = client.post(reverse("process:template_create"), {
        "code": "big-deal-review", "name_zh": "大单评审", "name_en": "Big deal review", "trigger_kind": "condition",
        "trigger_condition": json.dumps({"field": "amount", "op": "gte", "value": "lots"}),
        "requirements": '[{"type": "evidence", "kind": "document", "min": 1}]', "deadline_value": "3",
        "deadline_unit": "business_days", "warning_pct": "75", "active": "on"})
    assert bad.status_code == 200 and "trigger_condition" in bad.context["form"].errors
    ok = client.post(reverse("process:template_create"), {
        "code": "big-deal-review", "name_zh": "大单评审", "name_en": "Big deal review", "trigger_kind": "condition",
        "trigger_condition": json.dumps({"field": "amount", "op": "gte", "value": 1000000}),
        "requirements": '[{"type": "evidence", "kind": "document", "min": 1}]', "deadline_value": "3",
        "deadline_unit": "business_days", "warning_pct": "75", "active": "on"})
    assert ok.status_code == 302
    template = ActionTemplate.objects.get(code="big-deal-review")
    assert template.trigger_condition == {"field": "amount", "op": "gte", "value": 1000000}
    assert "大单评审" in client.get(reverse("process:settings")).content.decode()


def test_risk_strategy_crud(client, pipeline, org, ops):
    client.force_login(ops)
    response = client.post(reverse("process:settings"), {"risk_type": "no-budget", "risk_label": "无预算",
                                                         "signals": "无预算", "strategy": "申请试用", "position": "5",
                                                         "active": "on"})
    assert response.status_code == 302
    strategy = RiskStrategy.objects.get(strategy="申请试用")
    dup = client.post(reverse("process:settings"), {"risk_type": "no-budget", "risk_label": "无预算",
                                                    "strategy": "申请试用", "position": "0", "active": "on"})
    assert dup.status_code == 200 and dup.context["form"].errors
    client.post(reverse("process:risk_edit", args=[strategy.pk]), {
        "risk_type": "no-budget", "risk_label": "无预算", "signals": "", "strategy": "申请免费试用",
        "position": "5", "active": ""})
    strategy.refresh_from_db()
    assert strategy.strategy == "申请免费试用" and not strategy.active
    # An inactive strategy cannot complete a risk registration.
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="需求确认"))
    [action] = deal_signal(opportunity=deal, kind="risk_signal", detail="客户说无预算", actor=org.rep)
    from baton.core.errors import ValidationFailed
    from baton.process.services import action_complete

    with pytest.raises(ValidationFailed):
        action_complete(action=action, form={"risk_type": "no-budget", "strategy": str(strategy.pk)}, actor=org.rep)
    client.post(reverse("process:risk_delete", args=[strategy.pk]))
    assert not RiskStrategy.objects.filter(pk=strategy.pk).exists()
    assert RequiredAction.objects.filter(pk=action.pk, status="open").exists()
