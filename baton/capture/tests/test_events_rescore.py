"""Behaviour events re-score their leads in the background once the batch is committed."""

import json

import pytest
from django.test import TestCase

from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.leads.services import lead_create
from baton.rules import services as rules
from baton.rules.models import RuleType

pytestmark = pytest.mark.django_db


@pytest.fixture
def huey_immediate():
    from huey.contrib.djhuey import HUEY

    old = HUEY.immediate
    HUEY.immediate = True
    yield HUEY
    HUEY.immediate = old


def test_posted_events_land_behaviour_points_on_the_lead(client, huey_immediate):
    rule = rules.rule_create(rule_type=RuleType.SCORING, actor=None, name="downloaded the brochure", points=30,
                             condition={}, kind="behaviour", event_kind="download", half_life_hours=72,
                             reevaluate=False)
    ops = f.user(roles=("ops",))
    lead = lead_create(actor=None, company="甲公司", email="buyer@example.cn")
    other = lead_create(actor=None, company="乙公司", email="idle@example.cn")
    assert Lead.objects.get(pk=lead.pk).score == 0
    client.force_login(ops)
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        answer = client.post("/api/events", data=json.dumps({"events": [
            {"type": "download", "email": "Buyer@Example.cn"}, {"type": "page_view", "lead_id": other.pk}]}),
            content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["accepted"] == 2
    assert callbacks  # the re-score waits for the commit
    lead.refresh_from_db()
    assert lead.score == 30
    assert [e["rule_id"] for e in lead.evaluation.score_explanation] == [rule.pk]
    other.refresh_from_db()
    assert other.score == 0


def test_rescore_task_function_evaluates_the_given_leads():
    from baton.capture.tasks import events_rescore
    from baton.conditions.models import LeadEvent

    rules.rule_create(rule_type=RuleType.SCORING, actor=None, name="visited", points=20, condition={},
                      kind="behaviour", event_kind="page_view", half_life_hours=24, reevaluate=False)
    lead = f.lead()
    LeadEvent.objects.create(lead=lead, type="page_view")
    assert events_rescore.call_local([lead.pk]) == 1
    lead.refresh_from_db()
    assert lead.score == 20
