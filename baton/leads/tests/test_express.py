"""The express write of a new lead (`leads.express`) stores exactly what the general path of `lead_create`
stores (insert, then each engine updates the row): the same lead columns, tags, evaluation, assignment,
backlog entry, pool rotation and audit history, for every kind of assignment decision. Each case runs both
paths on the same database state (each inside a transaction rolled back after its rows are read) at a
frozen time, so even the timestamps must agree."""

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from baton.assignment.models import Assignment, Pool, PoolBacklog, PoolMember
from baton.core import clock
from baton.core.defaults import install_defaults
from baton.core.models import AuditEntry, ChangeSource
from baton.core.testing import factories as f
from baton.leads import express
from baton.leads.models import Lead
from baton.leads.services import lead_create
from baton.rules.models import LeadEvaluation
from baton.rules.services import rule_create

pytestmark = pytest.mark.django_db

AT = "2026-11-20T10:15:00+08:00"


class _Rollback(Exception):
    pass


def _stored(lead_id: int) -> dict:
    """Everything a new lead leaves in the database, without ids that differ between the two runs."""
    lead = Lead.objects.get(pk=lead_id)
    row = model_to_dict(lead, exclude=["id", "tags"])
    row["industries"] = list(row["industries"])
    ev = LeadEvaluation.objects.get(lead=lead)
    return {
        "lead": row,
        "tags": sorted(t.name for t in lead.tags.all()),
        "evaluation": model_to_dict(ev, exclude=["lead"]),
        "assignments": [model_to_dict(a, exclude=["id", "lead"]) for a in Assignment.objects.filter(lead=lead)],
        "backlog": [(b.pool_id, b.since) for b in PoolBacklog.objects.filter(lead=lead)],
        "pools": sorted(Pool.objects.values_list("id", "rotation_last_user_id", "weighted_state")),
        "audit": [(a.at, a.actor_id, a.source, a.action, a.object_repr, a.changes, a.message)
                  for a in AuditEntry.objects.filter(content_type__model="lead", object_id=lead.pk).order_by("id")],
    }


def _run(data: dict, actor, *, general: bool, monkeypatch) -> tuple[dict, Lead]:
    with monkeypatch.context() as m:
        if general:
            m.setattr(express, "accepts", lambda data, actor: False)
        else:
            m.setattr(express, "lead_create_express", _counting(express.lead_create_express))
        try:
            with clock.frozen(AT), transaction.atomic():
                lead = lead_create(actor=actor, source=ChangeSource.API, **data)
                stored = _stored(lead.pk)
                raise _Rollback()
        except _Rollback:
            pass
    return stored, lead


_calls = []


def _counting(fn):
    def wrapped(**kw):
        _calls.append(1)
        return fn(**kw)
    return wrapped


def _both(data, actor, monkeypatch):
    _calls.clear()
    fast, fast_lead = _run(data, actor, general=False, monkeypatch=monkeypatch)
    assert _calls, "the express path was not taken"
    slow, slow_lead = _run(data, actor, general=True, monkeypatch=monkeypatch)
    assert fast == slow
    # the instance returned (the API answers with it) shows the same, without reading back
    for name in ("score", "grade", "status", "owner_id", "assigned_at", "status_changed_at", "updated_at"):
        assert getattr(fast_lead, name) == getattr(slow_lead, name), name
    assert [t.name for t in fast_lead.tags.all()] == sorted(fast["tags"])
    return fast


@pytest.fixture
def setup():
    install_defaults()
    Pool.objects.all().delete()  # each case builds the pools it is about
    ops = f.make_user(username="express_ops", roles=["ops"])
    reps = [f.make_user(username=f"express_rep{i}", roles=["rep"]) for i in range(3)]
    return ops, reps


LEAD = {"lead_source": "web_form", "company": "快捷测试科技有限公司", "contact_name": "王芳",
        "phone": "13900001234", "email": "wang@example.com", "budget": 250000}


def _pool(name, reps=(), cap=8, **kw):
    pool = Pool.objects.create(name=name, **kw)
    for rep in reps:
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=cap)
    return pool


def test_assigned_round_robin(setup, monkeypatch):
    ops, reps = setup
    _pool("Round robin", reps, rotation_last_user_id=reps[0].pk)
    stored = _both(LEAD, ops, monkeypatch)
    assert stored["lead"]["owner"] == reps[1].pk and stored["tags"] and stored["lead"]["score"] > 0
    assert [a[3] for a in stored["audit"]] == ["create", "update", "update"]


def test_assigned_weighted_and_least_loaded(setup, monkeypatch):
    ops, reps = setup
    _pool("Weighted", reps[:2], strategy="weighted", weighted_state={str(reps[0].pk): 1}, priority=1)
    _both(LEAD, ops, monkeypatch)
    Pool.objects.filter(name="Weighted").update(active=False)
    _pool("Least loaded", reps, strategy="least_loaded", priority=2)
    _both({**LEAD, "region": f.region()}, ops, monkeypatch)


def test_backlog_when_everyone_is_capped_or_absent(setup, monkeypatch):
    ops, reps = setup
    _pool("Full", reps, cap=0, priority=1)
    _pool("Also full", reps[:1], cap=0, priority=2)
    stored = _both(LEAD, ops, monkeypatch)
    assert stored["backlog"] and stored["lead"]["owner"] is None
    assert stored["assignments"][0]["kind"] == "backlog" and stored["assignments"][0]["skipped"]


def test_nurtured(setup, monkeypatch):
    ops, _reps = setup
    _pool("Nurture", action="nurture")
    stored = _both(LEAD, ops, monkeypatch)
    assert stored["lead"]["status"] == "nurturing"


def test_unmatched_and_no_tags(setup, monkeypatch):
    ops, reps = setup
    _pool("Only A", reps, condition={"field": "grade", "op": "eq", "value": "A"})
    stored = _both({"lead_source": "other", "company": "无名公司"}, None, monkeypatch)
    assert stored["assignments"][0]["kind"] == "unmatched"


def test_flagged_duplicate_with_region(setup, monkeypatch):
    ops, reps = setup
    _pool("Round robin", reps)
    original = f.lead(company="快捷测试科技有限公司")
    _both({**LEAD, "duplicate_of": original, "region": f.region()}, ops, monkeypatch)


def test_scoring_rule_that_reads_tags(setup, monkeypatch):
    ops, reps = setup
    _pool("Round robin", reps)
    rule_create(rule_type="scoring", actor=None, reevaluate=False, name="网页表单加分",
                condition={"field": "tags", "op": "has_any", "value": ["来源：网页表单"]}, points=25)
    stored = _both(LEAD, ops, monkeypatch)
    # the tags are written (and audited) on their own first, then the score that reads them
    assert [a[6] for a in stored["audit"][1:3]] == [_("re-tagged"), _("re-scored")]
    assert list(stored["audit"][1][5]) == ["tags"] and "score" in stored["audit"][2][5]
    assert any(e["rule"] == "网页表单加分" for e in stored["evaluation"]["score_explanation"])


def test_general_path_for_what_express_does_not_take(setup):
    ops, reps = setup
    rep = reps[0]
    assert not express.accepts({"source": "web_form", "tags": ["x"]}, ops)
    assert not express.accepts({"source": "web_form", "status": "contacted"}, ops)
    assert not express.accepts({"source": "web_form", "custom_fields": {"a": 1}}, ops)
    assert not express.accepts({"source": "web_form"}, rep)  # a rep's scope is checked on the stored row
    assert express.accepts({"source": "web_form", "company": "x"}, ops)
    assert express.accepts({"source": "web_form", "company": "x"}, None)
