"""A pool keeps today's capped count of each member beside its rotation (`Pool.day_counts`), so the intake reads
them with the pool's lock instead of counting the day's assignments while it holds the lock. Whatever path made
the assignments, the kept counts must be what the assignment rows say, and the caps must hold on them."""

from collections import Counter
from datetime import date

import pytest

from baton.assignment import selectors, services
from baton.assignment.models import Assignment, Pool, PoolBacklog
from baton.assignment.tests.test_assignment import MONDAY, assign, make_pool
from baton.core import clock
from baton.core.models import ChangeSource
from baton.core.testing import factories as f
from baton.leads.services import lead_create

pytestmark = pytest.mark.django_db


def _capped_rows_today(pool) -> dict:
    start, end = services.day_bounds()
    rows = Assignment.objects.filter(pool=pool, kind__in=services.CAPPED_KINDS, at__gte=start, at__lt=end)
    return {str(user_id): n for user_id, n in Counter(rows.values_list("user_id", flat=True)).items()}


def _web_lead(n, actor):  # the API's capture shape, by a company-wide caller: the express write
    return lead_create(actor=actor, source=ChangeSource.API, company=f"公司{n}", phone=f"1390000{n:04d}")


def test_kept_counts_follow_every_path_and_a_managers_pick_uses_no_capacity():
    pool, users = make_pool(3, caps=[2, 8, 8])
    manager = f.user(roles=("ops",))  # sees every lead and the board
    with clock.frozen(MONDAY):
        leads = [_web_lead(n, manager) for n in range(4)]  # express: rep0, rep1, rep2, rep0
        assert [lead.owner for lead in leads] == [users[0], users[1], users[2], users[0]]
        assign()  # general path (`lead_auto_assign`): rep1
        services.lead_reassign(lead=leads[0], actor=manager, pool=pool, reason_code="workload")
        pool.refresh_from_db()
        assert pool.counts_day == date(2026, 3, 2)
        assert pool.day_counts == _capped_rows_today(pool) == {
            str(users[0].pk): 2, str(users[1].pk): 2, str(users[2].pk): 1}
        # the manager's pick (rep2) moved the rotation; rep0, at the cap of 2 on the kept counts, is skipped
        assert [assign()[0].owner for _ in range(2)] == [users[1], users[2]]
        board = selectors.assignment_board(user=manager)
        assert [(m["today"], m["status"]) for m in board["pools"][0]["members"]] == [
            (2, "capped"), (3, ""), (2, "")]


def test_a_new_day_starts_from_the_rows_and_a_drain_counts():
    pool, users = make_pool(1, caps=[1])
    with clock.frozen(MONDAY):
        assign()
        waiting, result = assign()
        assert result.kind == "backlog"
    # assignments written outside the engine before the day's first pick are counted too
    Assignment.objects.create(lead=f.lead(), pool=pool, user=users[0], kind="auto", at=clock.parse_now(
        "2026-03-03T07:00:00"))
    with clock.frozen("2026-03-03T08:00:00"):
        assert services.pools_drain_all() == 0  # the row above used Tuesday's only place
        Pool.objects.filter(pk=pool.pk).update(counts_day=None)  # as after an upgrade: no kept counts yet
    with clock.frozen("2026-03-04T08:00:00"):
        assert services.pools_drain_all() == 1
        pool.refresh_from_db()
        assert pool.day_counts == _capped_rows_today(pool) == {str(users[0].pk): 1}
    assert not PoolBacklog.objects.exists()
    waiting.refresh_from_db()
    assert waiting.owner == users[0]


def test_a_member_added_during_the_day_is_counted_from_the_rows_and_the_others_keep_theirs():
    pool, users = make_pool(1)
    with clock.frozen(MONDAY):
        assign()
        assign()
        newcomer = f.user(username="joined-at-noon")
        Assignment.objects.create(lead=f.lead(), pool=pool, user=newcomer, kind="auto", at=clock.now())
        pool.members.create(user=newcomer, daily_cap=2)
        assert assign()[0].owner == newcomer  # after the first member in the rotation, with one place left
        pool.refresh_from_db()
        assert pool.day_counts == _capped_rows_today(pool) == {str(users[0].pk): 2, str(newcomer.pk): 2}
        assert assign()[0].owner == users[0]  # the newcomer is at the cap of 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("strategy", ["round_robin", "weighted"])
