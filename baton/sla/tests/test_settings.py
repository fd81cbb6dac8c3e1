"""SLA settings pages (policies with recipients, holidays, reason codes, report schedules), recipients
honoured by the escalation, and transferring a deal from the board."""

import json
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from baton.core import clock
from baton.core.clock import parse_now as at
from baton.core.models import AuditEntry
from baton.core.testing.factories import make_lead, make_opportunity, make_team, make_user
from baton.notifications import services as notifications
from baton.notifications.models import Channel, Notification, OutboxMessage
from baton.notifications.tests.conftest import SECRET
from baton.sla.models import HolidayOverride, ReportSchedule, SlaCrossing, SlaPolicy, SlaReasonCode
from baton.sla.services import policy_update, sla_install_defaults, sla_scan

pytestmark = pytest.mark.django_db
NOW = at("2026-03-09T15:00")  # a Monday


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def ops(client):
    user = make_user(roles=("ops",), language="en")
    client.force_login(user)
    return user


def audits(obj, **kw):
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk, **kw)


def policy_post(**over):
    data = {"name": "A-grade deals idle", "target": "leads", "condition": json.dumps({"field": "grade", "op": "eq",
                                                                                        "value": "A"}),
            "start_event": "created", "stop_event": "first_contact", "hours": "2", "minutes": "30",
            "calendar": "working_hours", "work_start": "09:00", "work_end": "18:00", "warning_pct": "80",
            "escalation": json.dumps([{"at": 100, "actions": ["notify_owner", "notify_manager"]},
                                      {"at": 200, "actions": ["manager_task"]}]), "active": "on"}
    data.update(over)
    return data


def test_a_rep_gets_403_on_every_settings_page(client):
    sla_install_defaults()
    client.force_login(make_user(language="en"))
    policy = SlaPolicy.objects.first()
    urls = [reverse(n) for n in ("sla:policies", "sla:policy_create", "sla:holidays", "sla:reasons",
                                 "sla:reason_create", "sla:schedules", "sla:schedule_create", "sla:schedule_preview")]
    for url in urls + [reverse("sla:policy_edit", args=[policy.pk])]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("sla:policy_create"), policy_post()).status_code == 403
    assert client.post(reverse("sla:holidays"), {"date": "2026-10-10", "is_workday": "0"}).status_code == 403
    assert not SlaPolicy.objects.filter(name="A-grade deals idle").exists() and not HolidayOverride.objects.exists()


def test_ops_creates_and_edits_a_policy_version_bumps_and_is_audited(client, ops):
    sla_install_defaults()
    r = client.post(reverse("sla:policy_create"), policy_post())
    assert r.status_code == 302, r.context["form"].errors
    p = SlaPolicy.objects.get(name="A-grade deals idle")
    assert (p.target_seconds, p.calendar, p.warning_pct, p.condition["value"], p.version) == \
        (2 * 3600 + 30 * 60, "working_hours", 80, "A", 1)
    assert audits(p, action="create", actor=ops).exists()
    page = client.get(reverse("sla:policies")).content.decode()
    assert "A-grade deals idle" in page and "grade eq A" in page and "2 h 30 min" in page
    form = client.get(reverse("sla:policy_edit", args=[p.pk])).content.decode()
    assert "model=lead" in form and 'id="escalation-steps"' in form
    r = client.post(reverse("sla:policy_edit", args=[p.pk]), policy_post(hours="4", minutes="0"))
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.target_seconds, p.version) == (4 * 3600, 2)
    assert audits(p, action="update", changes__has_key="target_seconds").exists()
    # an opportunity policy gets the opportunity fields in its condition editor
    assert "model=opportunity" in client.get(reverse("sla:policy_create"), {"target": "opportunities"}).content.decode()


def test_policy_validation_errors_land_on_the_fields(client, ops):
    r = client.post(reverse("sla:policy_create"), policy_post(
        stop_event="stage_left", hours="0", minutes="0", work_start="18:00", work_end="09:00",
        condition=json.dumps({"field": "no_such_field", "op": "eq", "value": 1})))
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert "hours" in errors
    r = client.post(reverse("sla:policy_create"), policy_post(
        stop_event="stage_left", work_start="18:00", work_end="09:00",
        condition=json.dumps({"field": "no_such_field", "op": "eq", "value": 1})))
    errors = r.context["form"].errors
    assert {"stop_event", "work_end", "condition"} <= set(errors)
    # steps: unknown role, missing channel for notify_channel, duplicate percentages
    bad = [{"at": 100, "actions": ["notify_owner"], "recipients": {"roles": ["astronaut"]}},
           {"at": 150, "actions": ["notify_channel"]}]
    r = client.post(reverse("sla:policy_create"), policy_post(escalation=json.dumps(bad)))
    text = " ".join(r.context["form"].errors["escalation"])
    assert "astronaut" in text and "channel" in text
    r = client.post(reverse("sla:policy_create"), policy_post(escalation=json.dumps(
        [{"at": 100, "actions": ["notify_owner"]}, {"at": 100, "actions": ["manager_task"]}])))
    assert "escalation" in r.context["form"].errors
    assert not SlaPolicy.objects.exists()


