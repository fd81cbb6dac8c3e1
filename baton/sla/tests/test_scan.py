from io import StringIO

import pytest
from django.core.management import call_command

from baton.activities.models import Task
from baton.activities.services import activity_create
from baton.assignment.models import Assignment, Pool, PoolMember
from baton.core import clock
from baton.core.clock import parse_now as at
from baton.core.errors import ValidationFailed
from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_lead, make_team, make_user
from baton.leads.models import Lead
from baton.notifications.models import Channel, Notification, OutboxMessage
from baton.sla.models import SlaCrossing, SlaPolicy
from baton.sla.services import sla_install_defaults, sla_scan

pytestmark = pytest.mark.django_db

MON = "2026-03-09"  # an ordinary Monday


@pytest.fixture
def org():
    sla_install_defaults()
    manager = make_user(roles=("manager",))
    team = make_team(manager=manager)
    rep = make_user(team=team, manager=manager, phone="13812345678")
    rep2 = make_user(team=team, manager=manager)
    ops = make_user(roles=("ops",))
    return {"manager": manager, "team": team, "rep": rep, "rep2": rep2, "ops": ops}


def only(*codes):
    SlaPolicy.objects.exclude(code__in=codes).update(active=False)
    return SlaPolicy.objects.get(code=codes[0])


def scan(iso):
    out = StringIO()
    call_command("sla", "scan", "--now", iso, stdout=out)
    return out.getvalue()


def levels(lead):
    return sorted(SlaCrossing.objects.filter(item_id=lead.pk).values_list("level", flat=True))


def inbox(user):
    return Notification.objects.filter(recipient=user).count()


def test_defaults_are_installed_once_and_validated():
    assert sla_install_defaults() == 4
    assert sla_install_defaults() == 0
    assert SlaPolicy.objects.count() == 4
    bad = SlaPolicy(name="x", start_event="stage_entered", stop_event="first_contact", target_seconds=600,
                    condition={"field": "nope", "op": "eq", "value": 1})
    with pytest.raises(Exception) as exc:
        bad.full_clean()
    assert {"condition", "start_event"} <= set(exc.value.message_dict)


def test_unassigned_two_hours_warns_breaches_once_and_tells_ops(org):
    only("unassigned")
    lead = make_lead(created_at=at(f"{MON}T10:00"))
    assert "0 new" in scan(f"{MON}T11:29")
    assert "1 new" in scan(f"{MON}T11:31")
    assert levels(lead) == ["warning"]
    scan(f"{MON}T12:00")
    assert levels(lead) == ["breach", "warning"]
    assert inbox(org["ops"]) == 1
    # re-running at the same or a later time fires nothing new
    assert "0 new" in scan(f"{MON}T12:00")
    assert "0 new" in scan(f"{MON}T12:30")
    assert inbox(org["ops"]) == 1
    assert SlaCrossing.objects.count() == 2


def test_assignment_stops_the_unassigned_clock_and_resolves(org):
    only("unassigned")
    lead = make_lead(created_at=at(f"{MON}T10:00"))
    scan(f"{MON}T12:05")
    assert SlaCrossing.objects.filter(resolved_at__isnull=True).count() == 2
    Lead.objects.filter(pk=lead.pk).update(owner=org["rep"], assigned_at=at(f"{MON}T12:10"))
    assert "2 resolved" in scan(f"{MON}T12:11")
    assert not SlaCrossing.objects.filter(resolved_at__isnull=True).exists()


def test_first_contact_uses_working_hours_and_notifies_owner_and_manager(org):
    only("first_contact")
    rep, manager = org["rep"], org["manager"]
    lead = make_lead(owner=rep, created_at=at("2026-03-06T16:00"), assigned_at=at("2026-03-06T16:00"))
    # Friday 16:00 + 4 working hours = Monday 11:00 (the weekend does not count)
    scan(f"{MON}T08:00")
    assert levels(lead) == []  # 2 working hours so far
    scan(f"{MON}T10:00")  # 3 h = the 75 % mark
    assert levels(lead) == ["warning"]
    scan(f"{MON}T10:59")
    assert "breach" not in levels(lead)
    scan(f"{MON}T11:00")
    assert "breach" in levels(lead)
    assert inbox(rep) == 2 and inbox(manager) == 1  # warning + breach for the rep, breach for the manager
    # the clock in the lead's JSON says so too
    with clock.frozen(at(f"{MON}T11:30")):
        body = ApiClient(rep).get(f"/api/leads/{lead.pk}").json()
    [fc] = body["clocks"]
    assert fc["policy"] == SlaPolicy.objects.get(code="first_contact").name
    assert fc["state"] == "breached"
    assert at(fc["due_at"]) == at(f"{MON}T11:00")
    # first contact logged → clock stops, open crossings resolve
    with clock.frozen(at(f"{MON}T11:40")):
        activity_create(actor=rep, kind="call", lead=lead, outcome="connected")
    scan(f"{MON}T11:41")
    assert not SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).exists()
    with clock.frozen(at(f"{MON}T11:45")):
        body = ApiClient(rep).get(f"/api/leads/{lead.pk}").json()
    assert [c["state"] for c in body["clocks"]] == ["stopped"]


