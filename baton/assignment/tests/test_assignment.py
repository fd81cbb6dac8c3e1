import itertools
from collections import Counter
from datetime import date, timedelta

import pytest
from django.test import TestCase

from baton.assignment import selectors, services
from baton.assignment.models import Assignment, MemberAbsence, Pool, PoolBacklog, PoolMember
from baton.core import clock
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.selectors import history_for
from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.leads.services import lead_create

pytestmark = pytest.mark.django_db

MONDAY = "2026-03-02T10:00:00"


def make_pool(n=3, strategy="round_robin", caps=None, weights=None, **extra):
    pool = Pool.objects.create(name=extra.pop("name", f"pool-{strategy}-{n}"), strategy=strategy, **extra)
    users = [f.user(username=f"{pool.name}-rep{i}") for i in range(n)]
    for i, user in enumerate(users):
        PoolMember.objects.create(pool=pool, user=user, daily_cap=(caps or [8] * n)[i],
                                  weight=(weights or [1] * n)[i])
    return pool, users


def assign(**fields):
    lead = f.lead(**fields)
    result = services.lead_auto_assign(lead=lead)
    lead.refresh_from_db()
    return lead, result


def test_round_robin_rotates_in_member_order():
    pool, users = make_pool(3)
    with clock.frozen(MONDAY):
        owners = [assign()[0].owner for _ in range(7)]
    assert owners == [users[0], users[1], users[2], users[0], users[1], users[2], users[0]]
    positions = list(Assignment.objects.order_by("id").values_list("rotation_position", flat=True))
    assert positions == [0, 1, 2, 0, 1, 2, 0]


def test_assignment_sets_owner_status_and_history():
    pool, users = make_pool(1)
    with clock.frozen(MONDAY):
        lead, result = assign()
    assert lead.owner == users[0] and lead.status == "assigned" and lead.assigned_at is not None
    assert result.kind == "auto" and result.pool == pool and result.strategy == "round_robin"
    assert pool.name in result.explanation
    entry = history_for(lead).first()
    assert entry.changes["owner"][1]["id"] == users[0].pk
    explanation = selectors.lead_explanations(lead)["assignment_explanation"]
    assert explanation[0]["user_id"] == users[0].pk


def test_weighted_distribution_follows_weights():
    pool, users = make_pool(3, strategy="weighted", weights=[5, 3, 2], caps=[100] * 3)
    with clock.frozen(MONDAY):
        owners = [assign()[0].owner for _ in range(20)]
    counts = Counter(owners)
    assert [counts[u] for u in users] == [10, 6, 4]
    # smooth: the heaviest member never gets more than two in a row
    runs = max(len(list(g)) for _k, g in itertools.groupby(owners))
    assert runs <= 2


def test_picks_leave_the_cached_pools_unchanged():
    """The per-process pool cache is shared between threads: a pick locks and changes a copy of its pool."""
    pool, users = make_pool(2, strategy="weighted", caps=[100] * 2)
    cached = services._active_pools()[0][0]
    with clock.frozen(MONDAY):
        owners = [assign()[0].owner for _ in range(2)]
    assert owners == users
    assert services._active_pools()[0][0] is cached  # rotation writes are no configuration change
    assert (cached.rotation_last_user_id, cached.weighted_state) == (None, {})
    stored = Pool.objects.get(pk=pool.pk)
    assert (stored.rotation_last_user_id, stored.weighted_state) == (users[1].pk, {str(u.pk): 0 for u in users})


def test_least_loaded_picks_member_with_fewest_leads_today():
    pool, users = make_pool(3, strategy="least_loaded")
    with clock.frozen(MONDAY):
        for _ in range(2):
            Assignment.objects.create(lead=f.lead(owner=users[0]), pool=pool, user=users[0], kind="auto")
        Assignment.objects.create(lead=f.lead(owner=users[1]), pool=pool, user=users[1], kind="auto")
        lead, _result = assign()
        assert lead.owner == users[2]
        lead, _result = assign()
        assert lead.owner in (users[1], users[2])
    # yesterday's leads do not count
    with clock.frozen("2026-03-03T09:00:00"):
        lead, _result = assign()
        assert lead.owner == users[0]


