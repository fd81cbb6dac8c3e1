"""Required actions: the golden six triggers, deadlines (hours, business days across weekends and holidays),
completion validations, and the scan that alerts once per action × level."""

from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from baton.activities.models import Task
from baton.core import clock
from baton.core.errors import ValidationFailed
from baton.core.testing import factories as f
from baton.notifications.models import Notification
from baton.opportunities import services as opp_services
from baton.process import services
from baton.process.models import ActionAlert, ActionTemplate, DwellAlert, RequiredAction, RiskStrategy

pytestmark = pytest.mark.django_db


def at(s: str) -> datetime:
    return clock.parse_now(s)


def pdf(name="signed.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4 signed", content_type="application/pdf")


def move(deal, pipeline, name, actor, captured):
    with captured(execute=True):
        opp_services.opportunity_update(opportunity=deal, actor=actor, stage=pipeline.stages.get(name=name))
    deal.refresh_from_db()


def test_installer_ships_the_golden_six_idempotently(pipeline):
    assert ActionTemplate.objects.count() == 6
    assert services.process_install_defaults() == {"templates": 0, "risk_strategies": 0, "dwell_rules": 0}
    assert set(ActionTemplate.objects.values_list("trigger_event", flat=True)) == {
        "purchase_intent", "before_stage:报价", "competitor_named", "stage_entered:方案", "risk_signal",
        "before_stage:法务初审通过"}


def test_business_days_skip_weekends_and_statutory_holidays():
    # Thursday 10:00 + 5 business days: Fri, Mon, Tue, Wed, Thu → next Thursday 10:00.
    assert services.add_business_days(at("2025-06-12T10:00"), 5) == at("2025-06-19T10:00")
    # 30 Sep 2025 + 5: 1–8 Oct are the National Day holiday; Sat 11 Oct is a make-up working day.
    assert services.add_business_days(at("2025-09-30T10:00"), 5) == at("2025-10-14T10:00")


def test_decision_chain_raised_on_entering_proposal_due_in_five_business_days(
        pipeline, org, django_capture_on_commit_callbacks):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="需求确认"))
    f.make_attachment(uploaded_by=org.rep, linked=deal)  # not evidence: the gate wants a StageEvidence
    opp_services.stage_requirements_install_defaults(pipeline)
    from baton.opportunities.models import StageRequirement

    StageRequirement.objects.filter(stage__name="方案").delete()  # this test is about actions, not gates
    with clock.frozen("2025-09-30T10:00"):
        move(deal, pipeline, "方案", org.rep, django_capture_on_commit_callbacks)
    actions = {a.template.code: a for a in RequiredAction.objects.filter(opportunity=deal)}
    # Entering 方案 raises the decision chain and "before 报价" (the solution match check).
    assert set(actions) == {"decision-chain", "solution-match"}
    assert actions["decision-chain"].due_at == at("2025-10-14T10:00")
    assert actions["solution-match"].due_at == at("2025-10-03T10:00")
    assert actions["decision-chain"].owner == org.rep

    # Moving back and forth raises no second action for the same deal.
    move(deal, pipeline, "需求确认", org.rep, django_capture_on_commit_callbacks)
    move(deal, pipeline, "方案", org.rep, django_capture_on_commit_callbacks)
    assert RequiredAction.objects.filter(opportunity=deal).count() == 2


def test_decision_chain_completion_needs_three_tagged_contacts_and_notes(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="方案"))
    services.stage_entered(deal, deal.stage)
    action = RequiredAction.objects.get(opportunity=deal, template__code="decision-chain")
    f.make_contact(account=deal.account, decision_role="initiator")
    f.make_contact(account=deal.account, decision_role="influencer")
    with pytest.raises(ValidationFailed) as exc:
        services.action_complete(action=action, form={}, actor=org.rep)
    messages = dict(exc.value.errors)
    assert "（已有 2 位）" in messages["contacts"] or "2" in messages["contacts"]
    assert "否决者" in messages["contacts"]
    assert "会议纪要" in messages["meeting_notes"]
    f.make_contact(account=deal.account, decision_role="veto")
    services.action_complete(action=action, form={"meeting_notes": "周二与采购、技术、财务会谈"}, actor=org.rep)
    action.refresh_from_db()
    assert action.status == RequiredAction.Status.DONE and action.completed_on_time is True
    assert action.form_data["meeting_notes"].startswith("周二")