def test_first_contact_at_200_percent_returns_the_lead_to_its_pool(org):
    only("first_contact")
    rep, rep2 = org["rep"], org["rep2"]
    pool = Pool.objects.create(name="华东")
    PoolMember.objects.create(pool=pool, user=rep)
    PoolMember.objects.create(pool=pool, user=rep2)
    pool.rotation_last_user_id = rep.pk
    pool.save()
    lead = make_lead(owner=rep, created_at=at(f"{MON}T09:00"), assigned_at=at(f"{MON}T09:00"))
    Assignment.objects.create(lead=lead, pool=pool, user=rep, at=at(f"{MON}T09:00"))
    scan(f"{MON}T16:59")
    lead.refresh_from_db()
    assert lead.owner == rep
    scan(f"{MON}T17:00")  # 8 working hours = 200 %
    lead.refresh_from_db()
    assert lead.owner == rep2
    last = Assignment.objects.filter(lead=lead).order_by("-id").first()
    assert last.kind == Assignment.Kind.MANUAL and last.reason_code == "performance"
    # the new owner's clock is a new cycle: it starts from the reassignment
    assert "0 new" in scan(f"{MON}T17:01")


def test_status_update_clock_restarts_and_opens_a_manager_task_at_200_percent(org):
    only("status_update")
    rep, manager = org["rep"], org["manager"]
    lead = make_lead(owner=rep, status="contacted", created_at=at(f"{MON}T09:00"),
                     status_changed_at=at(f"{MON}T09:00"))
    scan("2026-03-10T09:00")
    assert "breach" in levels(lead)
    assert not Task.objects.filter(assignee=manager).exists()
    scan("2026-03-11T09:00")
    task = Task.objects.get(assignee=manager)
    assert task.origin == Task.Origin.SLA and task.linked_id == lead.pk
    # an update restarts the clock: old crossings resolve, no new ones until 24 h later
    Lead.objects.filter(pk=lead.pk).update(status="qualified", status_changed_at=at("2026-03-11T10:00"))
    out = scan("2026-03-11T10:01")
    assert "0 new" in out and "3 resolved" in out
    scan("2026-03-12T10:00")
    assert levels(lead).count("breach") == 2


def test_a_grade_first_contact_two_hours_only_for_a_grade(org):
    only("a_grade_first_contact")
    rep = org["rep"]
    a = make_lead(owner=rep, grade="A", created_at=at(f"{MON}T09:00"))
    b = make_lead(owner=rep, grade="B", created_at=at(f"{MON}T09:00"))
    scan(f"{MON}T11:00")
    assert levels(a) == ["breach", "warning"] and levels(b) == []
    # the warning is skipped when the scan finds the clock already past the breach: one message, not two
    assert inbox(rep) == 1


def test_bot_message_is_queued_once_with_the_phone_masked_at_delivery(org):
    only("a_grade_first_contact")
    channel = Channel.objects.create(name="wecom", kind="wecom", webhook_url="http://127.0.0.1:9/x")
    make_lead(owner=org["rep"], grade="A", phone="13812345678", created_at=at(f"{MON}T09:00"))
    scan(f"{MON}T11:00")
    scan(f"{MON}T11:05")
    msgs = list(OutboxMessage.objects.filter(channel=channel))
    assert len(msgs) == 1
    from baton.notifications.bots import build_request

    _url, body = build_request("wecom", channel.webhook_url, "", msgs[0].payload)
    assert "138****5678" in body["markdown"]["content"]
    assert "13812345678" not in body["markdown"]["content"]


def test_policy_with_bad_escalation_is_refused():
    from baton.sla.services import policy_create

    with pytest.raises(ValidationFailed):
        policy_create(actor=None, name="bad", start_event="created", stop_event="assigned", target_seconds=600,
                      escalation=[{"at": 50, "actions": ["explode"]}])


