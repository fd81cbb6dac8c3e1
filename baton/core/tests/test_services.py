"""The write helpers and the domain services built on them: one audit row per real change, nothing left
behind by a refused write, and the clock stamps the SLA rules start and stop on."""

from datetime import timedelta
from decimal import Decimal

import pytest

from baton.accounts.models import Account
from baton.activities.services import activity_create
from baton.core import clock
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.selectors import history_for
from baton.core.services import create_object, delete_object, update_object
from baton.core.testing import factories as f
from baton.leads.models import Lead, LeadStatus
from baton.leads.services import lead_convert, lead_update
from baton.opportunities.models import Opportunity, StageChange
from baton.opportunities.services import opportunity_update, pipeline_ensure_default

T0 = "2025-03-03T09:00:00+08:00"


@pytest.fixture
def org(db):
    region = f.make_region(name="华东", code="east")
    other_region = f.make_region(name="华南", code="south")
    team = f.make_team(name="上海一部", region=region)
    manager = f.make_user(username="manager", roles=["manager"], team=team, display_name="王经理")
    team.manager = manager
    team.save()
    rep = f.make_user(username="rep", roles=["rep"], team=team, manager=manager, display_name="李销售")
    rep2 = f.make_user(username="rep2", roles=["rep"], team=team, manager=manager, display_name="张销售")
    far = f.make_user(username="far", roles=["rep"], team=f.make_team(region=other_region))
    director = f.make_user(username="director", roles=["director"], region=region)
    return type("Org", (), dict(region=region, team=team, manager=manager, rep=rep, rep2=rep2, far=far,
                                director=director))


def audits(obj):
    return list(history_for(obj))


# --- core.services ---------------------------------------------------------------------------------------

def test_create_writes_one_audit_row_with_new_values(org):
    medical, retail = f.make_industry(name="医疗"), f.make_industry(name="零售")
    account = create_object(Account, actor=org.rep, source="api", data={
        "name": "上海华信医疗器械有限公司", "owner": org.rep, "region": org.region,
        "industries": [retail, medical]})
    [entry] = audits(account)
    assert (entry.action, entry.source, entry.actor_id) == ("create", "api", org.rep.pk)
    assert entry.changes["name"] == [None, "上海华信医疗器械有限公司"]
    assert entry.changes["owner"] == [None, {"id": org.rep.pk, "label": "李销售"}]
    assert entry.changes["region"] == [None, {"id": org.region.pk, "label": "华东"}]
    assert entry.changes["industries"] == [None, ["医疗", "零售"]]


def test_update_audits_changed_fields_old_to_new(org):
    medical, retail = f.make_industry(name="医疗"), f.make_industry(name="零售")
    account = f.make_account(name="旧名字", owner=org.rep, industries=[medical, retail])
    changes = update_object(account, actor=org.manager, data={
        "name": "新名字", "owner": org.rep2, "industries": [medical], "address": ""})
    [entry] = audits(account)
    assert entry.action == "update" and entry.actor_id == org.manager.pk
    assert entry.changes == changes == {
        "name": ["旧名字", "新名字"],
        "owner": [{"id": org.rep.pk, "label": "李销售"}, {"id": org.rep2.pk, "label": "张销售"}],
        "industries": [["医疗", "零售"], ["医疗"]],
    }
    account.refresh_from_db()
    assert (account.name, account.owner_id) == ("新名字", org.rep2.pk)


def test_update_with_nothing_changed_writes_no_audit(org):
    opp = f.make_opportunity(owner=org.rep, amount=Decimal("100000"))
    opp = Opportunity.objects.get(pk=opp.pk)  # as a view would load it: 100000.00
    changes = update_object(opp, actor=org.rep, data={"name": opp.name, "amount": Decimal("100000"),
                                                      "owner": org.rep})
    assert changes == {}
    assert audits(opp) == []


def test_delete_writes_one_audit_row(org):
    account = f.make_account(name="要删除的公司", owner=org.rep)
    pk = account.pk
    delete_object(account, actor=org.manager)
    assert not Account.objects.filter(pk=pk).exists()
    [entry] = AuditEntry.objects.filter(object_id=pk, action="delete")
    assert entry.object_repr == "要删除的公司" and entry.actor_id == org.manager.pk


def test_invalid_create_leaves_no_row_and_no_audit(org):
    with pytest.raises(ValidationFailed) as exc:
        create_object(Lead, actor=org.rep, data={"company": "X", "owner": org.rep, "score": 150})
    assert [field for field, _ in exc.value.errors] == ["score"]
    assert not Lead.objects.exists() and not AuditEntry.objects.exists()