def test_purchase_intent_needs_signed_pdf_and_short_summary(pipeline, org):
    deal = f.make_opportunity(owner=org.rep)
    with clock.frozen("2025-06-13T17:00"):
        [action] = services.deal_signal(opportunity=deal, kind="purchase_intent", actor=org.rep)
    assert action.template.code == "needs-clarification" and action.due_at == at("2025-06-15T17:00")
    with clock.frozen("2025-06-14T09:00"):
        with pytest.raises(ValidationFailed) as exc:
            services.action_complete(action=action, form={"summary": "x" * 501}, actor=org.rep)
        fields = [f_ for f_, _m in exc.value.errors]
        assert fields == ["evidence", "summary"]
        services.action_attach(action=action, file=pdf(), kind="signed_pdf", actor=org.rep)
        voice = SimpleUploadedFile("note.m4a", b"\x00\x00voice", content_type="audio/mp4")
        services.action_attach(action=action, file=voice, kind="other", actor=org.rep)
        # The voice note is the summary (the refused too-long text is kept as typed, so clear it).
        services.action_complete(action=action, form={"summary": ""}, actor=org.rep)
    action.refresh_from_db()
    assert action.status == "done" and action.completed_on_time is True


def test_solution_match_at_least_90_percent(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="方案"))
    services.stage_entered(deal, deal.stage)
    action = RequiredAction.objects.get(opportunity=deal, template__code="solution-match")
    history = "\n".join(f"Item {i}" for i in range(1, 20))
    eight_of_nine = [f"Item {i}" for i in range(1, 9)] + ["New widget"]  # 88.9 %
    with pytest.raises(ValidationFailed) as exc:
        services.action_complete(action=action, form={"proposal_items": eight_of_nine,
                                                      "purchase_history": history}, actor=org.rep)
    [(field, message)] = exc.value.errors
    assert field == "proposal_items" and "88.9" in message and "new widget" in message
    action.refresh_from_db()
    assert action.result["match"]["match_pct"] == 88.9 and action.status == "open"  # the match is shown
    nine_of_ten = [f"item {i}" for i in range(1, 10)] + ["New widget"]  # 90 %, case-blind
    services.action_complete(action=action, form={"proposal_items": nine_of_ten}, actor=org.rep)
    action.refresh_from_db()
    assert action.status == "done" and action.result["match"]["match_pct"] == 90.0


def test_competitor_named_prefills_the_form_and_each_competitor_is_one_action(pipeline, org):
    deal = f.make_opportunity(owner=org.rep)
    [a] = services.deal_signal(opportunity=deal, kind="competitor_named", detail="西门子", actor=org.rep)
    assert a.form_data == {"competitor": "西门子"} and a.due_at - a.triggered_at == timezone.timedelta(hours=24)
    assert services.deal_signal(opportunity=deal, kind="competitor_named", detail=" 西门子 ", actor=org.rep) == []
    assert len(services.deal_signal(opportunity=deal, kind="competitor_named", detail="ABB", actor=org.rep)) == 1
    with pytest.raises(ValidationFailed) as exc:
        services.action_complete(action=a, form={"model": "S7-1500"}, actor=org.rep)
    assert [f_ for f_, _m in exc.value.errors] == ["advantages", "customer_cares"]
    services.action_complete(action=a, form={"advantages": "交期短", "customer_cares": "服务响应"}, actor=org.rep)
    a.refresh_from_db()
    assert a.form_data == {"competitor": "西门子", "model": "S7-1500", "advantages": "交期短",
                           "customer_cares": "服务响应"}


