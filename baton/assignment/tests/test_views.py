"""Pools pages, the live board, absences, the lead's "Why" card and a manager's reassignment."""

import json

import pytest

from baton.assignment.models import Assignment, MemberAbsence, Pool, PoolMember
from baton.assignment.services import lead_auto_assign
from baton.core.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client):
    user = f.user("ops1", roles=("ops",))
    client.force_login(user)
    return user


def test_rep_is_refused(client):
    client.force_login(f.user("rep1", roles=("rep",)))
    for url in ("/pools/", "/pools/new/", "/pools/board/", "/pools/absences/"):
        assert client.get(url).status_code == 403, url


def test_ops_creates_a_pool_adds_a_member_and_sees_it_on_list_and_board(client, ops):
    condition = {"all": [{"field": "grade", "op": "eq", "value": "A"}]}
    r = client.post("/pools/new/", {"name": "VIP", "priority": 5, "strategy": "weighted", "action": "assign",
                                    "active": "on", "condition": json.dumps(condition), "dynamic_rule": ""})
    assert r.status_code == 302
    pool = Pool.objects.get(name="VIP")
    assert pool.condition == condition and pool.strategy == "weighted"
    rep = f.user("rep9", roles=("rep",), display_name="王小明")
    r = client.post(f"/pools/{pool.pk}/members/", {"user": rep.pk, "weight": 3, "daily_cap": 4})
    assert r.status_code == 302
    member = PoolMember.objects.get(pool=pool, user=rep)
    assert (member.weight, member.daily_cap) == (3, 4)
    lead = f.lead(grade="A")
    lead_auto_assign(lead=lead)
    listing = client.get("/pools/")
    assert b"VIP" in listing.content and "王小明".encode() in listing.content
    board = client.get("/pools/board/")
    assert board.status_code == 200 and b"1 / 4" in board.content
    partial = client.get("/pools/board/", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"1 / 4" in partial.content


def test_absence_form(client, ops):
    rep = f.user("rep2", roles=("rep",))
    r = client.post("/pools/absences/", {"user": rep.pk, "date_from": "2026-03-02", "date_to": "2026-03-04",
                                         "reason": "leave", "note": ""})
    assert r.status_code == 302 and MemberAbsence.objects.filter(user=rep).exists()
    r = client.post("/pools/absences/", {"user": rep.pk, "date_from": "2026-03-05", "date_to": "2026-03-01",
                                         "reason": "leave"})
    assert r.status_code == 200 and MemberAbsence.objects.filter(user=rep).count() == 1


def test_lead_page_explains_and_manager_reassigns(client):
    pool = Pool.objects.create(name="Round", strategy="round_robin")
    first, second = f.user("r1", roles=("rep",)), f.user("r2", roles=("rep",))
    PoolMember.objects.create(pool=pool, user=first)
    lead = f.lead()
    lead_auto_assign(lead=lead)
    client.force_login(f.user("boss", roles=("ops",)))
    page = client.get(f"/leads/{lead.pk}/")
    assert b'id="lead-why"' in page.content and b"Round" in page.content
    client.force_login(f.user("dir", roles=("director",), is_superuser=True))
    r = client.post(f"/pools/reassign/{lead.pk}/", {"to_user": second.pk, "reason_code": "workload", "note": "x"})
    assert r.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == second
    assert Assignment.objects.filter(lead=lead, kind="manual", reason_code="workload").exists()
    r = client.post(f"/pools/reassign/{lead.pk}/", {"to_user": first.pk, "reason_code": ""})
    assert r.status_code == 200  # the reason is required


def test_rep_cannot_reassign(client):
    rep = f.user("rep3", roles=("rep",))
    lead = f.lead(owner=rep)
    client.force_login(rep)
    assert client.get(f"/pools/reassign/{lead.pk}/").status_code == 403
