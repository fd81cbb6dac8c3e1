"""Scheduled reports: the weekly health figures against a hand-computed fixture, TOP20, schedules, delivery."""

import io
from datetime import timedelta
from email import message_from_string
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from baton.activities.models import Activity
from baton.assignment.models import Assignment
from baton.core import clock
from baton.core.clock import parse_now as at
from baton.core.testing.factories import make_activity, make_lead, make_team, make_user
from baton.notifications.models import Channel, Notification
from baton.notifications.services import outbox_deliver
from baton.sla import reports
from baton.sla.models import ReportRun, ReportSchedule, SlaCrossing, SlaPolicy
from baton.sla.services import sla_install_defaults, sla_scan

pytestmark = pytest.mark.django_db
END = at("2026-03-13T17:00")  # Friday 17:00, Asia/Shanghai


def crossing(lead, level, when):
    policy = SlaPolicy.objects.get(code="unassigned")
    SlaCrossing.objects.create(item_type="leads", item_id=lead.pk, policy=policy, level=level,
                               cycle_start=lead.created_at, due_at=when, crossed_at=when, scan_token="t")


def assign(lead, user, when, kind=Assignment.Kind.AUTO):
    Assignment.objects.create(lead=lead, user=user, kind=kind, at=at(when))


@pytest.fixture
def week():
    """This week: L1..L5; the week before: P1; one lead right at the end (not counted)."""
    sla_install_defaults()
    m = make_user(roles=("manager",), username="m")
    t1, t2 = make_team(name="T1", manager=m), make_team(name="T2")
    r1, r2 = make_user(username="r1", team=t1), make_user(username="r2", team=t1)
    r3 = make_user(username="r3", team=t2)
    l1 = make_lead(owner=r1, created_at=at("2026-03-09T10:00"))
    assign(l1, r1, "2026-03-09T10:00")
    make_activity(author=r1, lead=l1, kind="call", outcome="connected", occurred_at=at("2026-03-09T10:30"))
    l2 = make_lead(owner=r1, created_at=at("2026-03-09T11:00"))
    assign(l2, r2, "2026-03-09T11:00")
    assign(l2, r1, "2026-03-09T12:00", Assignment.Kind.MANUAL)
    make_activity(author=r1, lead=l2, kind="note", occurred_at=at("2026-03-09T11:30"))  # not a contact
    make_activity(author=r1, lead=l2, kind="call", outcome="no_answer", occurred_at=at("2026-03-09T13:00"))
    make_activity(author=r1, lead=l2, kind="call", outcome="connected", occurred_at=at("2026-03-09T14:00"))
    crossing(l2, "breach", at("2026-03-09T16:00"))
    l3 = make_lead(owner=r2, created_at=at("2026-03-10T09:00"))
    assign(l3, r2, "2026-03-10T09:00")
    crossing(l3, "warning", at("2026-03-10T10:30"))  # a warning is not a timeout
    l4 = make_lead(owner=r3, created_at=at("2026-03-11T09:00"))
    assign(l4, r3, "2026-03-11T09:00")
    make_activity(author=r3, lead=l4, kind="visit", outcome="connected", occurred_at=at("2026-03-11T09:20"))
    l5 = make_lead(created_at=at("2026-03-12T09:00"))
    crossing(l5, "breach", at("2026-03-12T11:00"))
    late = make_lead(owner=r1, created_at=END)  # the next week's
    crossing(late, "breach", END)
    p1 = make_lead(owner=r1, created_at=at("2026-03-02T10:00"))
    assign(p1, r1, "2026-03-02T10:00")
    make_activity(author=r1, lead=p1, kind="call", outcome="connected", occurred_at=at("2026-03-02T10:10"))
    crossing(p1, "breach", at("2026-03-02T12:00"))
    return {"r1": r1, "r2": r2, "r3": r3, "m": m}


def pick(d, *keys):
    return {k: d[k] for k in keys}


KEYS = ("received", "timeout_rate", "transfer_rate", "first_contact_success_rate", "median_first_contact_minutes")