def test_risk_signal_is_due_immediately_and_needs_a_library_strategy(pipeline, org):
    deal = f.make_opportunity(owner=org.rep)
    with clock.frozen("2025-06-12T10:00"):
        [a] = services.deal_signal(opportunity=deal, kind="risk_signal", detail="客户说今年没预算", actor=org.rep)
    assert a.due_at == a.triggered_at and a.form_data == {"risk_type": "no-budget"}
    tender = RiskStrategy.objects.filter(risk_type="tender-required").first()
    with pytest.raises(ValidationFailed) as exc:
        services.action_complete(action=a, form={"strategy": str(tender.pk)}, actor=org.rep)
    assert [f_ for f_, _m in exc.value.errors] == ["strategy"]  # a tender strategy does not answer "no budget"
    budget = RiskStrategy.objects.filter(risk_type="no-budget").first()
    with clock.frozen("2025-06-12T10:05"):
        services.action_complete(action=a, form={"strategy": budget.pk}, actor=org.rep)
    a.refresh_from_db()
    assert a.status == "done" and a.completed_on_time is False and a.result["risk"]["strategy"] == budget.strategy


def test_scan_alerts_once_per_level_and_notifies_owner_and_manager(pipeline, org):
    deal = f.make_opportunity(owner=org.rep)
    with clock.frozen("2025-06-12T10:00"):
        [a] = services.deal_signal(opportunity=deal, kind="competitor_named", detail="ABB", actor=org.rep)
    assert services.process_scan(at("2025-06-12T20:00"))["alerts"] == 0
    stats = services.process_scan(at("2025-06-13T05:00"))  # 19 h of 24: warning
    assert stats["alerts"] == 1 and Notification.objects.filter(recipient=org.rep).count() == 1
    assert services.process_scan(at("2025-06-13T06:00"))["alerts"] == 0
    stats = services.process_scan(at("2025-06-13T10:00"))
    assert stats == {**stats, "alerts": 1, "overdue": 1}
    a.refresh_from_db()
    assert a.status == "overdue"
    assert Notification.objects.filter(recipient=org.manager).count() == 1
    assert Notification.objects.filter(recipient=org.rep).count() == 2
    assert services.process_scan(at("2025-06-14T10:00"))["alerts"] == 0
    assert ActionAlert.objects.filter(action=a).count() == 2
    # Done late: not on time, and the alerts are read.
    with clock.frozen("2025-06-14T11:00"):
        services.action_complete(action=a, form={"model": "x", "advantages": "y", "customer_cares": "z"},
                                 actor=org.rep)
    a.refresh_from_db()
    assert a.status == "done" and a.completed_on_time is False
    assert not Notification.objects.filter(read_at__isnull=True, key__startswith="process:").exists()


def test_dwell_alert_once_per_stage_entry_with_handbook_and_manager_task(
        pipeline, org, django_capture_on_commit_callbacks):
    with clock.frozen("2025-06-12T10:00"):  # Thursday; 方案 allows 5 business days
        deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="方案"))
    assert services.process_scan(at("2025-06-19T09:59"))["dwell"] == 0
    call_command("process", "scan", "--now", "2025-06-19T10:00")
    [alert] = DwellAlert.objects.filter(opportunity=deal)
    note = Notification.objects.get(recipient=org.rep, key__startswith="dwell:")
    assert "handbook" in note.link and "5" in note.body
    task = Task.objects.get(assignee=org.manager)
    assert alert.task == task and task.due_at == at("2025-06-20T10:00") and "24" in task.title
    assert services.process_scan(at("2025-06-25T10:00"))["dwell"] == 0
    # A new entry into the stage is a new clock.
    with clock.frozen("2025-06-26T10:00"):
        move(deal, pipeline, "需求确认", org.rep, django_capture_on_commit_callbacks)
        move(deal, pipeline, "方案", org.rep, django_capture_on_commit_callbacks)
    assert services.process_scan(at("2025-07-03T10:00"))["dwell"] == 1


def test_condition_trigger_raises_once(pipeline, org):
    deal = f.make_opportunity(owner=org.rep, amount=2_000_000)
    f.make_opportunity(owner=org.rep, amount=1000)
    ActionTemplate.objects.create(code="big-deal", name_zh="大单复核", name_en="Big deal review",
                                  trigger_kind="condition",
                                  trigger_condition={"field": "amount", "op": "gte", "value": 1_000_000},
                                  requirements=[], deadline_value=24)
    assert services.process_scan(at("2025-06-12T10:00"))["raised"] == 1
    assert services.process_scan(at("2025-06-12T11:00"))["raised"] == 0
    assert RequiredAction.objects.get(template__code="big-deal").opportunity == deal
