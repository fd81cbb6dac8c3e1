"""The demo company: every kind of record, consistent clocks and scopes, same seed → same data."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F

from baton.accounts.models import Account, Contact
from baton.activities.models import Activity, Task
from baton.core import clock
from baton.core.models import AuditEntry
from baton.demo.services import demo_digest, demo_load
from baton.leads.models import Lead
from baton.opportunities.models import Opportunity, StageChange
from baton.org.models import Team, User

NOW = "2025-06-30T18:00:00+08:00"
SCALE = 0.02


@pytest.fixture
def demo(db):
    return demo_load(seed=7, password="demo-pass-123", now=clock.parse_now(NOW), scale=SCALE)


def test_builds_every_kind_of_record(demo):
    assert demo.loaded
    for model in (Team, User, Account, Contact, Lead, Opportunity, StageChange, Activity, Task):
        assert model.objects.exists(), model
    assert set(User.objects.values_list("region__code", flat=True).distinct()) >= {
        "east", "south", "north", "southwest"}
    roles_held = set(User.roles.through.objects.values_list("role__code", flat=True))
    assert roles_held == {"rep", "mentor", "manager", "director", "presales", "legal", "finance",
                          "delivery", "csm", "ops"}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.has_role("ops")
    assert admin.check_password("demo-pass-123")
    assert Task.objects.filter(status=Task.Status.OPEN).exists()
    assert set(Opportunity.objects.values_list("status", flat=True)) >= {"won", "lost"}
    # one summary audit row for the demo data, not one per row (the shipped defaults installed with it —
    # rules, pools — are audited as configuration)
    config_apps = {"rules", "assignment", "sla", "opportunities"}
    demo_entries = AuditEntry.objects.exclude(content_type__app_label__in=config_apps)
    assert demo_entries.count() == 1
    entry = demo_entries.get()
    assert (entry.source, entry.action) == ("system", "event") and "demo company loaded" in entry.message


def test_org_hierarchy(demo):
    now = clock.parse_now(NOW)
    for team in Team.objects.select_related("manager"):
        assert team.manager.region_id == team.region_id
        director = team.manager.manager
        assert director.has_role("director") and director.region_id == team.region_id
        for rep in User.objects.filter(team=team, roles__code="rep"):
            assert rep.manager_id == team.manager_id
    newcomers = [u for u in User.objects.filter(roles__code="rep") if u.is_newcomer(on=now.date())]
    assert newcomers and all(u.mentor and u.mentor.has_role("mentor") for u in newcomers)


def test_lead_clocks_and_scopes_are_consistent(demo):
    now = clock.parse_now(NOW)
    leads = Lead.objects.all()
    assert not leads.filter(created_at__gt=now).exists()
    assert not leads.filter(created_at__lt=now - timedelta(days=366)).exists()
    assert not leads.filter(assigned_at__lt=F("created_at")).exists()
    assert not leads.filter(first_contact_at__lt=F("assigned_at")).exists()
    assert not leads.filter(last_activity_at__lt=F("first_contact_at")).exists()
    assert not leads.filter(owner__isnull=False, assigned_at__isnull=True).exists()
    assert not leads.filter(owner__isnull=True).exclude(status="new").exists()
    assert not leads.filter(status__in=["contacted", "qualified", "converted"], first_contact_at__isnull=True).exists()
    # owners work in the lead's region
    assert not leads.filter(owner__isnull=False).exclude(owner__region=F("region")).exists()
    for lead in leads:
        expected = "A" if lead.score >= 85 else "B" if lead.score >= 60 else "C"
        assert lead.grade == expected
    converted = leads.filter(status="converted")
    assert converted.exists()
    assert not converted.filter(account__isnull=True).exists()
    assert Opportunity.objects.filter(lead__in=converted).count() == converted.count()
    # the first activity on a contacted lead is its first contact, by its owner
    for lead in leads.filter(first_contact_at__isnull=False)[:50]:
        acts = list(lead.activities.order_by("occurred_at"))
        assert acts[0].occurred_at == lead.first_contact_at
        assert acts[-1].occurred_at == lead.last_activity_at
        assert {a.author_id for a in acts} == {lead.owner_id}


def test_opportunity_stage_history_matches(demo):
    for opp in Opportunity.objects.select_related("stage")[:100]:
        changes = list(opp.stage_changes.order_by("at", "id"))
        assert changes[0].from_stage is None and changes[0].at == opp.created_at
        assert changes[-1].to_stage_id == opp.stage_id
        assert changes[-1].at == opp.stage_entered_at
        for prev, cur in zip(changes, changes[1:], strict=False):
            assert cur.from_stage_id == prev.to_stage_id
            assert cur.dwell_seconds == int((cur.at - prev.at).total_seconds())
        assert opp.status == {"won": "won", "lost": "lost"}.get(opp.stage.kind, "open")
        assert (opp.closed_at is not None) == (opp.status != "open")
        if opp.status == "lost":
            assert opp.lost_reason
        assert opp.account.created_at <= opp.created_at
    for act in Activity.objects.filter(opportunity__isnull=False).select_related("opportunity")[:200]:
        assert act.author_id == act.opportunity.owner_id
        assert act.occurred_at >= act.opportunity.created_at


def test_same_seed_same_data(db):
    def load(seed):
        with transaction.atomic():
            demo_load(seed=seed, password="x-12345678", now=clock.parse_now(NOW), scale=SCALE)
            digest = demo_digest()
            transaction.set_rollback(True)
        return digest

    first = load(3)
    assert not Lead.objects.exists()
    assert load(3) == first
    assert load(4) != first


def test_command_if_empty_does_nothing_the_second_time(db):
    out = StringIO()
    call_command("demo", "--scale", "0.01", "--now", NOW, stdout=out)
    text = out.getvalue()
    assert "admin" in text and "Password:" in text
    counts = (User.objects.count(), Lead.objects.count(), Activity.objects.count(), AuditEntry.objects.count())
    out = StringIO()
    call_command("demo", "--if-empty", "--scale", "0.01", stdout=out)
    assert "not loaded" in out.getvalue()
    assert (User.objects.count(), Lead.objects.count(), Activity.objects.count(),
            AuditEntry.objects.count()) == counts


def test_leads_carry_duplicate_keys(demo):
    from baton.capture.dedupe import normalise_company

    lead = Lead.objects.exclude(company="").first()
    assert lead.company_norm == normalise_company(lead.company) != ""
    assert not Lead.objects.exclude(phone="").filter(phone_norm="").exists()
