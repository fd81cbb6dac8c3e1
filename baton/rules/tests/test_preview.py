import random
from collections import Counter
from decimal import Decimal

import pytest

from baton.conditions.models import LeadEvent
from baton.core.testing import factories as f
from baton.leads.models import OPEN_LEAD_STATUSES, Lead
from baton.rules import services
from baton.rules.models import RuleType

pytestmark = pytest.mark.django_db

REFERRAL = {"all": [{"field": "source", "op": "eq", "value": "referral"}]}
BIG = {"all": [{"field": "budget", "op": "gt", "value": 100000}]}


def _grades(qs):
    return Counter(qs.filter(status__in=OPEN_LEAD_STATUSES).values_list("grade", flat=True))


def _evaluate_all():
    for lead in Lead.objects.all():
        services.lead_evaluate(lead=lead)


@pytest.fixture
def population():
    rnd = random.Random(7)
    ind = f.industry(code="manufacturing")
    for i in range(60):
        lead = f.lead(source=rnd.choice(["referral", "trade_show", "web_form", "phone"]),
                      budget=Decimal(rnd.choice([0, 30000, 90000, 150000, 400000])),
                      status=rnd.choice(["new", "new", "assigned", "converted"]))
        if i % 3 == 0:
            lead.industries.add(ind)
        if i % 4 == 0:
            LeadEvent.objects.create(lead=lead, type="page_view")
    services.rule_create(rule_type=RuleType.SCORING, actor=None, name="referral", points=40, condition=REFERRAL,
                         reevaluate=False)
    services.rule_create(rule_type=RuleType.SCORING, actor=None, name="industry", points=30, reevaluate=False,
                         condition={"all": [{"field": "industries", "op": "has_any", "value": ["manufacturing"]}]})
    _evaluate_all()


def _brute_force(before):
    _evaluate_all()
    after = _grades(Lead.objects.all())
    return {g: after[g] - before[g] for g in "ABC"}


def test_preview_of_a_new_static_rule_equals_applying_it(population):
    ops = f.user(roles=("ops",))
    preview = services.rule_preview("lead", RuleType.SCORING, BIG, 25, user=ops)
    expected_matches = Lead.objects.filter(status__in=OPEN_LEAD_STATUSES, budget__gt=100000).count()
    assert preview["matches"] == expected_matches > 0
    before = _grades(Lead.objects.all())
    services.rule_create(rule_type=RuleType.SCORING, actor=None, name="big", points=25, condition=BIG,
                         reevaluate=False)
    assert preview["grade_changes"] == _brute_force(before)
    assert any(preview["grade_changes"].values())


def test_preview_of_a_changed_rule_equals_applying_it(population):
    ops = f.user(roles=("ops",))
    rule = services.rule_create(rule_type=RuleType.SCORING, actor=None, name="big", points=25, condition=BIG,
                                reevaluate=False)
    _evaluate_all()
    before = _grades(Lead.objects.all())
    new_condition = {"all": [{"field": "source", "op": "in", "value": ["trade_show", "referral"]}]}
    preview = services.rule_preview("lead", RuleType.SCORING, new_condition, 20, user=ops, rule_id=rule.pk)
    services.rule_update(rule=rule, actor=None, points=20, condition=new_condition, reevaluate=False)
    assert preview["grade_changes"] == _brute_force(before)


def test_preview_of_a_behaviour_rule_equals_applying_it(population):
    ops = f.user(roles=("ops",))
    before = _grades(Lead.objects.all())
    preview = services.rule_preview("lead", RuleType.SCORING, {}, 30, user=ops, kind="behaviour",
                                    event_kind="page_view", half_life_hours=48)
    expected = Lead.objects.filter(status__in=OPEN_LEAD_STATUSES, events__type="page_view").distinct().count()
    assert preview["matches"] == expected > 0
    services.rule_create(rule_type=RuleType.SCORING, actor=None, name="visits", points=30, condition={},
                         kind="behaviour", event_kind="page_view", half_life_hours=48, reevaluate=False)
    assert preview["grade_changes"] == _brute_force(before)


def test_preview_counts_only_leads_the_user_sees(population):
    rep = f.user(roles=("rep",))
    Lead.objects.filter(pk__in=Lead.objects.filter(source="referral").values("pk")[:3]).update(owner=rep)
    preview = services.rule_preview("lead", RuleType.TAGGING, REFERRAL, user=rep)
    assert preview["matches"] == Lead.objects.filter(owner=rep, status__in=OPEN_LEAD_STATUSES).count()


# --- The preview's arithmetic against a lead-by-lead recount over the same stored evaluations --------------

