"""Quick log (validation, next-step task, offline dedupe), script packs (installer, usage figures) and best
call windows, on hand-computed fixtures."""

from datetime import date, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from baton.activities.models import Activity, Task
from baton.core import clock
from baton.core.errors import ValidationFailed
from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.scripts import selectors, services
from baton.scripts.models import Script, ScriptPack, ScriptUse

pytestmark = pytest.mark.django_db
PW = "pw-12345678"
TZ = timezone.get_default_timezone()
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)  # a Monday


@pytest.fixture
def rep():
    return f.user("rep1", roles=("rep",), password=PW, display_name="王小明", language="en")


def web(user):
    c = Client()
    c.login(username=user.username, password=PW)
    return c


# ---- quick log -------------------------------------------------------------------------------------------

def test_quick_log_validation_errors(rep):
    lead = f.lead(owner=rep, company="Alpha")
    with clock.frozen(T0):
        cases = [
            (dict(kind="call", lead=lead), {"outcome"}),
            (dict(kind="call", outcome="connected", lead=lead), {"note"}),
            (dict(kind="call", outcome="busy"), {"record"}),
            (dict(kind="call", outcome="busy", lead=lead, next_step_date=date(2026, 3, 1)), {"next_step_date"}),
            (dict(kind="call", outcome="busy", lead=lead, next_step="Send quote"), {"next_step_date"}),
            (dict(kind="fax", outcome="busy", lead=lead), {"kind"}),
        ]
        for kwargs, fields in cases:
            with pytest.raises(ValidationFailed) as e:
                services.quick_log(actor=rep, **kwargs)
            assert {field for field, _m in e.value.errors} == fields, kwargs
    assert Activity.objects.count() == 0 and Task.objects.count() == 0


def test_quick_log_page_shows_errors_and_creates_next_step_task(rep):
    lead = f.lead(owner=rep, company="Alpha")
    c = web(rep)
    with clock.frozen(T0):
        page = c.get(f"/visits/log/?lead={lead.pk}")
        assert page.status_code == 200 and "Alpha" in page.content.decode()
        bad = c.post("/visits/log/", {"kind": "call", "outcome": "connected", "note": "", "lead": lead.pk})
        assert bad.status_code == 400 and "Write a line about the conversation." in bad.content.decode()
        ok = c.post("/visits/log/", {"kind": "call", "outcome": "connected", "note": "谈了报价", "lead": lead.pk,
                                     "next_step": "发报价单", "next_step_date": "2026-03-05"})
    assert ok.status_code == 302
    a = Activity.objects.get()
    assert (a.kind, a.outcome, a.note, a.lead_id, a.author_id) == ("call", "connected", "谈了报价", lead.pk, rep.pk)
    task = Task.objects.get()
    assert task.title == "发报价单" and task.assignee_id == rep.pk and task.linked_id == lead.pk
    assert timezone.localtime(task.due_at, TZ) == datetime(2026, 3, 5, 9, 0, tzinfo=TZ)
    other = f.user("rep2", roles=("rep",), password=PW)
    assert web(other).get(f"/visits/log/?lead={lead.pk}").status_code == 404


def test_quicklog_api_dedupes_by_client_id(rep):
    acc = f.account(owner=rep, name="Beta")
    api = ApiClient(rep, password=PW)
    body = {"kind": "note", "note": "门店拍照", "account": acc.pk, "client_id": "c-1",
            "next_step_date": (clock.now() + timedelta(days=2)).date().isoformat()}
    first = api.post("/api/quicklog", body)
    second = api.post("/api/quicklog", body)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["activity"] == second.json()["activity"] and second.json()["created"] is False
    assert Activity.objects.filter(client_id="c-1").count() == 1 and Task.objects.count() == 1
    # The plain activities API dedupes too, and another rep cannot take over the id.
    r1 = api.post("/api/activities", {"kind": "call", "outcome": "busy", "account": acc.pk, "client_id": "c-2"})
    r2 = api.post("/api/activities", {"kind": "call", "outcome": "busy", "account": acc.pk, "client_id": "c-2"})
    assert r1.json()["id"] == r2.json()["id"] and Activity.objects.filter(client_id="c-2").count() == 1
    other = f.user("rep2", roles=("rep",), password=PW)
    oacc = f.account(owner=other)
    assert ApiClient(other, password=PW).post("/api/activities", {"kind": "call", "account": oacc.pk,
                                                                 "client_id": "c-2"}).status_code == 409


# ---- script packs -----------------------------------------------------------------------------------------

def test_default_packs_install_once():
    assert services.scripts_install_defaults() == 3
    assert services.scripts_install_defaults() == 0
    assert set(ScriptPack.objects.values_list("scenario", flat=True)) == {"price_sensitive", "long_chain",
                                                                           "competitor"}
    assert Script.objects.count() == 9 and Script.objects.filter(body__contains="预算").exists()


