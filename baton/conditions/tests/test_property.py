"""The Q and the predicate give the same answer on random conditions and random leads (SQLite and PostgreSQL).

Runs on whichever database is configured: `.venv/bin/pytest baton/conditions` (SQLite) and with
DATABASE_URL=postgres://... (PostgreSQL).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.conditions import compiler
from baton.conditions.models import CustomField, LeadEvent
from baton.conditions.registry import fields_for
from baton.conditions.selectors import with_relations
from baton.core import clock
from baton.core.testing import factories as f
from baton.leads.models import Grade, Lead, LeadSource, LeadStatus

NOW = clock.parse_now("2025-03-10T12:00:00+08:00")
TEXTS = ["", "Acme", "acme", "ACME Corp", "北京科技有限公司", "北京", "Straße", "STRASSE", "ÄBC", "äbc", "x%_y",
         "Ωmega", "ωmega", "  pad "]
NEEDLES = ["Acme", "acme", "ACM", "北京", "科技", "äb", "ÄB", "%", "_", "Corp", "ß", "SS", "ω", "Ω", " pad", "x"]
DURATIONS = ["PT30M", "PT1H", "PT2H", "P1D", "P1W", "P14D", "P1DT12H"]
HOURS = [0, 1, Decimal("2.5"), 24, 48, 200, 336]
BUDGETS = [None, Decimal("0"), Decimal("1.50"), Decimal("100"), Decimal("100.01"), Decimal("99999.99")]
CHOICES = [{"value": v, "label_zh": v, "label_en": v} for v in ("red", "green", "blue")]
EVENT_TYPES = ["page_view", "form_submit"]
PAGES = ["/pricing", "/home"]


def _ts_values():
    return [(NOW + timedelta(hours=h)) for h in (-400, -200, -49, -24, -2, -1, -0.5, 0, 1)]


def _dt_strings():
    return [compiler.format_utc(t) for t in _ts_values()] + ["2025-03-10T12:00:00+08:00"]


@pytest.fixture
def world(db):
    industries = [f.make_industry(code=c) for c in ("it", "edu", "mfg")]
    tags = [f.tag(name=n) for n in ("hot", "vip", "重点")]
    regions = [f.make_region(code=c) for c in ("east", "north")]
    teams = [f.make_team(region=r) for r in regions]
    users = [f.make_user(team=t) for t in teams] + [f.make_user()]
    accounts = [None, f.make_account(industries=industries[:2]), f.make_account(industries=[])]
    for key, type_ in [("t", "text"), ("n", "number"), ("d", "decimal"), ("day", "date"), ("ts", "datetime"),
                       ("b", "bool"), ("c", "choice"), ("m", "multi_choice")]:
        CustomField.objects.create(target="lead", key=key, label_zh=key, label_en=key, type=type_,
                                   choices=CHOICES if "choice" in type_ else [])
    return {"industries": industries, "tags": tags, "regions": regions, "users": users, "accounts": accounts}


def _custom_values():
    """Custom values as they might sit in JSON, including wrong types (which must read as empty)."""
    return st.fixed_dictionaries({}, optional={
        "t": st.sampled_from(TEXTS + [5, None]),
        "n": st.sampled_from([0, 1, 5, 100, -3, 2.5, "5", True, None]),
        "d": st.sampled_from([0, 1.5, 100.01, 100, -0.25, "1.5", False]),
        "day": st.sampled_from(["2025-01-01", "2025-03-10", "2024-12-31", "", 20250101]),
        "ts": st.sampled_from(_dt_strings() + [""]),
        "b": st.sampled_from([True, False, "true", 1, None]),
        "c": st.sampled_from(["red", "green", "blue", "", ["red"]]),
        "m": st.sampled_from([[], ["red"], ["red", "green"], ["blue"], "red", [1, "green"], None]),
    })


def lead_specs(world):
    dt = st.sampled_from(_ts_values())
    event = st.fixed_dictionaries({
        "type": st.sampled_from(EVENT_TYPES),
        "at": st.sampled_from([NOW - timedelta(days=d) for d in (0, 0.5, 1, 3, 13.9, 14, 15, 30)] + [NOW]),
        "payload": st.fixed_dictionaries({}, optional={"page": st.sampled_from(PAGES + [1]),
                                                       "n": st.sampled_from([1, 2, 2.0, True, "1"])}),
    })
    return st.fixed_dictionaries({
        "status": st.sampled_from(LeadStatus.values), "source": st.sampled_from(LeadSource.values),
        "grade": st.sampled_from(Grade.values + [""]), "score": st.integers(0, 100),
        "budget": st.sampled_from(BUDGETS), "company": st.sampled_from(TEXTS),
        "contact_name": st.sampled_from(TEXTS), "utm_campaign": st.sampled_from(["", "spring", "Spring"]),
        "created_at": dt, "assigned_at": st.one_of(st.none(), dt), "last_activity_at": st.one_of(st.none(), dt),
        "owner": st.sampled_from([None, *world["users"]]), "region": st.sampled_from([None, *world["regions"]]),
        "account": st.sampled_from(world["accounts"]),
        "industries": st.lists(st.sampled_from(world["industries"]), unique=True, max_size=3),
        "tags": st.lists(st.sampled_from(world["tags"]), unique=True, max_size=3),
        "custom_fields": _custom_values(),
        "events": st.lists(event, max_size=4),
    })


def _value(fd, op, world):
    t = fd.type
    if op == "is_null":
        return st.booleans()
    if op in ("within_last", "older_than"):
        return st.sampled_from(DURATIONS)
    if fd.kind == "age":
        one = st.sampled_from(HOURS).map(lambda h: str(h) if isinstance(h, Decimal) else h)
    elif t == "text":
        one = st.sampled_from(NEEDLES if op in ("contains", "icontains", "startswith") else [x for x in TEXTS if x])
    elif t in ("choice", "multi"):
        one = st.sampled_from(sorted(fd.choice_values()))
    elif t == "number":
        one = st.sampled_from([0, 1, 5, 50, 100, -3])
    elif t == "decimal":
        one = st.sampled_from(["0", "1.5", "100", "100.01", 2.5, 1])
    elif t == "date":
        one = st.sampled_from(["2025-01-01", "2025-03-10", "2024-12-31"])
    elif t == "datetime":
        one = st.sampled_from(_dt_strings())
    elif t == "bool":
        one = st.booleans()
    elif t == "ref":
        one = st.sampled_from([u.pk for u in world["users"]] + [t.team_id for t in world["users"] if t.team_id])
    else:
        raise AssertionError(t)
    if op in ("in", "not_in", "has_any", "has_all"):
        return st.lists(one, min_size=1, max_size=3)
    if op == "between":
        def ordered(pair):
            lo, hi = pair
            return [lo, hi] if compiler._scalar(fd, lo) <= compiler._scalar(fd, hi) else [hi, lo]
        return st.tuples(one, one).map(ordered)
    return one


def conditions(world):
    fields = fields_for(Lead)

    def leaf_for(name):
        fd = fields[name]
        return st.sampled_from(fd.operators).flatmap(
            lambda op: _value(fd, op, world).map(lambda v: {"field": name, "op": op, "value": v}))

    field_leaf = st.sampled_from(sorted(fields)).flatmap(leaf_for)
    event_leaf = st.fixed_dictionaries({
        "event": st.fixed_dictionaries({"type": st.sampled_from(EVENT_TYPES)}, optional={
            "where": st.fixed_dictionaries({}, optional={"page": st.sampled_from(PAGES),
                                                         "n": st.sampled_from([1, 2, True, "1"])})}),
        "within": st.sampled_from(DURATIONS),
        "op": st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        "value": st.integers(0, 3),
    })
    leaf = st.one_of(field_leaf, field_leaf, event_leaf)
    return st.recursive(leaf, lambda kids: st.one_of(
        st.lists(kids, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(kids, max_size=3).map(lambda xs: {"any": xs}),
        kids.map(lambda x: {"not": x}),
    ), max_leaves=6)


def _create(spec):
    data = {k: v for k, v in spec.items() if k not in ("industries", "tags", "events")}
    lead = Lead.objects.create(**data)
    lead.industries.set(spec["industries"])
    lead.tags.set(spec["tags"])
    for e in spec["events"]:
        LeadEvent.objects.create(lead=lead, type=e["type"], occurred_at=e["at"], payload=e["payload"])
    return lead


def test_q_and_predicate_agree_on_random_conditions(world):
    with clock.frozen(NOW):
        specs, conds = lead_specs(world), conditions(world)

        @settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
        @given(leads=st.lists(specs, max_size=6), conds=st.lists(conds, min_size=1, max_size=6))
        def check(leads, conds):
            with transaction.atomic():
                for spec in leads:
                    _create(spec)
                rows = list(with_relations(Lead.objects.all()))
                for cond in conds:
                    assert compiler.validate(Lead, cond) == []
                    in_db = set(Lead.objects.filter(compiler.to_q(Lead, cond)).values_list("pk", flat=True))
                    pred = compiler.to_predicate(Lead, cond)
                    in_python = {row.pk for row in rows if pred(row)}
                    assert in_db == in_python, cond
                transaction.set_rollback(True)

        check()