def test_invalid_update_leaves_row_unchanged_and_no_audit(org):
    lead = f.make_lead(owner=org.rep, score=10)
    with pytest.raises(ValidationFailed):
        update_object(lead, actor=org.rep, data={"score": 101, "company": "改名"})
    lead.refresh_from_db()
    assert (lead.score, lead.company) != (101, "改名")
    assert not AuditEntry.objects.exists()


def test_out_of_scope_create_is_refused_and_rolled_back(org):
    with pytest.raises(PermissionDenied):
        create_object(Account, actor=org.rep, data={"name": "别人的客户", "owner": org.rep2})
    assert not Account.objects.exists() and not AuditEntry.objects.exists()


def test_out_of_scope_update_and_delete_are_refused(org):
    account = f.make_account(name="张的客户", owner=org.rep2)
    with pytest.raises(PermissionDenied):
        update_object(account, actor=org.rep, data={"name": "抢过来"})
    with pytest.raises(PermissionDenied):
        delete_object(account, actor=org.far)
    own_lead = f.make_lead(owner=org.rep)
    with pytest.raises(PermissionDenied):  # a rep may not delete, even their own
        delete_object(own_lead, actor=org.rep)
    account.refresh_from_db()
    assert account.name == "张的客户"
    assert Lead.objects.filter(pk=own_lead.pk).exists()
    assert not AuditEntry.objects.exists()


def test_update_moving_a_row_out_of_scope_is_refused(org):
    account = f.make_account(name="我的客户", owner=org.rep)
    with pytest.raises(PermissionDenied):  # a rep cannot hand a customer to someone they cannot see
        update_object(account, actor=org.rep, data={"owner": org.far})
    account.refresh_from_db()
    assert account.owner_id == org.rep.pk and not AuditEntry.objects.exists()


# --- leads.services ------------------------------------------------------------------------------------

def test_assigning_a_lead_stamps_assigned_at_and_moves_new_to_assigned(org):
    with clock.frozen(T0) as t0:
        lead = f.make_lead(owner=None, region=org.region, status=LeadStatus.NEW)
    with clock.frozen(clock.parse_now(T0) + timedelta(minutes=30)) as t1:
        # the region's pool is the director's to hand out
        changes = lead_update(lead=lead, actor=org.director, owner=org.rep)
    lead.refresh_from_db()
    assert (lead.owner_id, lead.status) == (org.rep.pk, LeadStatus.ASSIGNED)
    assert lead.assigned_at == t1 and lead.status_changed_at == t1 and lead.created_at == t0
    assert lead.updated_at == t1
    assert changes["status"] == ["new", "assigned"]
    [entry] = audits(lead)
    assert set(entry.changes) >= {"owner", "status", "assigned_at"}


def test_lead_update_with_nothing_changed_writes_no_audit(org):
    lead = f.make_lead(owner=org.rep, company="上海某公司")
    lead = Lead.objects.get(pk=lead.pk)
    assert lead_update(lead=lead, actor=org.rep, company="上海某公司") == {}
    assert audits(lead) == []


def test_lead_convert_creates_account_contact_and_opportunity(org):
    medical = f.make_industry(name="医疗")
    lead = f.make_lead(owner=org.rep, company="杭州恒瑞生物医药有限公司", contact_name="陈静",
                       phone="13800000001", budget=Decimal("250000"), industries=[medical],
                       status=LeadStatus.CONTACTED)
    with clock.frozen(T0) as t0:
        result = lead_convert(lead=lead, actor=org.rep)
    account, contact, opp = result["account"], result["contact"], result["opportunity"]
    assert (account.name, account.owner_id, account.region_id) == (lead.company, org.rep.pk, org.region.pk)
    assert list(account.industries.values_list("name", flat=True)) == ["医疗"]
    assert (contact.account_id, contact.name, contact.phone) == (account.pk, "陈静", "13800000001")
    assert (opp.account_id, opp.contact_id, opp.lead_id, opp.owner_id) == (account.pk, contact.pk, lead.pk,
                                                                             org.rep.pk)
    assert opp.amount == Decimal("250000") and opp.pipeline == pipeline_ensure_default()
    [change] = StageChange.objects.filter(opportunity=opp)
    assert change.from_stage is None and change.to_stage_id == opp.stage_id and change.at == t0
    lead.refresh_from_db()
    assert (lead.status, lead.account_id, lead.contact_id) == (LeadStatus.CONVERTED, account.pk, contact.pk)
    for obj in (account, contact, opp, lead):
        assert len(audits(obj)) == 1
    with pytest.raises(ValidationFailed):
        lead_convert(lead=lead, actor=org.rep)
    assert Opportunity.objects.count() == 1