def test_scan_without_now_uses_the_clock(org):
    only("unassigned")
    make_lead(created_at=at(f"{MON}T09:00"))
    with clock.frozen(at(f"{MON}T12:00")):
        assert sla_scan()["new"] == 2


def test_minute_scans_are_incremental_and_the_hourly_full_pass_closes_the_gaps(org):
    from baton.sla.tasks import scan_now

    only("unassigned")
    ops = org["ops"]
    scan_now(at(f"{MON}T09:00"))  # sets the high-water mark
    # Imported late with old timestamps: its breach fell due before the last scan, and nothing touched it since.
    late = make_lead(created_at=at(f"{MON}T04:00"), updated_at=at(f"{MON}T04:00"))
    # A breached lead given an owner behind the services' back (no timestamp the scanner watches moves).
    stuck = make_lead(created_at=at(f"{MON}T08:00"), updated_at=at(f"{MON}T08:00"))
    scan_now(at(f"{MON}T10:01"))
    assert levels(stuck) == ["breach", "warning"] and levels(late) == []
    Lead.objects.filter(pk=stuck.pk).update(owner=org["rep"])
    out = scan_now(at(f"{MON}T10:30"))  # a minute scan: neither is seen
    assert out["new"] == 0 and out["resolved"] == 0
    assert levels(late) == []
    out = scan_now(at(f"{MON}T11:00"))  # on the hour: the full pass
    assert levels(late) == ["breach", "escalation_1", "warning"] and out["new"] == 3
    assert out["resolved"] == 2
    assert not SlaCrossing.objects.filter(item_id=stuck.pk, resolved_at__isnull=True).exists()
    # the stuck lead's breach; the late lead's breach and 200 % step (its warning is skipped: found at once)
    assert inbox(ops) == 3
    # and the next full pass fires nothing again
    assert scan_now(at(f"{MON}T12:00")) == {"new": 0, "resolved": 0, "fired": 0}


def test_due_times_are_exact_to_the_microsecond(org):
    only("unassigned")
    lead = make_lead(created_at=at(f"{MON}T09:00:00.123456"))
    sla_scan(at(f"{MON}T11:30"))
    due = SlaCrossing.objects.get(item_id=lead.pk, level="breach").due_at
    assert due == at(f"{MON}T11:00:00.123456")
    assert SlaCrossing.objects.get(item_id=lead.pk, level="warning").cycle_start == lead.created_at


def test_one_scan_records_every_level_due_with_its_own_due_time_and_says_it_in_local_time(org):
    only("unassigned")
    lead = make_lead(created_at=at(f"{MON}T09:00:00.250000"))
    assert sla_scan(at(f"{MON}T14:00"))["new"] == 3  # warning 10:30, breach 11:00, 200 % 13:00: all past
    got = {c.level: c for c in SlaCrossing.objects.filter(item_id=lead.pk)}
    assert {level: c.due_at for level, c in got.items()} == {
        "warning": at(f"{MON}T10:30:00.250000"), "breach": at(f"{MON}T11:00:00.250000"),
        "escalation_1": at(f"{MON}T13:00:00.250000")}
    assert {c.cycle_start for c in got.values()} == {lead.created_at}
    # the escalation read its crossings straight from the insert: the due times it quotes are the local ones
    bodies = sorted(Notification.objects.filter(recipient=org["ops"]).values_list("body", flat=True))
    assert len(bodies) == 2  # breach and 200 %; the warning is skipped when found together with them
    assert "2026-03-09 11:00" in bodies[0] and "2026-03-09 13:00" in bodies[1]


def test_a_minute_scan_records_every_due_level_of_an_item_touched_since_the_last_scan(org):
    from baton.sla.tasks import scan_now

    only("unassigned")
    scan_now(at(f"{MON}T09:00"))
    # written after the last scan with an old creation time (a late import): all three levels are past due
    lead = make_lead(created_at=at(f"{MON}T04:00"), updated_at=at(f"{MON}T09:00:30"))
    assert scan_now(at(f"{MON}T09:01"))["new"] == 3
    assert levels(lead) == ["breach", "escalation_1", "warning"]
    assert SlaCrossing.objects.get(item_id=lead.pk, level="escalation_1").due_at == at(f"{MON}T08:00")
    assert scan_now(at(f"{MON}T09:02"))["new"] == 0