def test_a_capture_that_loses_a_race_gives_back_its_pick(monkeypatch, strategy):
    """A capture whose lead is refused at the insert (here it loses a race on its external id and merges into
    the winner) takes no place and no turn from the pool. On PostgreSQL its pick was committed before the
    insert (`assignment_reserve`) and is given back (`assignment_release`); elsewhere it rolls back."""
    from baton.capture import services as capture
    from baton.capture.models import DedupePolicy

    pool, users = make_pool(3, strategy=strategy, caps=[8, 8, 8], weights=[1, 1, 1])
    manager = f.user(roles=("ops",))
    DedupePolicy.objects.create(source="api", action=DedupePolicy.Action.MERGE)
    real_members_first, winner, raced = services.assignment_members_first, [], []

    def members_then_lose_the_race(lead, token=None):
        if not raced:  # the other capture is written after this one's lookup and rules, before its pick
            raced.append(True)
            winner.append(lead_create(actor=manager, source=ChangeSource.API, lead_source="api",
                                      external_id="CRM-9", company="先到公司"))
        return real_members_first(lead, token)

    monkeypatch.setattr(services, "assignment_members_first", members_then_lose_the_race)
    with clock.frozen(MONDAY):
        result = capture.lead_capture(data={"source": "api", "external_id": "CRM-9", "company": "后到公司",
                                            "email": "late@x.cn"}, actor=manager)
        assert result.merged and result.lead.pk == winner[0].pk and winner[0].owner == users[0]
        pool.refresh_from_db()
        assert pool.day_counts == {str(u.pk): n for u, n in zip(users, [1, 0, 0], strict=True)}
        assert _capped_rows_today(pool) == {str(users[0].pk): 1}
        # the turn the loser had taken is the next lead's
        assert [_web_lead(n, manager).owner for n in range(2)] == [users[1], users[2]]
        pool.refresh_from_db()
        assert pool.day_counts == _capped_rows_today(pool) == {str(u.pk): 1 for u in users}


@pytest.mark.django_db(transaction=True)
def test_a_pick_that_another_intake_overtook_is_made_again_from_the_new_state(monkeypatch):
    """PostgreSQL's express intake picks from the pool's state read without a lock and writes its pick only
    over that same state (`pool_rotation_swap`). When another intake wrote first, the pick is made again: the
    two leads get the next two members, and the day's counts keep both."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the unlocked pick is PostgreSQL's (SQLite picks under its one write lock); "
                    "run with DATABASE_URL=postgres://… to exercise it")
    pool, users = make_pool(3)
    manager = f.user(roles=("ops",))
    real_swap, swaps, overtaker = services.pool_rotation_swap, [], []

    def overtaken_once(pool, before):
        swaps.append(pool.rotation_last_user_id)
        if not overtaker:  # another intake is read, picked and written between this one's read and its write
            overtaker.append(None)
            overtaker[0] = _web_lead(99, manager)
        return real_swap(pool, before)

    monkeypatch.setattr(services, "pool_rotation_swap", overtaken_once)
    with clock.frozen(MONDAY):
        lead = _web_lead(1, manager)
        assert overtaker[0].owner == users[0] and lead.owner == users[1]
        # this intake's pick of rep0 from the state it read, the overtaker's of rep0 (written), this intake's
        # second pick from the overtaker's state (written)
        assert swaps == [users[0].pk, users[0].pk, users[1].pk]
        pool.refresh_from_db()
        assert pool.day_counts == {str(users[0].pk): 1, str(users[1].pk): 1, str(users[2].pk): 0}
        assert _capped_rows_today(pool) == {str(users[0].pk): 1, str(users[1].pk): 1}


@pytest.mark.django_db(transaction=True)
def test_a_pick_overtaken_every_time_queues_on_the_pools_lock(monkeypatch):
    """After `RESERVE_ATTEMPTS` swaps lost to other intakes, the pick is taken under the pool's lock instead:
    the lead is still assigned, once, and counted."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the unlocked pick is PostgreSQL's (SQLite picks under its one write lock); "
                    "run with DATABASE_URL=postgres://… to exercise it")
    pool, users = make_pool(2)
    manager = f.user(roles=("ops",))
    attempts = []
    # every swap finds the state it was computed from already replaced (here: by itself, unchanged)
    monkeypatch.setattr(services, "pool_rotation_swap", lambda pool, before: attempts.append(1) or before)
    with clock.frozen(MONDAY):
        leads = [_web_lead(n, manager) for n in range(3)]
        assert [lead.owner for lead in leads] == [users[0], users[1], users[0]]
        assert len(attempts) == 3 * services.RESERVE_ATTEMPTS
        pool.refresh_from_db()
        assert pool.day_counts == _capped_rows_today(pool) == {str(users[0].pk): 2, str(users[1].pk): 1}
