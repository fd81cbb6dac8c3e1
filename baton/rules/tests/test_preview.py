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
