"""The shipped default pools: A → A channel, B → the region's round robin, C → nurturing; installing twice
changes nothing."""

from datetime import date

import pytest
from django.core.management import call_command

from baton.assignment.models import Assignment, Pool, PoolBacklog, PoolMember
from baton.assignment.services import lead_auto_assign, pools_install_defaults
from baton.core import clock
from baton.core.defaults import install_defaults
from baton.core.testing import factories as f
from baton.rules.models import ScoringRule, TaggingRule

pytestmark = pytest.mark.django_db

TODAY = "2026-03-02T10:00:00"


@pytest.fixture
def company():
    with clock.frozen(TODAY):
        east, west = f.region(name="East", code="east"), f.region(name="West", code="west")
        reps = {}
        for region in (east, west):
            reps[region.code] = [
                f.make_user(username=f"{region.code}-senior{i}", region=region, hire_date=date(2015 + i, 1, 1))
                for i in range(3)]
            reps[region.code].append(f.make_user(username=f"{region.code}-new", region=region,
                                                 hire_date=date(2026, 2, 1)))
        f.make_user(username="mentor", roles=("rep", "mentor"), region=east, hire_date=date(2010, 1, 1))
        return {"east": east, "west": west, "reps": reps}


def route(region, grade, source="phone"):
    lead = f.lead(region=region, grade=grade, source=source)
    result = lead_auto_assign(lead=lead)
    lead.refresh_from_db()
    return lead, result


def test_default_pools_route_by_grade(company):
    with clock.frozen(TODAY):
        install_defaults()
        a_channel = Pool.objects.get(key="pool.a_channel")
        seniors = set(PoolMember.objects.filter(pool=a_channel).values_list("user__username", flat=True))
        # The two longest-serving non-newcomers of each region (the mentor, hired 2010, is the most senior).
        assert seniors == {"mentor", "east-senior0", "west-senior0", "west-senior1"}
        assert set(PoolMember.objects.filter(pool=a_channel).values_list("weight", "daily_cap")) == {(2, 8)}

        lead, result = route(company["east"], "A")
        assert result.pool == a_channel and lead.owner.username in seniors

        lead, result = route(company["west"], "B")
        west_pool = Pool.objects.get(key="pool.region.west")
        assert result.pool == west_pool and lead.owner.region == company["west"]
        assert result.strategy == "round_robin"

        lead, result = route(company["east"], "C")
        assert lead.status == "nurturing" and lead.owner is None
        assert result.kind == Assignment.Kind.NURTURE and result.pool.key == "pool.nurturing"
        assert not PoolBacklog.objects.filter(lead=lead).exists()


def test_grade_b_web_form_goes_to_newcomers_and_mentor(company):
    with clock.frozen(TODAY):
        install_defaults()
        lead, result = route(company["east"], "B", source="web_form")
    assert result.pool.key == "pool.newcomers"
    assert lead.owner.username in {"east-new", "west-new", "mentor"}


def test_install_defaults_is_idempotent(company):
    with clock.frozen(TODAY):
        first = install_defaults()
        counts = (Pool.objects.count(), PoolMember.objects.count(), TaggingRule.objects.count(),
                  ScoringRule.objects.count())
        assert first["pools"]["pools"] == 5  # A channel, newcomers, two regions, nurturing
        second = install_defaults()
        assert second["pools"] == {"pools": 0, "members": 0}
        assert (Pool.objects.count(), PoolMember.objects.count(), TaggingRule.objects.count(),
                ScoringRule.objects.count()) == counts
        call_command("defaults")
        assert Pool.objects.count() == counts[0]


def test_edited_default_pool_is_left_alone():
    with clock.frozen(TODAY):
        pools_install_defaults()  # fresh install: nobody hired yet, pools without members
        pool = Pool.objects.get(key="pool.a_channel")
        Pool.objects.filter(pk=pool.pk).update(priority=5, name="VIP")
        region = f.region(code="north")
        f.make_user(username="north-senior", region=region, hire_date=date(2012, 1, 1))
        result = pools_install_defaults()
        pool.refresh_from_db()
        assert (pool.priority, pool.name) == (5, "VIP")
        # The still-empty default pool gets its members once there are reps; the new region gets its pool.
        assert PoolMember.objects.filter(pool=pool, user__username="north-senior").exists()
        assert result["pools"] == 1 and Pool.objects.filter(key="pool.region.north").exists()