def test_weekly_health_figures_match_the_hand_computed_answers(week, settings):
    settings.LANGUAGE_CODE = "en"  # the report speaks the site language; the labels below are the English ones
    fig = reports.weekly_health(END)
    total = fig["total"]
    # received L1..L5 = 5; breached L2, L5 of 5 started = 0.4; reassigned L2 of assigned L1-L4 = 0.25;
    # first attempt connected L1, L4 of attempted L1, L2, L4 = 2/3; minutes to first attempt 30, 120, 20 → 30
    assert pick(total, *KEYS) == {"received": 5, "timeout_rate": 0.4, "transfer_rate": 0.25,
                                  "first_contact_success_rate": 0.6667, "median_first_contact_minutes": 30.0}
    # the week before: P1 alone — breached, not transferred, connected, 10 minutes
    assert total["change"] == {"received": 4, "timeout_rate": -0.6, "transfer_rate": 0.25,
                               "first_contact_success_rate": -0.3333, "median_first_contact_minutes": 20.0}
    teams = {t["team"]: t for t in fig["teams"]}
    assert set(teams) == {"T1", "T2", "No team"}
    assert pick(teams["T1"], *KEYS) == {"received": 3, "timeout_rate": 0.3333, "transfer_rate": 0.3333,
                                        "first_contact_success_rate": 0.5, "median_first_contact_minutes": 75.0}
    reps = {r["rep"]: r for r in teams["T1"]["reps"]}
    assert pick(reps[str(week["r1"])], *KEYS) == {"received": 2, "timeout_rate": 0.5, "transfer_rate": 0.5,
                                                  "first_contact_success_rate": 0.5,
                                                  "median_first_contact_minutes": 75.0}
    assert reps[str(week["r1"])]["change"]["timeout_rate"] == -0.5  # r1's week before: P1, breached
    assert reps[str(week["r1"])]["change"]["median_first_contact_minutes"] == 65.0
    assert pick(reps[str(week["r2"])], *KEYS) == {"received": 1, "timeout_rate": 0.0, "transfer_rate": 0.0,
                                                  "first_contact_success_rate": None,
                                                  "median_first_contact_minutes": None}
    assert reps[str(week["r2"])]["change"]["timeout_rate"] is None  # nothing the week before
    assert pick(teams["T2"], *KEYS) == {"received": 1, "timeout_rate": 0.0, "transfer_rate": 0.0,
                                        "first_contact_success_rate": 1.0, "median_first_contact_minutes": 20.0}
    assert pick(teams["No team"], *KEYS) == {"received": 1, "timeout_rate": 1.0, "transfer_rate": None,
                                             "first_contact_success_rate": None,
                                             "median_first_contact_minutes": None}


def test_weekly_report_is_delivered_by_bot_email_with_excel_and_kept_with_definitions(week, bots, smtp, client,
                                                                                      settings):
    settings.BATON_BASE_URL = "https://baton.example.com"
    wecom = Channel.objects.create(name="team bot", kind="wecom", webhook_url=bots.url("wecom"))
    mail = Channel.objects.create(name="mail", kind="email")
    week["m"].email = "m@example.com"
    week["m"].save()
    with clock.frozen(at("2026-03-01T09:00")):
        reports.report_install_defaults()
    s = ReportSchedule.objects.get(kind="weekly_health")
    assert (s.cron, s.time_zone) == ("0 17 * * 5", "Asia/Shanghai")
    s.recipients.add(week["m"])
    s.channels.add(wecom, mail)
    out = StringIO()
    call_command("reports", "run", s.name, "--now", "2026-03-13T17:00", stdout=out)
    run = ReportRun.objects.get(schedule=s)
    assert run.status == "ok" and run.figures["total"]["received"] == 5
    with clock.frozen(END):
        outbox_deliver(END)
    [body] = bots.received["wecom"]
    text = body["markdown"]["content"]
    assert "40.0%" in text and f"https://baton.example.com/sla/reports/{run.pk}/" in text
    [email] = smtp.messages
    msg = message_from_string(email["data"])
    assert email["to"] == ["m@example.com"]
    parts = [p for p in msg.walk() if p.get_filename()]
    assert len(parts) == 1 and parts[0].get_filename().endswith(".xlsx")
    wb = load_workbook(io.BytesIO(parts[0].get_payload(decode=True)))
    rows = list(wb["Health"].iter_rows(values_only=True))
    assert rows[1][2:7] == (5, 0.4, 0.25, 0.6667, 30.0)
    assert wb["Definitions"].max_row == 5
    assert Notification.objects.filter(recipient=week["m"], link=f"/sla/reports/{run.pk}/").exists()
    # kept in the UI, each figure with its definition beside it
    client.force_login(week["m"])
    html = client.get(reverse("sla:report_run", args=[run.pk])).content.decode()
    assert "40.0%" in html and "-60.0 pt" in html
    assert html.count('class="small text-secondary mt-2 definition"') == 5
    assert str(run.name) in client.get(reverse("sla:report_runs")).content.decode()
    assert client.get(reverse("sla:report_excel", args=[run.pk])).status_code == 200
    # running the same time again does not send again
    call_command("reports", "run", s.name, "--now", "2026-03-13T17:00", stdout=out)
    assert ReportRun.objects.count() == 1


