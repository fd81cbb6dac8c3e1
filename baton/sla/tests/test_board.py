"""The timeliness board and its one-click actions, clock badges, and the write path's stop."""

from datetime import timedelta

import pytest
from django.urls import reverse

from baton.activities.services import activity_create
from baton.assignment.models import Assignment, Pool, PoolMember
from baton.assignment.services import assignment_install_defaults
from baton.core import clock
from baton.core.clock import parse_now as at
from baton.core.models import AuditEntry
from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_lead, make_opportunity, make_team, make_user
from baton.leads.services import lead_update
from baton.notifications.models import Notification
from baton.sla.models import SlaCrossing, SlaPolicy
from baton.sla.services import sla_install_defaults, sla_scan

pytestmark = pytest.mark.django_db
NOW = at("2026-03-09T15:00")  # a Monday


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def org():
    sla_install_defaults()
    assignment_install_defaults()
    manager = make_user(roles=("manager",), language="en")
    team = make_team(manager=manager)
    rep = make_user(team=team, manager=manager, language="en")
    rep2 = make_user(team=team, manager=manager, language="en")
    outsider = make_user(team=make_team(), language="en")
    return {"manager": manager, "team": team, "rep": rep, "rep2": rep2, "outsider": outsider}


def only(*codes):
    SlaPolicy.objects.exclude(code__in=codes).update(active=False)


def board_table(html):
    return html[html.index('id="sla-board"'):]


def client_for(client, user):
    client.force_login(user)
    return client


def test_board_lists_only_breaching_items_in_scope_most_overdue_first(client, org):
    only("status_update")  # no status update > 24 h, 24×7
    rep, outsider = org["rep"], org["outsider"]
    late = make_lead(owner=rep, company="Late Co", created_at=NOW - timedelta(hours=30), grade="C")
    later = make_lead(owner=rep, company="Later Co", created_at=NOW - timedelta(hours=40), grade="B")
    warn = make_lead(owner=rep, company="Warn Co", created_at=NOW - timedelta(hours=20))
    make_lead(owner=rep, company="Fresh Co", created_at=NOW - timedelta(hours=1))
    make_lead(owner=outsider, company="Elsewhere Co", created_at=NOW - timedelta(hours=50))
    sla_scan(NOW, fire=False)
    html = client_for(client, rep).get(reverse("sla:board")).content.decode()
    assert "Elsewhere Co" not in html and "Fresh Co" not in html
    assert html.index("Later Co") < html.index("Late Co") < html.index("Warn Co")
    assert "overdue 16 h 00 min" in html and "overdue 6 h 00 min" in html and "4 h 00 min left" in html
    # filters: state, and sort by grade
    html = client.get(reverse("sla:board"), {"state": "warning"}).content.decode()
    assert "Warn Co" in html and "Late Co" not in html
    html = client.get(reverse("sla:board"), {"sort": "grade"}).content.decode()
    assert html.index("Later Co") < html.index("Late Co")  # B before C
    html = client.get(reverse("sla:board"), {"owner": org["rep2"].pk}).content.decode()
    assert "Late Co" not in html
    # the manager sees the team's; the outsider's lead stays out of the rep's deep link too
    html = client_for(client, org["manager"]).get(reverse("sla:board"), {"team": org["team"].pk}).content.decode()
    assert "Late Co" in html and "Elsewhere Co" not in html
    client_for(client, rep)
    other = SlaCrossing.objects.filter(item_id__in=[late.pk, later.pk, warn.pk]).count()
    assert other == 5  # warning+breach, warning+breach, warning


def test_transfer_from_the_board_resolves_the_alert_and_is_audited(client, org):
    only("first_contact")
    rep, rep2, manager = org["rep"], org["rep2"], org["manager"]
    lead = make_lead(owner=rep, company="Slow Co", created_at=at("2026-03-09T09:00"))
    sla_scan(NOW)  # 6 working hours since 09:00: breach → rep and manager told
    assert Notification.objects.filter(recipient=manager, read_at__isnull=True).count() == 1
    open_ = SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True)
    assert open_.count() == 2
    c = client_for(client, manager)
    page = c.get(reverse("sla:board"), {"item": f"leads:{lead.pk}"}).content.decode()
    assert "Slow Co" in page and 'name="to"' in page
    reply = c.post(reverse("sla:transfer"), {"item": f"leads:{lead.pk}", "to": f"user:{rep2.pk}",
                                             "reason_code": "performance", "note": "too slow"})
    assert reply.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == rep2
    assert not open_.exists()
    assert set(SlaCrossing.objects.filter(item_id=lead.pk).values_list("resolution", flat=True)) == {
        "transferred:performance"}
    assert not Notification.objects.filter(read_at__isnull=True, key__startswith="sla:").exists()
    a = Assignment.objects.get(lead=lead)
    assert (a.kind, a.user, a.reason_code, a.note) == ("manual", rep2, "performance", "too slow")
    assert AuditEntry.objects.filter(object_id=lead.pk, message__contains="resolved by transfer").exists()
    # the transfer started a new clock: nothing on the board until it runs late again
    assert "Slow Co" not in board_table(c.get(reverse("sla:board")).content.decode())