EDGE_RAWS = [-40.0, -0.5, 0.0, 0.4999, 10.0, 39.49, 39.5, 59.49, 59.5, 64.5, 84.49, 84.5, 99.5, 100.5, 140.0]


@pytest.fixture
def stored_scores():
    """Open and closed leads whose stored evaluations sit on and around every rounding and clamping edge
    (raw below 0 and above 100, halves), some with no evaluation, a blank grade, a grade edited by hand and a
    score edited by hand (the evaluation's raw score stays the baseline: re-evaluation overwrites both)."""
    from baton.rules.models import LeadEvaluation

    rnd = random.Random(3)
    ind = f.industry(code="medical")
    bands = services.grade_bands_get()
    for i in range(150):
        lead = f.lead(source=rnd.choice(["referral", "trade_show", "web_form", "phone"]),
                      budget=rnd.choice([None, Decimal(30000), Decimal(250000)]),
                      status=rnd.choice(["new", "assigned", "contacted", "qualified", "converted", "disqualified"]))
        if i % 4 == 0:
            lead.industries.add(ind)
        if i % 10 == 9:  # never evaluated: its stored score is the baseline
            Lead.objects.filter(pk=lead.pk).update(score=rnd.randrange(0, 101), grade=rnd.choice("ABC"))
            continue
        raw = rnd.choice(EDGE_RAWS) + (0 if i % 3 else rnd.randrange(-3, 4))
        score = services.score_from_raw(raw)
        grade = "" if i % 17 == 0 else "A" if i % 19 == 0 else bands.grade_for(score)
        if i % 23 == 0:
            score = 100 - score
        Lead.objects.filter(pk=lead.pk).update(score=score, grade=grade)
        LeadEvaluation.objects.create(lead=lead, raw_score=raw)


def _recount(condition, points, *, user=None, old=None):
    """What the preview promises, one lead at a time in Python: each open lead the user sees, its stored raw
    score (or its score when never evaluated), plus the rule's points where it matches, minus the old rule's
    points where the old version matched."""
    from baton.core import scoping
    from baton.rules import conditions

    bands = services.grade_bands_get()
    new_pred = conditions.to_predicate(Lead, condition)
    old_pred = conditions.to_predicate(Lead, old.condition) if old is not None and old.active else None
    leads = Lead.objects.filter(status__in=OPEN_LEAD_STATUSES).select_related("evaluation")
    if user is not None:
        leads = scoping.restrict(leads, user, "view")
    before, after, matches = Counter(), Counter(), 0
    for lead in leads.prefetch_related("tags", "industries"):
        evaluation = getattr(lead, "evaluation", None)
        raw = evaluation.raw_score if evaluation is not None else float(lead.score)
        if new_pred(lead):
            matches += 1
            raw += points
        if old_pred is not None and old_pred(lead):
            raw -= old.points
        before[lead.grade] += 1
        after[bands.grade_for(services.score_from_raw(raw))] += 1
    return {"matches": matches, "grade_changes": {g: after[g] - before[g] for g in "ABC"}}


@pytest.mark.parametrize("condition", [
    BIG, REFERRAL, {}, {"field": "budget", "op": "is_null", "value": True},
    {"any": [{"field": "source", "op": "eq", "value": "phone"},
             {"field": "industries", "op": "has_any", "value": ["medical"]}]},  # needs a join
])
@pytest.mark.parametrize("points", [20, -25, 1])
def test_preview_counts_equal_a_recount_lead_by_lead(stored_scores, condition, points):
    preview = services.rule_preview("lead", RuleType.SCORING, condition, points, user=None)
    assert preview == _recount(condition, points)


@pytest.mark.parametrize(("a_min", "b_min"), [(85, 60), (100, 0), (1, 0), (61, 60)])
def test_preview_counts_equal_a_recount_for_a_changed_rule_and_other_bands(stored_scores, a_min, b_min):
    services.grade_bands_update(actor=None, a_min=a_min, b_min=b_min, reevaluate=False)
    rule = services.rule_create(rule_type=RuleType.SCORING, actor=None, name="big", points=30, condition=BIG,
                                reevaluate=False)
    ops = f.user(roles=("ops",))
    rep = f.user(roles=("rep",))
    Lead.objects.filter(pk__in=Lead.objects.values("pk")[:40]).update(owner=rep)
    for user in (None, ops, rep):
        preview = services.rule_preview("lead", RuleType.SCORING, REFERRAL, -15, user=user, rule_id=rule.pk)
        assert preview == _recount(REFERRAL, -15, user=user, old=rule)
        assert preview["matches"] > 0
    assert any(services.rule_preview("lead", RuleType.SCORING, REFERRAL, 40, user=None)["grade_changes"].values())