def test_schedule_runs_each_due_slot_once_as_the_clock_moves(week):
    with clock.frozen(at("2026-03-10T09:00")):  # created on a Tuesday
        s = ReportSchedule.objects.create(name="weekly", kind="weekly_health", cron="0 17 * * 5",
                                          time_zone="Asia/Shanghai")
    assert reports.reports_run_due(at("2026-03-13T16:59")) == []
    [run] = reports.reports_run_due(at("2026-03-13T17:00:30"))
    assert run.slot == END and run.period_start == END - timedelta(days=7)
    assert reports.reports_run_due(at("2026-03-13T17:01")) == []
    assert reports.reports_run_due(at("2026-03-16T09:00")) == []
    [nxt] = reports.reports_run_due(at("2026-03-20T17:00"))  # the next Friday
    assert nxt.slot == at("2026-03-20T17:00")
    assert ReportRun.objects.filter(schedule=s).count() == 2
    # the time zone is the schedule's: Friday 17:00 in London (GMT in March) is Saturday 01:00 in Shanghai
    with clock.frozen(at("2026-03-20T18:00")):
        london = ReportSchedule.objects.create(name="london", kind="daily_top20", cron="0 17 * * 5",
                                               time_zone="Europe/London")
    assert reports.reports_run_due(at("2026-03-21T00:59")) == []
    [run] = reports.reports_run_due(at("2026-03-21T01:00"))
    assert run.schedule == london and run.slot == at("2026-03-21T01:00")


def test_bad_cron_or_time_zone_is_refused():
    s = ReportSchedule(name="x", kind="daily_top20", cron="61 * * *", time_zone="Mars/Base")
    with pytest.raises(Exception) as exc:
        s.full_clean()
    assert {"cron", "time_zone"} <= set(exc.value.message_dict)


def test_daily_top20_orders_by_grade_times_overdue_with_reasons(settings):
    settings.LANGUAGE_CODE = "en"  # the reasons are written in the site language; asserted in English here
    sla_install_defaults()
    SlaPolicy.objects.exclude(code="unassigned").update(active=False)  # 2 h, 24×7
    now = at("2026-03-10T12:00")
    x = make_lead(company="X", grade="A", created_at=now - timedelta(hours=3))  # 1 h over × 3 = 3
    y = make_lead(company="Y", grade="C", created_at=now - timedelta(hours=6))  # 4 h over × 1 = 4
    z = make_lead(company="Z", grade="B", created_at=now - timedelta(hours=3))  # 1 h over × 2 = 2
    make_lead(company="W", grade="A", created_at=now - timedelta(minutes=100))  # warning only
    v = make_lead(company="V", grade="A", created_at=now - timedelta(hours=9))
    sla_scan(now, fire=False)
    SlaCrossing.objects.filter(item_id=v.pk).update(resolved_at=now)  # handled: not listed
    fig = reports.daily_top20(now)
    assert [i["lead"] for i in fig["items"]] == [y.pk, x.pk, z.pk]
    assert [i["score"] for i in fig["items"]] == [4.0, 3.0, 2.0]
    assert "grade A" in fig["items"][1]["reason"] and "1 h 00 min" in fig["items"][1]["reason"]
    assert "Unassigned" in fig["items"][0]["reason"] or "未分配" in fig["items"][0]["reason"]
    many = [make_lead(grade="B", created_at=now - timedelta(hours=5)) for _ in range(25)]
    sla_scan(now + timedelta(seconds=1), fire=False)
    assert len(reports.daily_top20(now)["items"]) == 20 and many
    assert Activity.objects.count() == 0
