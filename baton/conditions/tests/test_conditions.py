"""The condition language: validation messages, every operator through both paths, clock, events, explain."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from baton.conditions import compiler
from baton.conditions.models import CustomField, LeadEvent
from baton.conditions.registry import fields_for
from baton.conditions.selectors import with_relations
from baton.core import clock
from baton.core.errors import ValidationFailed
from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.opportunities.models import Opportunity

NOW = clock.parse_now("2025-03-10T12:00:00+08:00")
pytestmark = pytest.mark.django_db


def both(model, cond, rows=None):
    """The rows matching `cond`, checked to be the same through the Q and the predicate."""
    in_db = set(model.objects.filter(compiler.to_q(model, cond)).values_list("pk", flat=True))
    pred = compiler.to_predicate(model, cond)
    rows = rows if rows is not None else list(with_relations(model.objects.all()))
    in_python = {r.pk for r in rows if pred(r)}
    assert in_db == in_python, cond
    return in_db


@pytest.fixture
def leads():
    it, edu = f.make_industry(code="it"), f.make_industry(code="edu")
    hot = f.tag(name="hot")
    with clock.frozen(NOW):
        a = f.make_lead(company="Acme 北京科技", score=80, budget=Decimal("5000.50"), grade="A", industries=[it],
                        tags=[hot], created_at=NOW - timedelta(hours=30),
                        custom_fields={"size": 120, "tier": "gold", "since": "2024-05-01", "vip": True,
                                       "channels": ["web", "phone"], "ratio": 0.75,
                                       "seen": "2025-03-10T02:00:00Z"})
        b = f.make_lead(company="acme trading", score=20, budget=None, grade="", industries=[it, edu],
                        created_at=NOW - timedelta(hours=1), custom_fields={"size": 8, "tier": "silver"})
        c = f.make_lead(company="ÄBC 上海", score=50, budget=Decimal("100"), created_at=NOW - timedelta(days=20),
                        custom_fields={"size": "12", "vip": False, "channels": []})
    for key, type_ in [("size", "number"), ("ratio", "decimal"), ("tier", "choice"), ("since", "date"),
                       ("vip", "bool"), ("channels", "multi_choice"), ("seen", "datetime"), ("note", "text")]:
        opts = [{"value": v} for v in ("gold", "silver", "web", "phone", "mail")] if "choice" in type_ else []
        CustomField.objects.create(target="lead", key=key, label_zh=key, label_en=key, type=type_, choices=opts)
    return a, b, c


def ids(*rows):
    return {r.pk for r in rows}


# --- Validation --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cond,path,text", [
    ({"all": [{"field": "score", "op": "gt", "value": 1}, {"field": "nope", "op": "eq", "value": 1}]},
     "all[1].field", "Unknown field"),
    ({"all": [{"field": "score", "op": "contains", "value": "1"}]}, "all[0].op", "cannot be used"),
    ({"any": [{"field": "score", "op": "zz", "value": 1}]}, "any[0].op", "Unknown operator"),
    ({"all": [{"field": "score", "op": "gt", "value": 1}, {"field": "score", "op": "gt", "value": "x"}]},
     "all[1].value", "whole number"),
    ({"not": {"field": "status", "op": "eq", "value": "bogus"}}, "not.value", "not one of the choices"),
    ({"field": "budget", "op": "gt", "value": "1.005"}, "value", "decimal places"),
    ({"field": "created_at", "op": "within_last", "value": "2 days"}, "value", "duration"),
    ({"field": "created_at", "op": "within_last", "value": "P1M"}, "value", "duration"),
    ({"field": "score", "op": "between", "value": [5, 1]}, "value", "greater than"),
    ({"field": "industries", "op": "has_any", "value": []}, "value", "non-empty list"),
    ({"field": "score", "op": "is_null", "value": "yes"}, "value", "true or false"),
    ({"all": {"field": "score"}}, "all", "list"),
    ({"field": "score", "all": []}, "", "exactly one"),
    ([1], "", "object"),
    ({"event": {"type": "page_view"}, "within": "P14D", "op": "gte", "value": -1}, "value", "events"),
    ({"event": {"type": "page_view", "where": {"a b": 1}}, "within": "P1D", "op": "gte", "value": 1},
     "event.where.a b", "Payload keys"),
])
def test_validation_names_the_path_and_the_problem(cond, path, text):
    with translation.override("en"):
        errors = compiler.validate(Lead, cond)
    assert errors, cond
    assert errors[0][0] == path
    assert text in errors[0][1]
    with pytest.raises(ValidationFailed) as exc, translation.override("en"):
        compiler.validate_or_raise(Lead, cond)
    assert exc.value.errors == errors


def test_validation_messages_follow_the_users_language():
    with translation.override("en"):
        en = compiler.validate(Lead, {"field": "nope", "op": "eq", "value": 1})[0][1]
    assert en == "Unknown field “nope”."
    with translation.override("en"):
        assert "“Score”" in compiler.validate(Lead, {"field": "score", "op": "has_any", "value": [1]})[0][1]
    with translation.override("zh-hans"):
        assert "“评分”" in compiler.validate(Lead, {"field": "score", "op": "has_any", "value": [1]})[0][1]


def test_custom_fields_join_the_registry_only_while_active(leads):
    names = fields_for(Lead)
    assert names["custom.tier"].operators == ["eq", "ne", "in", "not_in", "is_null"]
    assert names["custom.channels"].type == "multi"
    CustomField.objects.filter(key="tier").update(active=False)
    assert "custom.tier" not in fields_for(Lead)
    assert compiler.validate(Lead, {"field": "custom.tier", "op": "eq", "value": "gold"})[0][0] == "field"


def test_the_registry_covers_accounts_and_opportunities():
    assert {"amount", "stage", "pipeline", "probability", "expected_close_date", "account.industries",
            "owner.team", "owner.region"} <= set(fields_for(Opportunity))
    assert {"source", "external_id", "age_hours", "account.industries", "utm_campaign"} <= set(fields_for(Lead))


# --- Operators, both paths ------------------------------------------------------------------------------
@pytest.mark.parametrize("cond,expected", [
    ({"field": "score", "op": "eq", "value": 80}, "a"),
    ({"field": "score", "op": "ne", "value": 80}, "bc"),
    ({"field": "score", "op": "in", "value": [20, 50]}, "bc"),
    ({"field": "score", "op": "not_in", "value": [20, 50]}, "a"),
    ({"field": "score", "op": "gt", "value": 50}, "a"),
    ({"field": "score", "op": "gte", "value": 50}, "ac"),
    ({"field": "score", "op": "lt", "value": 50}, "b"),
    ({"field": "score", "op": "lte", "value": 50}, "bc"),
    ({"field": "score", "op": "between", "value": [20, 50]}, "bc"),
    ({"field": "budget", "op": "gt", "value": "100"}, "a"),
    ({"field": "budget", "op": "gte", "value": 100}, "ac"),
    ({"field": "budget", "op": "eq", "value": "5000.5"}, "a"),
    ({"field": "budget", "op": "ne", "value": 100}, "ab"),  # an empty budget is "not 100"
    ({"field": "budget", "op": "is_null", "value": True}, "b"),
    ({"field": "budget", "op": "is_null", "value": False}, "ac"),
    ({"field": "grade", "op": "is_null", "value": True}, "bc"),
    ({"field": "grade", "op": "ne", "value": "A"}, "bc"),
    ({"field": "company", "op": "contains", "value": "Acme"}, "a"),  # case-sensitive on SQLite too
    ({"field": "company", "op": "icontains", "value": "ACME"}, "ab"),
    ({"field": "company", "op": "icontains", "value": "北京"}, "a"),
    ({"field": "company", "op": "icontains", "value": "äbc"}, ""),  # only A-Z fold
    ({"field": "company", "op": "icontains", "value": "Äbc"}, "c"),
    ({"field": "company", "op": "startswith", "value": "acme"}, "b"),
    ({"field": "company", "op": "eq", "value": "acme trading"}, "b"),
    ({"field": "industries", "op": "has_any", "value": ["edu", "it"]}, "ab"),
    ({"field": "industries", "op": "has_all", "value": ["edu", "it"]}, "b"),
    ({"field": "industries", "op": "is_null", "value": True}, "c"),
    ({"field": "tags", "op": "has_any", "value": ["hot"]}, "a"),
    ({"field": "created_at", "op": "within_last", "value": "P1D"}, "b"),
    ({"field": "created_at", "op": "older_than", "value": "P14D"}, "c"),
    ({"field": "created_at", "op": "lt", "value": "2025-03-10T00:00:00+08:00"}, "ac"),
    ({"field": "age_hours", "op": "gt", "value": 24}, "ac"),
    ({"field": "age_hours", "op": "between", "value": [1, 30]}, "ab"),
    ({"field": "assigned_at", "op": "is_null", "value": True}, "abc"),
    ({"field": "custom.size", "op": "gt", "value": 10}, "a"),  # "12" is text, not a number: empty
    ({"field": "custom.size", "op": "is_null", "value": True}, "c"),
    ({"field": "custom.size", "op": "in", "value": [8, 120]}, "ab"),
    ({"field": "custom.ratio", "op": "between", "value": ["0.5", "1"]}, "a"),
    ({"field": "custom.tier", "op": "eq", "value": "gold"}, "a"),
    ({"field": "custom.tier", "op": "ne", "value": "gold"}, "bc"),
    ({"field": "custom.tier", "op": "not_in", "value": ["gold", "silver"]}, "c"),
    ({"field": "custom.since", "op": "lt", "value": "2024-06-01"}, "a"),
    ({"field": "custom.since", "op": "eq", "value": "2024-05-01"}, "a"),
    ({"field": "custom.vip", "op": "eq", "value": False}, "c"),
    ({"field": "custom.vip", "op": "ne", "value": True}, "bc"),
    ({"field": "custom.vip", "op": "is_null", "value": True}, "b"),
    ({"field": "custom.channels", "op": "has_any", "value": ["phone", "mail"]}, "a"),
    ({"field": "custom.channels", "op": "has_all", "value": ["phone", "web"]}, "a"),
    ({"field": "custom.channels", "op": "is_null", "value": True}, "bc"),
    ({"field": "custom.seen", "op": "within_last", "value": "PT1H"}, ""),
    ({"field": "custom.seen", "op": "within_last", "value": "PT3H30M"}, "a"),
    ({"field": "custom.seen", "op": "older_than", "value": "PT1H"}, "a"),
    ({"field": "custom.note", "op": "is_null", "value": True}, "abc"),
    ({"field": "custom.note", "op": "contains", "value": "x"}, ""),
    ({"not": {"any": [{"field": "score", "op": "gt", "value": 60}, {"field": "budget", "op": "is_null",
                                                                     "value": True}]}}, "c"),
    ({"all": []}, "abc"),
    ({"any": []}, ""),
    ({"any": [{"all": []}, {"field": "score", "op": "eq", "value": 0}]}, "abc"),
    ({"not": {"all": []}}, ""),
    ({"field": "budget", "op": "is_empty"}, "b"),
])
def test_each_operator_gives_the_same_answer_through_q_and_predicate(leads, cond, expected):
    a, b, c = leads
    by_name = {"a": a, "b": b, "c": c}
    with clock.frozen(NOW):
        assert both(Lead, cond) == {by_name[ch].pk for ch in expected}


def test_opportunity_fields(db):
    rep = f.make_user(team=f.make_team())
    it = f.make_industry(code="it")
    acc = f.make_account(industries=[it])
    big = f.make_opportunity(owner=rep, account=acc, amount=Decimal("500000"))
    small = f.make_opportunity(amount=Decimal("1000"))
    stage_name = big.stage.name
    assert both(Opportunity, {"field": "amount", "op": "gte", "value": 100000}) == {big.pk}
    assert both(Opportunity, {"field": "account.industries", "op": "has_any", "value": ["it"]}) == {big.pk}
    assert both(Opportunity, {"field": "owner.team", "op": "eq", "value": rep.team_id}) == {big.pk}
    assert both(Opportunity, {"field": "owner.team", "op": "ne", "value": rep.team_id}) == {small.pk}
    assert both(Opportunity, {"field": "stage", "op": "eq", "value": stage_name}) == {big.pk, small.pk}


# --- Clock ------------------------------------------------------------------------------------------------
def test_time_operators_follow_the_injected_clock(leads):
    a, b, c = leads
    cond = {"field": "created_at", "op": "within_last", "value": "P2D"}
    with clock.frozen(NOW):
        assert both(Lead, cond) == ids(a, b)
    with clock.frozen(NOW + timedelta(days=1, hours=8)):
        assert both(Lead, cond) == ids(b)
        assert both(Lead, {"field": "age_hours", "op": "gte", "value": 33}) == ids(b, a, c)
    pred = compiler.to_predicate(Lead, {"field": "age_hours", "op": "lt", "value": 2})
    with clock.frozen(NOW):
        assert pred(b)
    with clock.frozen(NOW + timedelta(hours=2)):  # the predicate reads the clock when called
        assert not pred(b)


# --- Behaviour ---------------------------------------------------------------------------------------------
def test_event_leaf_counts_matching_events_in_the_window(leads):
    a, b, c = leads
    for days, page in [(1, "/pricing"), (3, "/pricing"), (10, "/pricing"), (20, "/pricing"), (2, "/home")]:
        LeadEvent.objects.create(lead=a, type="page_view", occurred_at=NOW - timedelta(days=days),
                                 payload={"page": page})
    LeadEvent.objects.create(lead=b, type="page_view", occurred_at=NOW - timedelta(hours=1),
                             payload={"page": "/pricing", "n": 1})
    LeadEvent.objects.create(lead=b, type="page_view", occurred_at=NOW + timedelta(hours=1),
                             payload={"page": "/pricing"})  # in the future: not counted
    cond = {"event": {"type": "page_view", "where": {"page": "/pricing"}}, "within": "P14D", "op": "gte",
            "value": 3}
    with clock.frozen(NOW):
        assert both(Lead, cond) == ids(a)
        assert both(Lead, {**cond, "value": 1}) == ids(a, b)
        assert both(Lead, {**cond, "op": "eq", "value": 0}) == ids(c)
        assert both(Lead, {"event": {"type": "page_view", "where": {"n": 1}}, "within": "P1D", "op": "gte",
                           "value": 1}) == ids(b)
        assert both(Lead, {"event": {"type": "page_view", "where": {"n": "1"}}, "within": "P1D", "op": "gte",
                           "value": 1}) == set()  # "1" is not 1
    with clock.frozen(NOW + timedelta(days=5)):
        assert both(Lead, cond) == set()


def test_event_leaf_is_for_leads_only():
    cond = {"event": {"type": "x"}, "within": "P1D", "op": "gte", "value": 1}
    assert compiler.validate(Opportunity, cond)[0][0] == "event"


# --- Explain ------------------------------------------------------------------------------------------------
def test_explain_lists_every_leaf_with_its_actual_value(leads):
    a, _b, _c = leads
    cond = {"all": [{"field": "score", "op": "gte", "value": 60},
                    {"any": [{"field": "industries", "op": "has_any", "value": ["edu"]},
                             {"not": {"field": "custom.tier", "op": "eq", "value": "silver"}}]}]}
    with clock.frozen(NOW), translation.override("en"):
        out = compiler.explain(Lead, cond, a)
    assert out["result"] is True
    assert [(r["path"], r["actual"], r["result"]) for r in out["leaves"]] == [
        ("all[0]", 80, True), ("all[1].any[0]", ["it"], False), ("all[1].any[1].not", "gold", False)]
    assert out["leaves"][0]["label"] == "Score"