def test_capped_member_is_skipped_and_explained():
    pool, users = make_pool(2, caps=[1, 8])
    with clock.frozen(MONDAY):
        first, _r = assign()
        second, _r = assign()
        third, result = assign()
    assert (first.owner, second.owner, third.owner) == (users[0], users[1], users[1])
    assert result.skipped == [{"user": users[0].pk, "name": str(users[0]), "reason": "capped", "today": 1,
                               "cap": 1}]
    assert str(users[0]) in result.explanation


def test_absent_member_is_skipped():
    pool, users = make_pool(2)
    MemberAbsence.objects.create(user=users[0], date_from=date(2026, 3, 1), date_to=date(2026, 3, 2))
    with clock.frozen(MONDAY):
        owners = [assign()[0].owner for _ in range(3)]
        assert owners == [users[1]] * 3
        last = Assignment.objects.latest("id")
        assert last.skipped[0]["reason"] == "absent"
    with clock.frozen("2026-03-03T09:00:00"):
        assert assign()[0].owner == users[0]


def test_first_eligible_pool_by_priority_and_condition():
    vip, vip_users = make_pool(1, name="vip", priority=1,
                               condition={"all": [{"field": "source", "op": "eq", "value": "referral"}]})
    general, general_users = make_pool(1, name="general", priority=5)
    with clock.frozen(MONDAY):
        assert assign(source="referral")[0].owner == vip_users[0]
        assert assign(source="web_form")[0].owner == general_users[0]
        # vip full (its member's cap lowered by ops) → falls through to the next eligible pool
        services.member_update(member=vip.members.get(), actor=f.user(roles=("ops",)), daily_cap=1)
        lead, result = assign(source="referral")
    assert lead.owner == general_users[0]
    assert "vip" in result.explanation


def test_no_matching_pool_is_recorded():
    make_pool(1, condition={"all": [{"field": "source", "op": "eq", "value": "referral"}]})
    lead, result = assign(source="phone")
    assert lead.owner is None and result.kind == "unmatched"


def test_backlog_then_drain_when_caps_reset_next_day():
    pool, users = make_pool(2, caps=[1, 1])
    with clock.frozen(MONDAY):
        assign()
        assign()
        waiting, result = assign()
        assert waiting.owner is None and result.kind == "backlog"
        assert PoolBacklog.objects.filter(pool=pool, lead=waiting).exists()
        board = selectors.assignment_board(user=f.user(roles=("manager",)))
        assert board["backlog_total"] == 1
        assert [m["status"] for m in board["pools"][0]["members"]] == ["capped", "capped"]
        assert services.pool_drain_backlog(pool) == 0  # still full today
    with clock.frozen("2026-03-03T08:00:00"):
        assert services.pools_drain_all() == 1
    waiting.refresh_from_db()
    assert waiting.owner in users
    assert not PoolBacklog.objects.exists()
    drain = Assignment.objects.filter(lead=waiting).latest("id")
    assert drain.kind == "drain" and "2026-03-02 10:00" in drain.explanation


def test_member_added_drains_backlog():
    pool, users = make_pool(1, caps=[0])
    with clock.frozen(MONDAY):
        waiting, _r = assign()
        assert waiting.owner is None
        newcomer = f.user()
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.member_add(pool=pool, user=newcomer, actor=None)
    waiting.refresh_from_db()
    assert waiting.owner == newcomer