def test_holiday_override_editor(client, ops):
    r = client.post(reverse("sla:holidays"), {"date": "2027-10-01", "is_workday": "0", "name": "国庆节"})
    assert r.status_code == 302
    h = HolidayOverride.objects.get()
    assert (h.is_workday, h.name) == (False, "国庆节") and audits(h, action="create").exists()
    client.post(reverse("sla:holidays"), {"date": "2027-10-01", "is_workday": "1", "name": "调休"})
    h.refresh_from_db()
    assert h.is_workday is True and HolidayOverride.objects.count() == 1
    assert "调休" in client.get(reverse("sla:holidays")).content.decode()
    r = client.post(reverse("sla:holidays"), {"date": "not a date", "is_workday": "0"})
    assert "date" in r.context["form"].errors
    client.post(reverse("sla:holiday_delete", args=[h.pk]))
    assert not HolidayOverride.objects.exists()


def test_reason_code_editor(client, ops):
    assert "customer_later" in client.get(reverse("sla:reasons")).content.decode()  # shipped ones
    r = client.post(reverse("sla:reason_create"), {"code": "budget_freeze", "label": "预算冻结", "active": "on"})
    assert r.status_code == 302
    reason = SlaReasonCode.objects.get(code="budget_freeze")
    assert audits(reason, action="create", actor=ops).exists()
    r = client.post(reverse("sla:reason_create"), {"code": "budget_freeze", "label": "dup", "active": "on"})
    assert r.status_code == 200 and "code" in r.context["form"].errors
    client.post(reverse("sla:reason_edit", args=[reason.pk]), {"code": "budget_freeze", "label": "预算冻结"})
    reason.refresh_from_db()
    assert reason.active is False  # no longer offered on the board
    assert "budget_freeze" not in [r.code for r in SlaReasonCode.objects.filter(active=True)]


def test_report_schedule_editor_validates_cron_and_previews_next_runs(client, ops):
    manager = make_user(roles=("manager",))
    bot = Channel.objects.create(name="周报群", kind="wecom", webhook_url="http://127.0.0.1:9/wecom")
    data = {"name": "周报", "kind": "weekly_health", "cron": "0 17 * * 9", "time_zone": "Asia/Shanghai",
            "recipients": [manager.pk], "channels": [bot.pk], "active": "on"}
    r = client.post(reverse("sla:schedule_create"), data)
    assert r.status_code == 200 and "cron" in r.context["form"].errors
    assert 'id="cron-preview-error"' in r.content.decode()
    r = client.post(reverse("sla:schedule_create"), {**data, "cron": "0 17 * * 5", "time_zone": "Mars/Olympus"})
    assert "time_zone" in r.context["form"].errors
    r = client.post(reverse("sla:schedule_create"), {**data, "cron": "0 17 * * 5"})
    assert r.status_code == 302
    s = ReportSchedule.objects.get(name="周报")
    assert list(s.recipients.all()) == [manager] and list(s.channels.all()) == [bot]
    assert audits(s, action="create").exists()
    # now = Monday 2026-03-09 23:00 Shanghai: the next three Fridays 17:00
    page = client.get(reverse("sla:schedule_edit", args=[s.pk])).content.decode()
    assert "2026-03-13 Fri 17:00" in page and "2026-03-20 Fri 17:00" in page and "2026-03-27 Fri 17:00" in page
    part = client.get(reverse("sla:schedule_preview"), {"cron": "30 8 * * *", "time_zone": "Asia/Shanghai"})
    assert "2026-03-10 Tue 08:30" in part.content.decode() and "2026-03-12 Thu 08:30" in part.content.decode()
    part = client.get(reverse("sla:schedule_preview"), {"cron": "99 * * * *", "time_zone": "Asia/Shanghai"})
    assert "cron-preview-error" in part.content.decode()
    client.post(reverse("sla:schedule_edit", args=[s.pk]), {**data, "cron": "0 9 * * 1", "recipients": []})
    s.refresh_from_db()
    assert s.cron == "0 9 * * 1" and not s.recipients.exists() and s.active


