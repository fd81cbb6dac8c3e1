from datetime import timedelta
from decimal import Decimal

import pytest

from baton.conditions.models import LeadEvent
from baton.core import clock
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.selectors import history_for
from baton.core.testing import factories as f
from baton.rules import selectors, services
from baton.rules.models import RuleRun, RuleType, RuleVersion, ScoringRule, TaggingRule

pytestmark = pytest.mark.django_db

SOURCE_REFERRAL = {"all": [{"field": "source", "op": "eq", "value": "referral"}]}
BIG_BUDGET = {"all": [{"field": "budget", "op": "gt", "value": 200000}]}


def scoring(points, condition=None, **extra):
    return services.rule_create(rule_type=RuleType.SCORING, actor=None, name=f"+{points}", points=points,
                                condition=condition or {}, reevaluate=False, **extra)


def test_score_explanation_lists_fired_rules_with_versions():
    referral = scoring(25, SOURCE_REFERRAL)
    big = scoring(30, BIG_BUDGET)
    scoring(15, {"all": [{"field": "source", "op": "eq", "value": "trade_show"}]})
    big = services.rule_update(rule=big, actor=None, points=40, reevaluate=False)
    assert big.version == 2
    lead = f.lead(source="referral", budget=Decimal("300000"))

    result = services.lead_evaluate(lead=lead)

    assert result["score"] == 65
    lead.refresh_from_db()
    assert lead.score == 65 and lead.grade == "B"
    explanation = selectors.lead_explanations(lead)["score_explanation"]
    assert {(e["rule_id"], e["version"], e["points"]) for e in explanation} == {
        (referral.pk, 1, 25), (big.pk, 2, 40)}
    # the version named in the explanation is stored as a snapshot
    snap = RuleVersion.objects.get(rule_type="scoring", rule_id=big.pk, version=2).snapshot
    assert snap["points"] == 40


def test_score_is_clamped_to_0_100():
    scoring(80, SOURCE_REFERRAL)
    scoring(70, SOURCE_REFERRAL)
    high = f.lead(source="referral")
    assert services.lead_evaluate(lead=high)["score"] == 100
    scoring(-50, {"all": [{"field": "source", "op": "eq", "value": "phone"}]})
    low = f.lead(source="phone")
    assert services.lead_evaluate(lead=low)["score"] == 0


@pytest.mark.parametrize("points,grade", [(84, "B"), (85, "A"), (60, "B"), (59, "C"), (0, "C")])
def test_grade_bands(points, grade):
    scoring(points)
    lead = f.lead()
    assert services.lead_evaluate(lead=lead)["grade"] == grade


def test_grade_bands_can_be_changed_and_are_versioned():
    ops = f.user(roles=("ops",))
    bands = services.grade_bands_update(actor=ops, a_min=90, b_min=50, reevaluate=False)
    assert bands.version == 2
    scoring(88)
    assert services.lead_evaluate(lead=f.lead())["grade"] == "B"
    with pytest.raises(ValidationFailed):
        services.grade_bands_update(actor=ops, a_min=50, b_min=60)
    with pytest.raises(PermissionDenied):
        services.grade_bands_update(actor=f.user(roles=("rep",)), a_min=80, b_min=50)


def test_behaviour_points_decay_with_half_life():
    start = clock.parse_now("2026-03-02T10:00:00")
    rule = scoring(40, kind="behaviour", event_kind="page_view", half_life_hours=24)
    with clock.frozen(start):
        lead = f.lead()
        LeadEvent.objects.create(lead=lead, type="page_view", occurred_at=start)
        assert services.lead_evaluate(lead=lead)["score"] == 40
    with clock.frozen(start + timedelta(hours=24)):
        assert services.lead_evaluate(lead=lead)["score"] == 20
    with clock.frozen(start + timedelta(hours=48)):
        result = services.lead_evaluate(lead=lead)
        assert result["score"] == 10
        assert result["score_explanation"][0]["rule_id"] == rule.pk
        assert result["score_explanation"][0]["points"] == 10.0
        # a new event restarts the clock from the most recent one
        LeadEvent.objects.create(lead=lead, type="page_view", occurred_at=start + timedelta(hours=48))
        assert services.lead_evaluate(lead=lead)["score"] == 40