def test_reassign_with_reason_is_audited():
    pool, users = make_pool(2)
    manager = f.user(roles=("manager",))
    ops = f.user(roles=("ops",))
    with clock.frozen(MONDAY):
        lead, _r = assign()
        with pytest.raises(ValidationFailed):
            services.lead_reassign(lead=lead, actor=ops, to_user=users[1], reason_code="made-up")
        with pytest.raises(PermissionDenied):
            services.lead_reassign(lead=lead, actor=users[0], to_user=users[1], reason_code="workload")
        with pytest.raises(PermissionDenied):  # outside the manager's team
            services.lead_reassign(lead=lead, actor=manager, to_user=users[1], reason_code="workload")
        row = services.lead_reassign(lead=lead, actor=ops, to_user=users[1], reason_code="workload", note="均衡")
    lead.refresh_from_db()
    assert lead.owner == users[1]
    assert (row.kind, row.reason_code, row.actor, row.previous_user) == ("manual", "workload", ops, users[0])
    entry = history_for(lead).first()
    assert entry.actor == ops and entry.changes["owner"][1]["id"] == users[1].pk
    assert entry.message == row.explanation


def test_reassign_through_pool():
    pool, users = make_pool(2)
    ops = f.user(roles=("ops",))
    lead = f.lead(owner=users[0])
    with clock.frozen(MONDAY):
        row = services.lead_reassign(lead=lead, actor=ops, pool=pool, reason_code="absent")
    lead.refresh_from_db()
    assert row.pool == pool and lead.owner == row.user


def test_dynamic_pool_top_newcomers_plus_users():
    with clock.frozen(MONDAY):
        today = clock.today()
        good = f.user(username="good", hire_date=today - timedelta(days=10))
        weak = f.user(username="weak", hire_date=today - timedelta(days=20))
        f.user(username="veteran", hire_date=today - timedelta(days=400))
        mentor = f.user(username="mentor")
        for i in range(4):
            f.lead(owner=good, first_contact_at=clock.now() if i < 3 else None)
            f.lead(owner=weak, first_contact_at=clock.now() if i < 1 else None)
        Pool.objects.create(name="newcomers", dynamic_rule={
            "kind": "top_newcomers", "n": 1, "metric": "first_contact_success_rate", "plus_users": [mentor.pk]})
        owners = [assign()[0].owner.username for _ in range(4)]
    assert owners == ["good", "mentor", "good", "mentor"]


def test_lead_create_hook_tags_scores_and_assigns():
    from baton.rules import services as rules
    from baton.rules.models import RuleType

    pool, users = make_pool(1)
    rules.rule_create(rule_type=RuleType.SCORING, actor=None, name="ref", points=90, reevaluate=False,
                      condition={"all": [{"field": "source", "op": "eq", "value": "referral"}]})
    ops = f.user(roles=("ops",))
    with clock.frozen(MONDAY):
        lead = lead_create(actor=ops, company="甲公司", lead_source="referral")
        plain = lead_create(actor=ops, company="乙公司", lead_source="referral", process=False)
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.score, lead.grade, lead.owner) == (90, "A", users[0])
    plain = Lead.objects.get(pk=plain.pk)
    assert (plain.score, plain.owner) == (0, None)
    assert AuditEntry.objects.filter(object_id=lead.pk, action="update").count() == 2


def test_the_next_pick_sees_a_change_to_the_members():
    """A pool's fixed members are kept per process with their users and today's absences: a change made
    through the product (a member paused, an absence, a user deactivated) is seen by the very next pick."""
    pool, users = make_pool(3)
    ops = f.user(roles=("ops",))
    with clock.frozen(MONDAY):
        assert assign()[0].owner == users[0]
        services.member_update(member=pool.members.get(user=users[1]), actor=ops, active=False)
        assert assign()[0].owner == users[2]
        services.absence_create(user=users[0], date_from=date(2026, 3, 2), date_to=date(2026, 3, 2), actor=ops)
        assert assign()[0].owner == users[2]
        users[2].is_active = False
        users[2].save()
        lead, result = assign()
    assert lead.owner is None and result.kind == "backlog"
    assert [s["reason"] for s in result.skipped] == ["absent", "inactive", "inactive"]