def test_step_recipients_role_holders_named_users_and_listed_bots_are_told(bots):
    sla_install_defaults()
    SlaPolicy.objects.exclude(code="status_update").update(active=False)
    manager = make_user(roles=("manager",))
    team = make_team(manager=manager)
    rep = make_user(team=team, manager=manager)
    director = make_user(roles=("director",))
    named = make_user()
    bystander = make_user()
    listed = Channel.objects.create(name="ding", kind="dingtalk", webhook_url=bots.url("dingtalk"), secret=SECRET,
                                    message_format="action_card")
    Channel.objects.create(name="feishu everyone", kind="feishu", webhook_url=bots.url("feishu"), secret=SECRET)
    policy = SlaPolicy.objects.get(code="status_update")
    policy_update(policy=policy, actor=None, escalation=[
        {"at": 100, "actions": ["notify_owner", "notify_channel"],
         "recipients": {"owner": False, "manager": False, "roles": ["director"], "users": [named.pk],
                        "channels": [listed.pk]}},
        {"at": 200, "actions": ["manager_task"]}])
    lead = make_lead(owner=rep, company="Quiet Co", created_at=NOW - timedelta(hours=30))
    sla_scan(NOW)
    told = set(Notification.objects.filter(title__contains="Quiet Co").values_list("recipient_id", flat=True))
    assert told == {director.pk, named.pk}  # not the owner, the manager or anyone else
    assert bystander.pk not in told and rep.pk not in told
    assert list(OutboxMessage.objects.values_list("channel_id", flat=True)) == [listed.pk]
    assert notifications.outbox_deliver(NOW)["sent"] == 1
    [body] = bots.received["dingtalk"]
    assert body["msgtype"] == "actionCard" and "Quiet Co" in body["actionCard"]["title"]
    assert body["actionCard"]["singleURL"].endswith(f"/sla/board/?item=leads:{lead.pk}")
    assert bots.received["feishu"] == []
    # the alert resolves: the named users' in-app alerts are marked read
    sla_scan(NOW)
    crossing = SlaCrossing.objects.get(item_id=lead.pk, level="breach")
    from baton.sla.services import _close

    _close([crossing.pk], NOW, "test")
    assert not Notification.objects.filter(title__contains="Quiet Co", read_at__isnull=True).exists()


def test_opportunity_transfer_from_the_board_audited_and_resolves_alerts(client):
    from baton.assignment.services import assignment_install_defaults

    assignment_install_defaults()
    manager = make_user(roles=("manager",), language="en")
    team = make_team(manager=manager)
    rep = make_user(team=team, manager=manager, language="en")
    rep2 = make_user(team=team, manager=manager, language="en")
    SlaPolicy.objects.create(name="Deal idle 1 h", target="opportunities", start_event="stage_entered",
                             stop_event="stage_left", target_seconds=3600)
    with clock.frozen(NOW - timedelta(hours=3)):
        opp = make_opportunity(owner=rep, name="Big Deal")
    sla_scan(NOW)
    assert SlaCrossing.objects.filter(item_id=opp.pk, resolved_at__isnull=True).exists()
    client.force_login(manager)
    html = client.get(reverse("sla:board")).content.decode()
    assert "Big Deal" in html and f'value="opportunities:{opp.pk}"' in html
    r = client.post(reverse("sla:transfer"), {"item": f"opportunities:{opp.pk}", "to": f"user:{rep2.pk}",
                                              "reason_code": "absent", "note": "rep on leave"}, follow=True)
    assert "was transferred" in r.content.decode()
    opp.refresh_from_db()
    assert opp.owner == rep2
    assert not SlaCrossing.objects.filter(item_id=opp.pk, item_type="opportunities", resolved_at__isnull=True).exists()
    assert audits(opp, action="update", actor=manager, changes__has_key="owner").exists()
    assert audits(opp, action="event", message__contains="rep on leave").exists()
    # a rep may not transfer deals; a bad reason is refused
    client.force_login(rep2)
    assert client.post(reverse("sla:transfer"), {"item": f"opportunities:{opp.pk}", "to": f"user:{rep.pk}",
                                                 "reason_code": "absent"}).status_code == 404
    client.force_login(manager)
    r = client.post(reverse("sla:transfer"), {"item": f"opportunities:{opp.pk}", "to": f"user:{rep.pk}",
                                              "reason_code": "nope"}, follow=True)
    assert "Choose a reason" in r.content.decode()
    opp.refresh_from_db()
    assert opp.owner == rep2
