"""Rules, pools and SLA policies kept compiled per process (`core.config_cache`): a change is seen by the very
next lead, and a change that rolled back never comes back."""

from datetime import date

import pytest
from django.db import transaction

from baton.assignment.models import Pool, PoolMember
from baton.core import config_cache
from baton.core.models import ChangeSource
from baton.core.testing.factories import make_user
from baton.leads.services import lead_create
from baton.rules.models import ScoringRule
from baton.sla.models import SlaPolicy

pytestmark = pytest.mark.django_db

ALWAYS = {"all": [{"field": "company", "op": "is_null", "value": False}]}


def _new_lead(n):
    return lead_create(actor=None, source=ChangeSource.API, company=f"缓存测试{n}")


def _rule(points, key):
    return ScoringRule.objects.create(key=key, name=key, kind="static", condition=ALWAYS, points=points)


def test_a_new_scoring_rule_counts_on_the_next_lead():
    _rule(10, "ten")
    assert _new_lead(1).score == 10  # the rule set is now cached in this process
    _rule(25, "twenty_five")
    assert _new_lead(2).score == 35


def test_a_rolled_back_rule_never_comes_back():
    _rule(10, "ten")
    assert _new_lead(1).score == 10

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        _rule(50, "fifty")
        assert _new_lead(2).score == 60  # cached while the change was in force...
        raise Abort
    assert _new_lead(3).score == 10  # ...and gone with its rollback
    _rule(5, "five")  # a different change afterwards must not be mistaken for the rolled-back one
    assert _new_lead(4).score == 15


def test_pool_edits_apply_at_once_but_rotation_is_not_a_configuration_change():
    reps = [make_user(username=f"cache_rep{i}", roles=["rep"]) for i in range(2)]
    pool = Pool.objects.create(name="缓存池", strategy="round_robin", priority=10)
    for rep in reps:
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=10)
    first = _new_lead(1)
    assert first.owner in reps
    token = config_cache.current_token()
    second = _new_lead(2)
    assert {first.owner, second.owner} == set(reps)  # the rotation moved on...
    assert config_cache.current_token() == token  # ...without invalidating anyone's cache
    pool.active = False
    pool.save()
    assert _new_lead(3).owner is None


def test_sla_clocks_follow_a_policy_change():
    from baton.sla.clocks import clocks_for

    lead = _new_lead(1)
    before = {c["policy"] for c in clocks_for(lead)}
    SlaPolicy.objects.create(name="缓存测试时钟", target="leads", start_event="created", stop_event="assigned",
                             target_seconds=3600)
    assert {c["policy"] for c in clocks_for(lead)} == before | {"缓存测试时钟"}


def test_working_hours_clocks_follow_a_holiday_override():
    from baton.core import clock
    from baton.sla.clocks import clocks_for
    from baton.sla.services import holiday_delete, holiday_set

    SlaPolicy.objects.create(name="工作时间时钟", target="leads", start_event="created", stop_event="assigned",
                             target_seconds=4 * 3600, calendar="working_hours")
    with clock.frozen("2026-11-20T01:15:00+00:00"):  # Friday 09:15 in Shanghai, a working day
        lead = _new_lead(1)

        def due():
            return {c["policy"]: c["due_at"] for c in clocks_for(lead)}["工作时间时钟"]

        assert due() == clock.parse_now("2026-11-20T13:15:00+08:00")
        assert due() == clock.parse_now("2026-11-20T13:15:00+08:00")  # now from this process's memory
        holiday = holiday_set(actor=None, day=date(2026, 11, 20), is_workday=False)
        assert due() == clock.parse_now("2026-11-23T13:00:00+08:00")  # the day off counts at once
        holiday_set(actor=None, day=date(2026, 11, 20), is_workday=True)
        assert due() == clock.parse_now("2026-11-20T13:15:00+08:00")
        holiday_set(actor=None, day=date(2026, 11, 21), is_workday=True)  # a make-up Saturday
        holiday_set(actor=None, day=date(2026, 11, 20), is_workday=False)
        assert due() == clock.parse_now("2026-11-21T13:00:00+08:00")
        holiday_delete(actor=None, holiday=holiday)
        assert due() == clock.parse_now("2026-11-20T13:15:00+08:00")


def test_a_request_reads_the_token_once_and_sees_its_own_change(django_assert_num_queries):
    from django.test import RequestFactory

    _rule(10, "ten")
    seen = []

    def view(request):
        with django_assert_num_queries(1):  # the first read only
            seen.append(config_cache.current_token())
            seen.append(config_cache.current_token())
        _rule(5, "five")  # a change made by this request
        seen.append(config_cache.current_token())
        seen.append(_new_lead(1).score)
        seen.append(config_cache.current_token())
        return None

    config_cache.RequestTokenMiddleware(view)(RequestFactory().get("/"))
    assert seen[0] == seen[1] != seen[2]
    assert seen[3] == 15
    assert config_cache.current_token() == seen[4]
    from baton.core.models import ConfigStamp

    ConfigStamp.objects.filter(key=config_cache.KEY).update(token="f" * 32)  # no signal: only a read sees it
    assert config_cache.current_token() == "f" * 32  # outside a request nothing is remembered
