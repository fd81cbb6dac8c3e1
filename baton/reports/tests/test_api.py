"""POST /api/pivot, drill-down, exports, catalogue and refresh through the HTTP API."""

import csv
import io
import os
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from baton.core.testing import factories as fx
from baton.core.testing.api import ApiClient
from baton.reports import store

pytestmark = pytest.mark.django_db
PW = "pw-12345678"


@pytest.fixture
def ops(db):
    return fx.user("opsuser", roles=("ops",), password=PW)


def client(user):
    return ApiClient(user, password=PW)


def test_pivot_answers_rows_and_lineage(sales, ops):
    store.sync(triggered_by="schedule")
    r = client(ops).post("/api/pivot", {"source": "opportunities", "dimensions": ["region", "stage"],
                                        "metrics": ["deal_count", "won_amount", "win_rate"]})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["rows"] and {"region", "stage", "deal_count", "won_amount", "win_rate"} <= set(body["rows"][0])
    lineage = body["lineage"]
    assert lineage["engine"] == "duckdb" and lineage["refreshed_by"] == "schedule" and lineage["data_as_of"]
    assert lineage["row_count"] == len(body["rows"])
    win = next(m for m in lineage["metrics"] if m["name"] == "win_rate")
    assert "opportunities_opportunity" in win["sources"] and win["definition"]
    assert sum(row["deal_count"] for row in body["rows"]) == 60


def test_pivot_422_names_the_bad_dimension_and_metric(ops):
    r = client(ops).post("/api/pivot", {"source": "leads", "dimensions": ["stage"], "metrics": ["won_amount"]})
    assert r.status_code == 422
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "stage" in fields["dimensions[0]"] and "won_amount" in fields["metrics[0]"]
    r = client(ops).post("/api/pivot", {"source": "leads", "metrics": ["lead_count"],
                                        "filters": {"field": "nope", "op": "eq", "value": 1}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("filters")


def test_pivot_needs_authentication():
    assert ApiClient().post("/api/pivot", {"source": "leads", "metrics": ["lead_count"]}).status_code == 401


def test_drilldown_returns_the_rows_behind_a_cell(sales, ops):
    from baton.opportunities.models import Opportunity

    store.sync(triggered_by="schedule")
    c = client(ops)
    rows = c.post("/api/pivot", {"source": "opportunities", "dimensions": ["owner", "close_month"],
                                 "metrics": ["deal_count"]}).json()["rows"]
    cell = next(r for r in rows if r["_keys"]["owner"] is not None and r["_keys"]["close_month"] is not None)
    r = c.post("/api/pivot/rows", {"source": "opportunities", "dimensions": ["owner", "close_month"],
                                   "cell": cell["_keys"]})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["total"] == cell["deal_count"] == len(body["rows"])
    ids = {row["id"] for row in body["rows"]}
    assert set(Opportunity.objects.filter(id__in=ids).values_list("owner_id", flat=True)) == {cell["_keys"]["owner"]}


def test_rep_sees_only_own_rows_through_the_api(sales):
    from baton.opportunities.models import Opportunity

    rep = sales["reps"][1]
    rep.set_password(PW)
    rep.save()
    store.sync(triggered_by="schedule")
    rows = client(rep).post("/api/pivot", {"source": "opportunities", "dimensions": ["owner"],
                                           "metrics": ["deal_count"]}).json()["rows"]
    assert [r["_keys"]["owner"] for r in rows] == [rep.pk]
    assert rows[0]["deal_count"] == Opportunity.objects.filter(owner=rep).count()


def test_csv_export_neutralises_formulas(sales, ops):
    from baton.opportunities.models import Opportunity

    Opportunity.objects.update(custom_fields={"product": "=HYPERLINK(\"http://x\")"})
    r = client(ops).post("/api/pivot/export?format=csv", {"source": "opportunities", "dimensions": ["product"],
                                                          "metrics": ["deal_count"], "engine": "db"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")"
    assert rows[1][1] == "60"


def test_xlsx_export_has_the_table_and_lineage(sales, ops):
    r = client(ops).post("/api/pivot/export?format=xlsx", {"source": "opportunities", "dimensions": ["stage"],
                                                           "metrics": ["deal_count", "win_rate"]})
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert len(values) == 5  # header + 4 stages
    assert sum(v[1] for v in values[1:]) == 60
    assert len(wb.worksheets) == 2


def test_pdf_export_is_watermarked_with_user_and_time(sales, ops, tmp_path, frozen_now):
    r = client(ops).post("/api/pivot/export?format=pdf", {"source": "opportunities", "dimensions": ["region"],
                                                          "metrics": ["deal_count", "won_amount"]})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(r.content)
    if not shutil.which("pdftotext"):
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext (poppler-utils) is needed to read the PDF back and CI=true forbids skipping")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "opsuser · 2025-06-30 12:00" in text
    assert "华东" in text  # the CJK font renders Chinese (pdftotext reads it back)


def test_catalogue_and_refresh(sales, ops):
    c = client(ops)
    cat = c.get("/api/metrics").json()
    assert {m["name"] for m in cat["opportunities"]["metrics"]} >= {"deal_count", "won_amount", "win_rate"}
    assert {d["name"] for d in cat["opportunities"]["dimensions"]} >= {"region", "team", "owner", "stage",
                                                                       "product", "source", "month"}
    r = c.post("/api/analytics/refresh", {})
    assert r.status_code == 200
    states = {s["table"]: s for s in r.json()}
    assert states["leads_fact"]["triggered_by"] == "user:opsuser" and states["leads_fact"]["rows"] == 120
    assert c.get("/api/analytics/sync").json()[0]["last_sync_at"]


def test_full_rebuild_is_for_ops_only(sales):
    rep = sales["reps"][0]
    rep.set_password(PW)
    rep.save()
    assert client(rep).post("/api/analytics/refresh", {"full": True}).status_code == 403
    assert client(rep).post("/api/analytics/refresh", {}).status_code == 200


def test_pivot_page_renders(sales, ops):
    from django.test import Client

    c = Client()
    c.force_login(ops)
    r = c.get("/reports/pivot/")
    assert r.status_code == 200
    assert b"pivot-catalogue" in r.content and b"echarts.min.js" in r.content
