import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from baton.core.testing import factories as f
from baton.imports.models import ImportJob
from baton.leads.models import Lead

pytestmark = pytest.mark.django_db


def _csv(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


CONTENT = _csv([["Company", "Email", "Lead Source"], ["Acme", "a@acme.com", "referral"],
                ["Beta", "broken", "referral"]])
MAPPING = json.dumps({"Company": "company", "Email": "email", "Lead Source": "source"})


@pytest.fixture
def client_ops():
    c = Client()
    c.force_login(f.user(roles=("ops",), language="en"))
    return c


def _post(client, content=CONTENT, name="leads.csv", **data):
    return client.post("/api/leads/import", {"file": SimpleUploadedFile(name, content), **data})


def test_api_dry_run_then_import(client_ops):
    r = _post(client_ops, mapping=MAPPING, dry_run="true")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["dry_run"], body["accepted"], body["rejected"]) == (True, 1, 1)
    assert body["errors"][0] == {"row": 3, "column": "Email", "value": "broken",
                                 "message": "Not a valid e-mail address."}
    assert Lead.objects.count() == 0
    r = _post(client_ops, mapping=MAPPING)
    assert r.status_code == 201
    assert r.json()["committed"] == 1 and Lead.objects.get().company == "Acme"
    r = client_ops.get(f"/api/imports/{r.json()['id']}")
    assert r.status_code == 200 and r.json()["status"] == "done" and r.json()["percent"] == 100


def test_api_saved_mapping_by_name(client_ops):
    content = _csv([["mql_id", "first_contact_date", "landing_page_id", "origin"],
                    ["abc", "2018-02-01", "lp1", "social"], ["def", "2017-10-20", "lp2", "mystery"]])
    r = _post(client_ops, content, mapping_name="Olist marketing-qualified leads")
    assert r.status_code == 201, r.content
    lead = Lead.objects.get(external_id="abc")
    assert (lead.source, lead.utm_source, lead.custom_fields) == ("advertising", "social", {"landing_page_id": "lp1"})
    assert timezone.localdate(lead.created_at).isoformat() == "2018-02-01"
    assert Lead.objects.get(external_id="def").source == "other"


def test_api_bad_file_and_unknown_target(client_ops):
    assert _post(client_ops, b"\x00\x01", name="leads.pdf", mapping=MAPPING).status_code == 422
    assert _post(client_ops, b"PK\x03\x04broken", name="leads.xlsx", mapping=MAPPING).status_code == 422
    r = _post(client_ops, mapping=json.dumps({"Company": "salary"}))
    assert r.status_code == 422 and "unknown target" in r.json()["errors"][0]["message"]
    assert _post(client_ops, mapping="{not json").status_code == 422
    assert _post(client_ops, mapping_name="nope").status_code == 422
    assert ImportJob.objects.count() == 0


def test_api_refuses_reps(db):
    c = Client()
    c.force_login(f.user(roles=("rep",)))
    assert _post(c, mapping=MAPPING).status_code == 403


@pytest.fixture
def huey_immediate():
    old = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = old


def test_wizard_upload_map_dry_run_import(client_ops, huey_immediate):
    content = _csv([["公司名称", "手机", "微信号"], ["甲公司", "13800138000", "wx1"], ["乙公司", "12", "wx2"]])
    r = client_ops.post("/imports/", {"file": SimpleUploadedFile("线索.csv", content)})
    assert r.status_code == 302
    job = ImportJob.objects.get()
    page = client_ops.get(f"/imports/{job.pk}/map/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="company" selected' in html and 'value="phone" selected' in html and 'value="new" selected' in html
    r = client_ops.post(f"/imports/{job.pk}/map/", {"target_0": "company", "target_1": "phone", "target_2": "new",
                                                    "newtype_2": "text", "action": "dry_run"})
    assert r.status_code == 302
    job.refresh_from_db()
    assert (job.dry_run, job.status, job.accepted, job.rejected) == (True, "done", 1, 1)
    assert Lead.objects.count() == 0
    progress = client_ops.get(f"/imports/{job.pk}/progress/").content.decode()
    assert "hx-trigger" not in progress and "Not a phone number" in progress
    report = client_ops.get(f"/imports/{job.pk}/errors.csv")
    assert b"".join(report.streaming_content).decode("utf-8-sig").splitlines()[1].startswith("3,")
    r = client_ops.post(f"/imports/{job.pk}/", {"action": "import"})
    job.refresh_from_db()
    assert (job.dry_run, job.status, job.committed) == (False, "done", 1)
    lead = Lead.objects.get()
    assert lead.company == "甲公司" and list(lead.custom_fields.values()) == ["wx1"]


def test_progress_partial_polls_while_running(client_ops):
    job = ImportJob.objects.create(file="x.csv", file_name="x.csv", status="running", total_rows=10, processed=4,
                                   created_by=None)
    c = Client()
    c.force_login(f.user(roles=("ops",), is_superuser=True, language="en"))
    html = c.get(f"/imports/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in html and "40%" in html