def test_transfer_back_to_the_pool(client, org):
    only("first_contact")
    rep, rep2, manager = org["rep"], org["rep2"], org["manager"]
    pool = Pool.objects.create(name="East", strategy="round_robin")
    PoolMember.objects.create(pool=pool, user=rep2)
    lead = make_lead(owner=rep, company="Pool Co", created_at=at("2026-03-09T09:00"))
    sla_scan(NOW, fire=False)
    client_for(client, manager).post(reverse("sla:transfer"), {
        "item": f"leads:{lead.pk}", "to": f"pool:{pool.pk}", "reason_code": "performance"})
    lead.refresh_from_db()
    assert lead.owner == rep2 and Assignment.objects.get(lead=lead).pool == pool
    assert not SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).exists()


def test_a_rep_cannot_transfer_but_records_a_reason(client, org):
    only("first_contact")
    rep = org["rep"]
    lead = make_lead(owner=rep, company="Later Please Co", created_at=at("2026-03-09T09:00"))
    sla_scan(NOW)
    c = client_for(client, rep)
    c.post(reverse("sla:transfer"), {"item": f"leads:{lead.pk}", "to": f"user:{org['rep2'].pk}",
                                     "reason_code": "performance"})
    lead.refresh_from_db()
    assert lead.owner == rep  # refused: only managers move leads
    assert SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).count() == 2
    c.post(reverse("sla:reason"), {"item": f"leads:{lead.pk}", "reason_code": "customer_later",
                                   "note": "call on Tuesday"})
    assert not SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=rep, read_at__isnull=True).count() == 0
    entry = AuditEntry.objects.get(object_id=lead.pk, action="event")
    assert "call on Tuesday" in entry.message and entry.actor == rep
    assert "customer asked" in entry.message.lower() or "客户" in entry.message
    # an unknown reason, or a lead out of scope, is refused
    other = make_lead(owner=org["outsider"], created_at=at("2026-03-09T09:00"))
    sla_scan(NOW + timedelta(minutes=1), fire=False)
    assert c.post(reverse("sla:reason"), {"item": f"leads:{other.pk}", "reason_code": "other"}).status_code == 404
    assert SlaCrossing.objects.filter(item_id=other.pk, resolved_at__isnull=True).exists()


def test_badges_on_lead_list_and_detail_and_clocks_in_opportunity_json(client, org):
    only("first_contact")
    rep = org["rep"]
    lead = make_lead(owner=rep, company="Badge Co", created_at=at("2026-03-09T09:00"))
    sla_scan(NOW, fire=False)
    c = client_for(client, rep)
    html = c.get(reverse("leads:list")).content.decode()
    assert "sla-breached" in html and "overdue 2 h 00 min" in html  # due 13:00, now 15:00
    html = c.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert 'id="sla-actions"' in html and "text-danger" in html and "overdue 2 h 00 min" in html
    SlaPolicy.objects.create(name="Deal idle 3 d", target="opportunities", start_event="stage_entered",
                             stop_event="stage_left", target_seconds=3 * 86400)
    opp = make_opportunity(owner=rep)
    body = ApiClient(rep).get(f"/api/opportunities/{opp.pk}").json()
    [c] = body["clocks"]
    assert (c["policy"], c["state"], at(c["due_at"])) == ("Deal idle 3 d", "on_track", NOW + timedelta(days=3))


def test_write_path_resolves_open_alerts_at_once(org, django_capture_on_commit_callbacks):
    only("first_contact", "unassigned")
    rep = org["rep"]
    lead = make_lead(owner=rep, created_at=at("2026-03-09T09:00"))
    waiting = make_lead(created_at=NOW - timedelta(hours=3))
    sla_scan(NOW)
    assert SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        activity_create(actor=rep, kind="call", lead=lead, outcome="no_answer")
    assert not SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=rep, read_at__isnull=True).count() == 0
    # assignment stops the unassigned clock
    assert SlaCrossing.objects.filter(item_id=waiting.pk, resolved_at__isnull=True).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        lead_update(lead=waiting, actor=None, owner=rep)
    assert not SlaCrossing.objects.filter(item_id=waiting.pk, resolved_at__isnull=True).exists()
    # an unrelated change leaves a running clock's alert open
    late = make_lead(owner=rep, created_at=at("2026-03-09T09:00"))
    sla_scan(NOW + timedelta(minutes=1), fire=False)
    with django_capture_on_commit_callbacks(execute=True):
        lead_update(lead=late, actor=None, company="Renamed")
    assert SlaCrossing.objects.filter(item_id=late.pk, resolved_at__isnull=True).count() == 2


def test_alert_links_point_at_the_board_row(org, settings):
    settings.BATON_BASE_URL = "https://baton.example.com"
    only("first_contact")
    rep = org["rep"]
    lead = make_lead(owner=rep, created_at=at("2026-03-09T09:00"))
    sla_scan(NOW)
    n = Notification.objects.filter(recipient=rep).latest("id")
    assert n.link == f"/sla/board/?item=leads:{lead.pk}"  # relative in the app