def test_script_usage_per_script_rep_outcome_and_connect_rates(rep):
    services.scripts_install_defaults()
    s1, s2 = Script.objects.order_by("id")[:2]
    rep2 = f.user("rep2", roles=("rep",), password=PW, display_name="李四")
    lead = f.lead(owner=rep)
    lead2 = f.lead(owner=rep2)
    with clock.frozen(T0):
        # s1: 3 calls, 2 connected (rep 2, rep2 1). Without s1: 5 calls, 1 connected.
        services.quick_log(actor=rep, kind="call", outcome="connected", note="x", lead=lead, script_ids=[s1.pk])
        services.quick_log(actor=rep, kind="call", outcome="no_answer", lead=lead, script_ids=[s1.pk, s2.pk])
        services.quick_log(actor=rep2, kind="call", outcome="connected", note="y", lead=lead2,
                           script_ids=[s1.pk])
        for outcome in ("busy", "no_answer", "wrong_number", "busy"):
            services.quick_log(actor=rep, kind="call", outcome=outcome, lead=lead)
        services.quick_log(actor=rep, kind="call", outcome="connected", note="z", lead=lead)
        # A note with a script is a use but not a call.
        services.quick_log(actor=rep, kind="note", note="n", lead=lead, script_ids=[s2.pk])
        rows = {r["script"].pk: r for r in selectors.script_usage(since=T0 - timedelta(days=1))}
    r1, r2 = rows[s1.pk], rows[s2.pk]
    assert r1["uses"] == 3 and r1["by_rep"] == {"王小明": 2, "李四": 1}
    assert r1["by_outcome"] == {"connected": 2, "no_answer": 1}
    assert (r1["calls_with"], r1["connected_with"], r1["rate_with"]) == (3, 2, round(2 / 3, 4))
    assert (r1["calls_without"], r1["connected_without"], r1["rate_without"]) == (5, 1, 0.2)
    assert r2["uses"] == 2 and r2["by_outcome"] == {"no_answer": 1, "-": 1}
    assert (r2["calls_with"], r2["connected_with"], r2["calls_without"], r2["connected_without"]) == (1, 0, 7, 3)
    assert ScriptUse.objects.count() == 5
    with clock.frozen(T0):
        html = web(rep).get("/scripts/stats/").content.decode()
    assert "67% (2/3)" in html and "20% (1/5)" in html


def test_script_panel_on_lead_page(rep):
    services.scripts_install_defaults()
    lead = f.lead(owner=rep, company="Alpha")
    c = web(rep)
    assert f"/scripts/panel/?lead={lead.pk}" in c.get(f"/leads/{lead.pk}/").content.decode()
    html = c.get(f"/scripts/panel/?lead={lead.pk}").content.decode()
    assert "价格敏感型客户" in html and "Insert into note" in html and 'name="script_ids"' in html
    assert web(f.user("rep2", roles=("rep",), password=PW)).get(f"/scripts/panel/?lead={lead.pk}").status_code == 404


# ---- best call windows ------------------------------------------------------------------------------------

def _calls(author, lead, when, n, connected):
    for i in range(n):
        f.activity(author=author, lead=lead, kind="call", occurred_at=when,
                   outcome="connected" if i < connected else "no_answer")


def test_call_windows_known_best_window_and_fallback(rep, settings):
    settings.BATON_CALL_WINDOW_MIN_CALLS = 20
    retail, steel = f.industry("零售"), f.industry("钢铁")
    shop, mill = f.lead(owner=rep), f.lead(owner=rep)
    shop.industries.set([retail])
    mill.industries.set([steel])
    other = f.lead(owner=rep)
    mon10 = T0  # Monday 10:00 local
    # Retail: Tue 15:00 is the best (18/20), then Mon 10:00 (12/20), Thu 09:00 (10/25); Fri 16:00 too few calls.
    _calls(rep, shop, mon10 + timedelta(days=1, hours=5), 20, 18)
    _calls(rep, shop, mon10, 20, 12)
    _calls(rep, shop, mon10 + timedelta(days=3, hours=-1), 25, 10)
    _calls(rep, shop, mon10 + timedelta(days=4, hours=6), 5, 5)
    # Steel: only 10 calls. Unlinked calls: Wed 11:00 30/30 (company-wide only).
    _calls(rep, mill, mon10, 10, 10)
    _calls(rep, other, mon10 + timedelta(days=2, hours=1), 30, 30)
    grid = selectors.call_grid()
    assert grid["industry"][retail.pk][(1, 15)] == [20, 18]
    assert grid["company"][(0, 10)] == [30, 22]
    best = selectors.lead_best_windows(shop, grid=grid)
    assert best["basis"] == "industry"
    assert [(w["weekday"], w["hour"], w["calls"], w["connected"]) for w in best["windows"]] == [
        (1, 15, 20, 18), (0, 10, 20, 12), (3, 9, 25, 10)]
    steel_best = selectors.lead_best_windows(mill, grid=grid)
    assert steel_best["basis"] == "company"
    # Company-wide: Wed 11:00 30/30, Tue 15:00 18/20, Mon 10:00 22/30 (Thu 09:00 10/25 fourth).
    assert [(w["weekday"], w["hour"]) for w in steel_best["windows"]] == [(2, 11), (1, 15), (0, 10)]
    assert selectors.best_windows(grid=grid, min_calls=100) == {"basis": "none", "windows": []}
    api = ApiClient(rep, password=PW).get(f"/api/call-windows?lead={shop.pk}").json()
    assert api["basis"] == "industry" and api["windows"][0]["rate"] == 0.9


def test_newcomers_see_the_windows_open_on_the_lead_panel(rep, settings):
    settings.BATON_CALL_WINDOW_MIN_CALLS = 2
    lead = f.lead(owner=rep)
    _calls(rep, lead, T0, 4, 3)
    newbie = f.user("newbie", roles=("rep",), password=PW, hire_date=clock.today(), language="en")
    nlead = f.lead(owner=newbie)
    html = web(newbie).get(f"/scripts/panel/?lead={nlead.pk}").content.decode()
    assert 'data-testid="call-windows" open' in html and "Mon 10:00" in html
    html = web(rep).get(f"/scripts/panel/?lead={lead.pk}").content.decode()
    assert 'data-testid="call-windows">' in html.replace('data-testid="call-windows" >', "")
    page = web(rep).get("/scripts/windows/")
    assert page.status_code == 200 and "echarts.min.js" in page.content.decode()
