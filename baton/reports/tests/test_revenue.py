"""Trusted revenue: invoiced amounts first, signed amounts as fallback (lineage says which); the large-contract
guard holds a customer's month above the threshold until finance approves or corrects it."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from baton.core import clock
from baton.core.testing import factories as fx
from baton.core.testing.api import ApiClient
from baton.reports import engine, services, store
from baton.reports.models import HeldAmount, Invoice

from .conftest import NOW, TZ

pytestmark = pytest.mark.django_db
PW = "pw-12345678"


@pytest.fixture
def deals(db, frozen_now):
    """Three won deals (10,000 / 20,000 / 30,000 signed) and one open deal, for two customers."""
    from baton.opportunities.models import Opportunity, Pipeline, Stage

    east = fx.region("华东", "east")
    rep = fx.user("rita", region=east)
    pipeline = Pipeline.objects.create(name="Main", is_default=True)
    won = Stage.objects.create(pipeline=pipeline, name="Won", position=0, kind="won")
    open_ = Stage.objects.create(pipeline=pipeline, name="Open", position=1, kind="open")
    acme, beta = fx.account(owner=rep, region=east), fx.account(owner=rep, region=east)
    closed = datetime(2025, 6, 10, 10, 0, tzinfo=TZ)
    made = []
    for i, (acc, amount, status) in enumerate([(acme, 10000, "won"), (acme, 20000, "won"), (beta, 30000, "won"),
                                               (beta, 99000, "open")]):
        made.append(Opportunity.objects.create(
            name=f"D{i}", owner=rep, pipeline=pipeline, stage=won if status == "won" else open_, status=status,
            amount=Decimal(amount), account=acc, created_at=closed - timedelta(days=20),
            updated_at=closed, stage_entered_at=closed, closed_at=closed if status == "won" else None))
    finance = fx.user("fiona", roles=("finance",), password=PW)
    return {"deals": made, "acme": acme, "beta": beta, "rep": rep, "finance": finance}


def _revenue(user, dims=()):
    out = {}
    for eng in ("db", "duckdb"):
        if eng == "duckdb":
            store.sync(triggered_by="test")
        out[eng] = engine.pivot(user=user, source="opportunities", dimensions=list(dims),
                                metrics=["revenue", "invoiced_amount", "won_amount"], engine=eng)
    assert [r["revenue"] for r in out["db"]["rows"]] == [r["revenue"] for r in out["duckdb"]["rows"]]
    assert out["db"]["lineage"]["revenue_counts"] == out["duckdb"]["lineage"]["revenue_counts"]
    return out["db"]


def test_revenue_falls_back_to_signed_and_lineage_says_which(deals):
    boss = deals["finance"]
    r = _revenue(boss)
    assert r["rows"][0]["revenue"] == 60000.0 and r["lineage"]["revenue_basis"] == "signed"
    assert r["lineage"]["revenue_counts"] == {"invoiced_deals": 0, "signed_deals": 3, "held_deals": 0}
    d0, d1 = deals["deals"][:2]
    # Finance invoiced 9,500 on deal 0 (a discount): that deal now counts 9,500, the others their signed amount.
    services.invoice_create(actor=boss, number="F-1", opportunity=d0, amount=Decimal("9500"),
                            invoice_date=date(2025, 6, 12))
    r = _revenue(boss)
    assert r["rows"][0]["revenue"] == 59500.0 and r["rows"][0]["invoiced_amount"] == 9500.0
    assert r["rows"][0]["won_amount"] == 60000.0  # the signed metric stays the signed metric
    assert r["lineage"]["revenue_basis"] == "mixed"
    assert r["lineage"]["revenue_counts"] == {"invoiced_deals": 1, "signed_deals": 2, "held_deals": 0}
    # Invoices on every won deal: the basis is invoiced; two invoices on one deal add up.
    services.invoice_create(actor=boss, number="F-2", opportunity=d1, amount=Decimal("12000"),
                            invoice_date=date(2025, 6, 12))
    services.invoice_create(actor=boss, number="F-3", opportunity=d1, amount=Decimal("8000"),
                            invoice_date=date(2025, 6, 13))
    services.invoice_create(actor=boss, number="F-4", opportunity=deals["deals"][2], amount=Decimal("30000"),
                            invoice_date=date(2025, 6, 14))
    r = _revenue(boss)
    assert r["rows"][0]["revenue"] == 59500.0 and r["lineage"]["revenue_basis"] == "invoiced"


def test_invoice_csv_import_reports_bad_rows_and_keeps_good_ones(deals):
    d0 = deals["deals"][0]
    csv_text = ("number,account,opportunity,amount,invoice_date,source_system\n"
                f"A-1,{deals['acme'].pk},{d0.pk},10000,2025-06-11,erp\n"
                f"A-2,{deals['acme'].pk},,abc,2025-06-11,erp\n"
                "A-3,999999,,100,2025-06-11,erp\n"
                f"A-1,{deals['acme'].pk},,5,2025-06-11,erp\n"
                f"A-4,{deals['beta'].pk},,700,2025-13-01,erp\n")
    api = ApiClient(deals["finance"], password=PW)
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = api.client.post("/api/invoices/import", {"file": SimpleUploadedFile("inv.csv", csv_text.encode())},
                        headers=api._headers(None))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["created"] == 1 and body["atomic"] == "per row"
    assert {e["line"]: e["errors"][0]["field"] for e in body["errors"]} == {
        3: "amount", 4: "account", 5: "number", 6: "invoice_date"}
    assert Invoice.objects.get().number == "A-1"
    listed = api.get("/api/invoices").json()
    assert [i["number"] for i in listed] == ["A-1"]
    # A rep cannot import invoices.
    rep = fx.user("rex", roles=("rep",), password=PW)
    r = ApiClient(rep, password=PW).client.post(
        "/api/invoices/import", {"file": SimpleUploadedFile("inv.csv", csv_text.encode())},
        headers=ApiClient(rep, password=PW)._headers(None))
    assert r.status_code == 403


def test_guard_holds_a_large_month_then_finance_approves(deals):
    from baton.activities.models import Task

    fin = deals["finance"]
    d2 = deals["deals"][2]  # beta: 30,000 signed this month
    inv = services.invoice_create(actor=fin, number="BIG-1", opportunity=d2, amount=Decimal("480000"),
                                  invoice_date=date(2025, 6, 20))
    assert inv.status == "active"  # 480,000 ≤ 500,000
    big = services.invoice_create(actor=fin, number="BIG-2", account=deals["beta"], amount=Decimal("50000"),
                                  invoice_date=date(2025, 6, 21))
    assert big.status == "held"
    held = HeldAmount.objects.get()
    assert held.month_total == Decimal("530000") and held.status == "held"
    task = Task.objects.get(pk=held.task_id)
    assert task.assignee == fin and task.origin == "review" and task.status == "open"
    # A second deal of the same customer in the same month is held too (signed amount, no invoice).
    r = _revenue(fin)
    assert r["rows"][0]["revenue"] == 10000 + 20000 + 480000
    held = services.held_approve(held=held, actor=fin, note="ok")
    big.refresh_from_db()
    task.refresh_from_db()
    assert big.status == "active" and held.status == "released" and task.status == "done"
    from baton.core.models import AuditEntry

    assert AuditEntry.objects.filter(object_id=held.pk, message__startswith="approved").exists()


def test_guard_correction_splits_a_framework_agreement(deals):
    fin = deals["finance"]
    d0 = deals["deals"][0]
    big = services.invoice_create(actor=fin, number="FW-2025", opportunity=d0, amount=Decimal("1200000"),
                                  invoice_date=date(2025, 6, 15))
    assert big.status == "held"
    r = _revenue(fin)
    # d0's only invoice is held: d0 counts nothing (not its signed amount), and the lineage counts it as held.
    assert r["rows"][0]["revenue"] == 20000 + 30000
    assert r["lineage"]["revenue_counts"]["held_deals"] == 1
    held = HeldAmount.objects.get()
    api = ApiClient(fin, password=PW)
    parts = [{"amount": "60000", "invoice_date": (date(2025, 6, 1) + timedelta(days=18 * i)).isoformat()}
             for i in range(20)]
    resp = api.post(f"/api/held-amounts/{held.pk}/correct", {"parts": parts, "note": "yearly framework"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "corrected" and len(resp.json()["correction"]["parts"]) == 20
    big.refresh_from_db()
    assert big.status == "superseded"
    assert Invoice.objects.filter(source_system="correction", status="active").count() == 20
    # Reports now count the 20 orders (1,200,000 in total) on the deal instead of the held amount.
    r = _revenue(fin)
    assert r["rows"][0]["revenue"] == 1200000 + 20000 + 30000
    assert r["lineage"]["revenue_counts"]["held_deals"] == 0
    # Reviewed once only.
    assert api.post(f"/api/held-amounts/{held.pk}/approve", {}).status_code == 422


def test_guard_holds_signed_amounts_of_a_big_month(deals):
    fin = deals["finance"]
    from baton.opportunities.models import Opportunity

    d = deals["deals"][2]
    Opportunity.objects.filter(pk=d.pk).update(amount=Decimal("600000"))
    with clock.frozen(NOW):
        assert services.guard_scan_signed() == 1
        assert services.guard_scan_signed() == 0  # held once
    r = _revenue(fin)
    assert r["rows"][0]["revenue"] == 30000 and r["lineage"]["revenue_counts"]["held_deals"] == 1
    services.held_approve(held=HeldAmount.objects.get(), actor=fin)
    assert _revenue(fin)["rows"][0]["revenue"] == 630000
