"""The reports pages people use: anomaly lights (evaluate now, rows, rule editing), finance's review of held
amounts (approve, correct into parts, guard threshold), saved and shared pivots, background exports, navbar."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from baton.core import clock
from baton.core.models import AuditEntry
from baton.core.testing import factories as fx
from baton.core.testing.api import ApiClient
from baton.reports import anomalies, engine, services
from baton.reports.models import (
    AnomalyLight,
    AnomalyRule,
    ExportJob,
    GuardConfig,
    HeldAmount,
    Invoice,
    SavedPivot,
)

from .conftest import NOW
from .test_anomalies import weeks  # noqa: F401  (fixture)
from .test_revenue import deals  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
PW = "pw-12345678"


def _login(user):
    c = Client()
    assert c.login(username=user.username, password=PW)
    return c


# --- Anomaly lights ------------------------------------------------------------------------------------------
def test_lights_page_evaluate_now_shows_dots_causes_and_rows(weeks):  # noqa: F811
    anomalies.install_defaults()
    manager = fx.user("ops2", roles=("manager", "ops"), password=PW, language="en")
    c = _login(manager)
    with clock.frozen(NOW):
        resp = c.post("/reports/anomalies/evaluate/", follow=True)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "status-dot status-red" in html and "status-dot status-yellow" in html and "status-green" in html
    assert "web_form" in html  # east's likely cause is named
    east = AnomalyLight.objects.get(rule__key="conversion-drop-by-region", label="east")
    assert east.level == "red"
    # The light's rows and its cause's rows: the leads of the current window behind it.
    rows = c.get(f"/reports/anomalies/lights/{east.pk}/rows/?cause=1")
    assert rows.status_code == 200 and len(re.findall(r'href="/leads/\d+/"', rows.content.decode())) == 5
    html = c.get(f"/reports/anomalies/lights/{east.pk}/rows/").content.decode()
    assert len(re.findall(r'href="/leads/\d+/"', html)) == 10
    # The rows stay in the viewer's scope: a rep without those leads sees none of them.
    rep = fx.user("rep0", password=PW)
    html = _login(rep).get(f"/reports/anomalies/lights/{east.pk}/rows/").content.decode()
    assert not re.findall(r'href="/leads/\d+/"', html)


def test_a_rep_cannot_evaluate_or_edit_rules(weeks):  # noqa: F811
    anomalies.install_defaults()
    rep = fx.user("rep1", password=PW)
    c = _login(rep)
    assert c.get("/reports/anomalies/").status_code == 200
    assert c.post("/reports/anomalies/evaluate/").status_code == 403
    rule = AnomalyRule.objects.get(key="conversion-drop-by-region")
    assert c.get(f"/reports/anomalies/rules/{rule.pk}/").status_code == 403
    assert AnomalyLight.objects.count() == 0


def test_ops_edit_a_rule_validated_and_audited(weeks):  # noqa: F811
    anomalies.install_defaults()
    ops = fx.user("ops1", roles=("ops",), password=PW, language="en")
    rule = AnomalyRule.objects.get(key="conversion-drop-by-region")
    c = _login(ops)
    form = {"name": rule.name, "metric": "conversion_rate", "dimension": "region", "window_days": 7,
            "red_threshold": 10, "yellow_threshold": 12, "enabled": "on"}
    resp = c.post(f"/reports/anomalies/rules/{rule.pk}/", form)
    assert resp.status_code == 200 and "softer" in resp.content.decode()
    rule.refresh_from_db()
    assert rule.red_threshold == 15  # unchanged
    form |= {"red_threshold": 25, "yellow_threshold": 18}
    assert c.post(f"/reports/anomalies/rules/{rule.pk}/", form).status_code == 302
    rule.refresh_from_db()
    assert (rule.red_threshold, rule.yellow_threshold) == (25, 18)
    assert AuditEntry.objects.filter(object_id=rule.pk, message__startswith="anomaly rule").exists()
    # With red at 25 %, east's −20 % is only yellow now.
    east = next(x for x in anomalies.evaluate(NOW, notify=False) if x.rule_id == rule.pk and x.label == "east")
    assert east.level == "yellow"


# --- Finance review ------------------------------------------------------------------------------------------
def _held(deals, amount="1200000", number="FW-1"):  # noqa: F811
    fin = deals["finance"]
    inv = services.invoice_create(actor=fin, number=number, opportunity=deals["deals"][0],
                                  amount=Decimal(amount), invoice_date=date(2025, 6, 15))
    assert inv.status == "held"
    return HeldAmount.objects.get(invoice=inv)


def test_finance_page_lists_held_amounts_and_only_finance_or_ops_see_it(deals):  # noqa: F811
    held = _held(deals)
    c = _login(deals["finance"])
    html = c.get("/reports/held/").content.decode()
    assert "FW-1" in html and f"/reports/held/{held.pk}/" in html and f"/activities/tasks/{held.task_id}/" in html
    assert _login(fx.user("rep9", password=PW)).get("/reports/held/").status_code == 403
    assert _login(fx.user("ops9", roles=("ops",), password=PW)).get("/reports/held/").status_code == 200
    assert _login(fx.user("rep8", password=PW)).get(f"/reports/held/{held.pk}/").status_code == 403


def test_finance_approves_from_the_page(deals):  # noqa: F811
    held = _held(deals)
    c = _login(deals["finance"])
    assert c.post(f"/reports/held/{held.pk}/", {"action": "approve", "note": "fine"}).status_code == 302
    held.refresh_from_db()
    assert held.status == "released" and held.invoice.status == "active" and held.note == "fine"


def test_correct_parts_must_add_up_unless_a_reason_is_given(deals):  # noqa: F811
    held = _held(deals)
    c = _login(deals["finance"])
    bad = {"action": "correct", "part_amount": ["500000", "500000"], "part_date": ["2025-06-15", "2025-07-15"]}
    resp = c.post(f"/reports/held/{held.pk}/", bad)
    assert resp.status_code == 200 and "1200000" in resp.content.decode()
    held.refresh_from_db()
    assert held.status == "held" and not Invoice.objects.filter(source_system="correction").exists()
    # Twelve monthly parts adding up to the held amount are accepted.
    good = {"action": "correct", "part_amount": ["100000"] * 12,
            "part_date": [date(2025 + (5 + i) // 12, (5 + i) % 12 + 1, 15).isoformat() for i in range(12)]}
    assert c.post(f"/reports/held/{held.pk}/", good).status_code == 302
    held.refresh_from_db()
    assert held.status == "corrected" and len(held.correction["parts"]) == 12
    assert Invoice.objects.filter(source_system="correction", status="active").count() == 12


def test_a_corrected_total_with_its_reason(deals):  # noqa: F811
    held = _held(deals)
    c = _login(deals["finance"])
    body = {"action": "correct", "part_amount": ["900000"], "part_date": ["2025-06-15"],
            "total_reason": "credit note CN-7"}
    assert c.post(f"/reports/held/{held.pk}/", body).status_code == 302
    held.refresh_from_db()
    assert held.correction["adjusted"] == "900000" and held.correction["total_reason"] == "credit note CN-7"
    assert AuditEntry.objects.filter(object_id=held.pk, message__contains="credit note CN-7").exists()


def test_guard_threshold_editable_by_finance(deals):  # noqa: F811
    c = _login(deals["finance"])
    resp = c.post("/reports/held/", {"threshold": "0", "enabled": "on"})
    assert resp.status_code == 200
    assert c.post("/reports/held/", {"threshold": "2000000", "enabled": "on"}).status_code == 302
    assert GuardConfig.objects.get().threshold == Decimal("2000000")
    inv = services.invoice_create(actor=deals["finance"], number="FW-2", opportunity=deals["deals"][0],
                                  amount=Decimal("1200000"), invoice_date=date(2025, 6, 15))
    assert inv.status == "active"  # under the new threshold


# --- Saved and shared pivots -------------------------------------------------------------------------------
REQ = {"source": "opportunities", "dimensions": ["stage"], "metrics": ["deal_count", "won_amount"]}


def test_saved_pivot_crud_and_validation(sales):
    alice = sales["reps"][0]
    alice.set_password(PW)
    alice.save()
    api = ApiClient(alice, password=PW)
    resp = api.post("/api/pivots/saved", {"name": "By stage", "request": REQ})
    assert resp.status_code == 201, resp.content
    sid = resp.json()["id"]
    bad = api.post("/api/pivots/saved", {"name": "Bad", "request": REQ | {"metrics": ["lead_count"]}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("request.metrics")
    assert api.patch(f"/api/pivots/saved/{sid}", {"name": "Stages", "shared_with": "team"}).status_code == 200
    saved = SavedPivot.objects.get(pk=sid)
    assert saved.name == "Stages" and saved.team == sales["teams"][0]
    assert AuditEntry.objects.filter(object_id=sid, content_type__model="savedpivot").count() == 2
    # Bob (same team) sees it but may not change or delete it; Carol (other team) does not see it.
    bob, carol = sales["reps"][1], sales["reps"][2]
    for u in (bob, carol):
        u.set_password(PW)
        u.save()
    bob_api, carol_api = ApiClient(bob, password=PW), ApiClient(carol, password=PW)
    assert [s["id"] for s in bob_api.get("/api/pivots/saved").json()] == [sid]
    assert bob_api.patch(f"/api/pivots/saved/{sid}", {"name": "Mine"}).status_code == 403
    assert bob_api.delete(f"/api/pivots/saved/{sid}").status_code == 403
    assert carol_api.get("/api/pivots/saved").json() == []
    assert carol_api.get(f"/api/pivots/saved/{sid}").status_code == 404
    assert api.delete(f"/api/pivots/saved/{sid}").status_code == 204
    assert not SavedPivot.objects.exists()


def test_a_shared_pivot_runs_in_the_viewers_scope(sales):
    boss, dan = sales["boss"], sales["reps"][3]
    shared = services.saved_pivot_create(actor=boss, name="Company deals", request=REQ, shared_with="all")
    assert shared in list(__import__("baton.reports.selectors", fromlist=["x"]).saved_pivot_list(user=dan))
    req = shared.request
    for eng in ("db", "duckdb"):
        if eng == "duckdb":
            from baton.reports import store

            store.sync(triggered_by="test")
        mine = engine.pivot(user=dan, engine=eng, **{k: req[k] for k in ("source", "dimensions", "metrics")})
        total = sum(r["deal_count"] for r in mine["rows"])
        from baton.opportunities.models import Opportunity

        assert total == Opportunity.objects.filter(owner=dan).count() > 0
        assert total < Opportunity.objects.count()


# --- Background exports ------------------------------------------------------------------------------------
def test_small_exports_stay_synchronous_large_ones_run_as_a_job(sales, settings):
    from baton.reports import tasks

    dan = sales["reps"][3]
    dan.set_password(PW)
    dan.save()
    api = ApiClient(dan, password=PW)
    body = {"source": "opportunities", "dimensions": ["owner"], "metrics": ["deal_count"]}
    small = api.post("/api/pivot/export?format=csv", body)
    assert small.status_code == 200 and small.content.startswith(b"\xef\xbb\xbf")
    settings.BATON_EXPORT_ASYNC_ROWS = 0
    settings.BATON_EXPORT_DIR = str(settings.BATON_ANALYTICS_PATH.parent / "exports")
    resp = api.post("/api/pivot/export?format=csv", body)
    assert resp.status_code == 202, resp.content
    job = ExportJob.objects.get(pk=resp.json()["id"])
    assert job.status == "queued" and job.requested_by == dan
    tasks.export_run.call_local(job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.progress == 100 and job.rows == 1
    status = api.get(f"/api/exports/{job.pk}").json()
    assert status["download_url"] == f"/reports/exports/{job.pk}/download/"
    c = _login(dan)
    page = c.get(f"/reports/exports/{job.pk}/").content.decode()
    assert "export-download" in page and "hx-trigger" not in page
    data = b"".join(c.get(status["download_url"]).streaming_content).decode("utf-8-sig")
    from baton.opportunities.models import Opportunity

    assert data.splitlines()[1].endswith("," + str(Opportunity.objects.filter(owner=dan).count()))
    # Another user cannot see or download the job.
    assert _login(fx.user("other", password=PW)).get(status["download_url"]).status_code == 404


def test_a_running_job_page_polls_itself(sales):
    dan = sales["reps"][3]
    job = services.export_job_create(actor=dan, request={"source": "leads", "dimensions": [],
                                                         "metrics": ["lead_count"]}, format="xlsx")
    dan.set_password(PW)
    dan.save()
    html = _login(dan).get(f"/reports/exports/{job.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html


# --- Navbar ------------------------------------------------------------------------------------------------
def test_navbar_links_the_report_pages(db):
    fin = fx.user("fin1", roles=("finance",), password=PW)
    html = _login(fin).get("/reports/anomalies/").content.decode()
    for url in ("/reports/dashboards/lead-health/", "/reports/dashboards/process-saturation/",
                "/reports/dashboards/newcomer-growth/", "/reports/anomalies/", "/reports/held/"):
        assert f'href="{url}"' in html
    assert 'href="/reports/held/"' not in _login(fx.user("rep5", password=PW)).get("/reports/anomalies/").content.decode()


def test_saved_pivots_need_a_team_to_share_with_a_team(sales):
    frank = sales["reps"][5]  # no team, no region
    from baton.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.saved_pivot_create(actor=frank, name="x", request=REQ, shared_with="team")
