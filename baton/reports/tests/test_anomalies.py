"""Anomaly lights on a hand-computed fixture: east's 7-day conversion drops 20 % (red, caused by web_form),
west's drops 10 % (yellow), north holds (green); no won deal for 3 days is red."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from baton.core import clock
from baton.core.testing import factories as fx
from baton.reports import anomalies
from baton.reports.models import AnomalyLight, AnomalyRule

from .conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def weeks(db):
    from baton.opportunities.models import Opportunity, Pipeline, Stage

    pipeline = Pipeline.objects.create(name="Main", is_default=True)
    won = Stage.objects.create(pipeline=pipeline, name="Won", position=0, kind="won")
    regions = {c: fx.region(c, c) for c in ("east", "west", "north")}
    fx.user("dora", roles=("director",))

    def leads(region, source, when, n, converted):
        for i in range(n):
            lead = fx.lead(region=regions[region], source=source, created_at=when, updated_at=when)
            if i < converted:
                Opportunity.objects.create(name=f"{region}-{source}-{i}", pipeline=pipeline, stage=won,
                                           status="won", amount=Decimal(100), lead=lead, created_at=when,
                                           updated_at=when, stage_entered_at=when, closed_at=when)

    cur, prev = NOW - timedelta(days=2), NOW - timedelta(days=9)
    # east: 50 % → 40 % (−20 %): web_form 3/5 → 1/5, phone 2/5 → 3/5... net 5/10 → 4/10, web_form carries it.
    leads("east", "web_form", prev, 5, 3)
    leads("east", "phone", prev, 5, 2)
    leads("east", "web_form", cur, 5, 1)
    leads("east", "phone", cur, 5, 3)
    # west: 10/20 → 9/20 (−10 %): yellow.
    leads("west", "phone", prev, 20, 10)
    leads("west", "phone", cur, 20, 9)
    # north: 2/4 → 2/4: green.
    leads("north", "phone", prev, 4, 2)
    leads("north", "phone", cur, 4, 2)
    return regions


def test_lights_red_yellow_green_with_the_named_cause(weeks):
    assert anomalies.install_defaults() == {"created": 3}
    assert anomalies.install_defaults() == {"created": 0}  # idempotent
    lights = [x for x in anomalies.evaluate(NOW) if x.rule.key == "conversion-drop-by-region"]
    by = {x.label: x for x in lights}
    assert by["east"].level == "red" and by["east"].change_pct == -20.0
    assert (by["east"].previous, by["east"].current) == (0.5, 0.4)
    assert "web_form" in by["east"].cause and by["east"].detail["cause"]["dimension"] == "source"
    assert by["west"].level == "yellow" and by["west"].change_pct == -10.0
    assert by["north"].level == "green" and by["north"].cause == ""
    # The light links to its rows: the drill request returns the cause's current-window leads.
    from baton.reports import selectors

    drill = by["east"].detail["cause"]["drill"]
    rows = selectors.pivot_rows(user=fx.user("ops1", roles=("ops",)), source=drill["source"],
                                dimensions=drill["dimensions"], cell=drill["cell"], filters=drill["filters"])
    assert rows["total"] == 5
    # Red and yellow lights reach the directors.
    from baton.notifications.models import Notification

    assert Notification.objects.filter(title__startswith="[RED]").count() == 1


def test_no_won_deal_for_three_days_is_red(weeks):
    anomalies.install_defaults()
    rule = AnomalyRule.objects.get(key="no-won-deal")
    at = NOW + timedelta(days=2)  # last won deal: NOW − 2 days → 4 days
    light = next(x for x in anomalies.evaluate(at, notify=False) if x.rule_id == rule.pk)
    assert light.level == "red" and "no won deal since" in light.cause
    light = next(x for x in anomalies.evaluate(NOW - timedelta(days=1), notify=False) if x.rule_id == rule.pk)
    assert light.level == "green"


def test_command_and_api_evaluate_on_demand(weeks):
    anomalies.install_defaults()
    with clock.frozen(NOW):
        call_command("anomalies", "--now", NOW.isoformat())
    assert AnomalyLight.objects.filter(level="red").exists()
    from baton.core.testing.api import ApiClient

    ops = fx.user("opsy", roles=("ops",), password="pw-12345678")
    with clock.frozen(NOW):
        r = ApiClient(ops, password="pw-12345678").post("/api/anomalies/evaluate", {})
    assert r.status_code == 200, r.content
    assert any(x["level"] == "red" and "web_form" in x["cause"] for x in r.json())