def test_behaviour_rule_ignores_leads_without_event():
    scoring(40, kind="behaviour", event_kind="page_view", half_life_hours=24)
    lead = f.lead()
    LeadEvent.objects.create(lead=lead, type="email_open")
    assert services.lead_evaluate(lead=lead)["score"] == 0


def test_tagging_rules_add_tags_and_remove_them_when_rule_stops_matching():
    services.rule_create(rule_type=RuleType.TAGGING, actor=None, name="Big", condition=BIG_BUDGET,
                         tags=["大客户"], reevaluate=False)
    manual = f.tag("手动")
    lead = f.lead(budget=Decimal("500000"), tags=[manual])
    result = services.lead_evaluate(lead=lead)
    assert set(result["tags"]) == {"大客户", "手动"}
    assert {t.name for t in lead.tags.all()} == {"大客户", "手动"}
    lead.budget = Decimal("1000")
    lead.save()
    services.lead_evaluate(lead=lead)
    assert {t.name for t in lead.tags.all()} == {"手动"}
    assert selectors.lead_explanations(lead)["tag_explanation"] == []


def test_changes_are_in_the_lead_history():
    scoring(25, SOURCE_REFERRAL)
    lead = f.lead(source="referral")
    services.lead_evaluate(lead=lead, source="job")
    entry = history_for(lead).first()
    assert entry.changes["score"] == [0, 25]
    assert entry.changes["grade"] == ["", "C"]
    # re-evaluating without any change writes no history
    services.lead_evaluate(lead=lead)
    assert history_for(lead).count() == 1


def test_invalid_condition_is_refused_with_a_path():
    with pytest.raises(ValidationFailed) as exc:
        services.rule_create(rule_type=RuleType.SCORING, actor=None, name="bad", points=5,
                             condition={"all": [{"field": "nope", "op": "eq", "value": 1}]})
    assert any(field and field.startswith("condition") for field, _msg in exc.value.errors)


def test_only_ops_edit_rules():
    with pytest.raises(PermissionDenied):
        services.rule_create(rule_type=RuleType.SCORING, actor=f.user(roles=("manager",)), name="x", points=1)


def test_defaults_install_is_idempotent():
    f.industry(name="制造业", code="manufacturing")
    first = services.rules_install_defaults()
    assert first["scoring"] == 6 and first["tagging"] >= 8 + 1 + 3
    again = services.rules_install_defaults()
    assert again == {"tagging": 0, "scoring": 0}
    lead = f.lead(source="referral", budget=Decimal("300000"), phone="13800000000")
    result = services.lead_evaluate(lead=lead)
    assert result["score"] == 25 + 30 + 10
    assert set(TaggingRule.objects.get(key="budget.large").tags) <= set(result["tags"])  # "预算 > 20 万"
    assert TaggingRule.objects.filter(key="budget.large").exists()
    assert ScoringRule.objects.get(key="score.page_view").kind == "behaviour"


def test_rule_run_reevaluates_open_leads_and_records_progress():
    leads = [f.lead(source="referral") for _ in range(3)]
    closed = f.lead(source="referral", status="converted")
    rule = scoring(25, SOURCE_REFERRAL)
    run = services.rule_run_start(rule_type=RuleType.SCORING, rule_id=rule.pk, version=1)
    run = services.rule_run_execute(run_id=run.pk)
    assert (run.status, run.total, run.done) == (RuleRun.Status.DONE, 3, 3)
    for lead in leads:
        lead.refresh_from_db()
        assert lead.score == 25
    closed.refresh_from_db()
    assert closed.score == 0


@pytest.fixture
def huey_immediate():
    from huey.contrib.djhuey import HUEY

    old = HUEY.immediate
    HUEY.immediate = True
    yield HUEY
    HUEY.immediate = old


def test_saving_a_rule_reevaluates_open_leads_through_the_queue(huey_immediate):
    from django.test import TestCase

    lead = f.lead(source="referral")
    with TestCase.captureOnCommitCallbacks(execute=True):
        rule = services.rule_create(rule_type=RuleType.SCORING, actor=f.user(roles=("ops",)), name="ref",
                                    points=25, condition=SOURCE_REFERRAL)
    run = RuleRun.objects.get(rule_type="scoring", rule_id=rule.pk)
    assert (run.status, run.total, run.done, run.rule_version) == ("done", 1, 1, 1)
    lead.refresh_from_db()
    assert lead.score == 25