# --- activities.services -------------------------------------------------------------------------------

def test_activity_on_a_lead_stamps_first_contact_and_status(org):
    lead = f.make_lead(owner=org.rep, status=LeadStatus.ASSIGNED)
    with clock.frozen(T0) as t0:
        activity_create(actor=org.rep, kind="note", lead=lead, note="查了官网")
    lead.refresh_from_db()
    assert (lead.status, lead.first_contact_at, lead.last_activity_at) == (LeadStatus.ASSIGNED, None, t0)
    t1 = t0 + timedelta(hours=2)
    with clock.frozen(t1):
        activity = activity_create(actor=org.rep, kind="call", outcome="connected", lead=lead)
    lead.refresh_from_db()
    assert (lead.status, lead.first_contact_at, lead.last_activity_at) == (LeadStatus.CONTACTED, t1, t1)
    assert lead.status_changed_at == t1
    assert activity.author_id == org.rep.pk and len(audits(activity)) == 1
    with clock.frozen(t1 + timedelta(days=1)) as t2:
        activity_create(actor=org.rep, kind="wechat", lead=lead)
    lead.refresh_from_db()
    assert (lead.first_contact_at, lead.last_activity_at) == (t1, t2)


def test_activity_on_a_lead_outside_view_scope_is_refused(org):
    lead = f.make_lead(owner=org.far, status=LeadStatus.ASSIGNED)
    with pytest.raises(PermissionDenied):
        activity_create(actor=org.rep, kind="call", lead=lead)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ASSIGNED and lead.first_contact_at is None
    assert not AuditEntry.objects.exists()


# --- opportunities.services ----------------------------------------------------------------------------

def test_stage_move_logs_stage_change_with_dwell(org):
    stages = list(pipeline_ensure_default().stages.order_by("position"))
    with clock.frozen(T0) as t0:
        opp = f.make_opportunity(owner=org.rep, stage=stages[0])
    t1 = t0 + timedelta(hours=3)
    with clock.frozen(t1):
        changes = opportunity_update(opportunity=opp, actor=org.rep, stage=stages[1])
    assert changes["stage"][1] == {"id": stages[1].pk, "label": stages[1].name}
    move = StageChange.objects.filter(opportunity=opp).order_by("at", "id").last()
    assert (move.from_stage_id, move.to_stage_id, move.at, move.actor_id) == (stages[0].pk, stages[1].pk, t1,
                                                                               org.rep.pk)
    assert move.dwell_seconds == 3 * 3600
    opp.refresh_from_db()
    assert (opp.stage_entered_at, opp.probability, opp.status) == (t1, stages[1].probability, "open")

    won = next(s for s in stages if s.kind == "won")
    t2 = t1 + timedelta(days=2)
    with clock.frozen(t2):
        opportunity_update(opportunity=opp, actor=org.rep, stage=won)
    opp.refresh_from_db()
    assert (opp.status, opp.closed_at, opp.probability) == ("won", t2, 100)
    assert StageChange.objects.filter(opportunity=opp).last().dwell_seconds == 2 * 86400


def test_stage_move_to_lost_without_reason_is_refused_and_leaves_no_trace(org):
    stages = list(pipeline_ensure_default().stages.order_by("position"))
    with clock.frozen(T0):
        opp = f.make_opportunity(owner=org.rep, stage=stages[0])
    lost = next(s for s in stages if s.kind == "lost")
    with pytest.raises(ValidationFailed) as exc:
        opportunity_update(opportunity=opp, actor=org.rep, stage=lost)
    assert "lost_reason" in [field for field, _ in exc.value.errors]
    assert StageChange.objects.filter(opportunity=opp).count() == 1
    opp.refresh_from_db()
    assert (opp.stage_id, opp.status) == (stages[0].pk, "open") and audits(opp) == []
    opportunity_update(opportunity=opp, actor=org.rep, stage=lost, lost_reason="价格偏高")
    opp.refresh_from_db()
    assert (opp.status, opp.lost_reason) == ("lost", "价格偏高")
