import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from baton.conditions.models import CustomField
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.imports import mapping as mp
from baton.imports import services
from baton.imports.models import ImportJob
from baton.leads.models import Lead

pytestmark = pytest.mark.django_db


def _csv(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


def _upload(content: bytes, name="leads.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def _run(actor, content, columns, options=None, *, dry_run=False, name="leads.csv", **kw):
    job = services.job_create(actor=actor, file=_upload(content, name), columns=columns, options=options or {},
                              dry_run=dry_run)
    return services.job_run(job.pk, **kw)


def _report(job) -> list[dict]:
    with job.error_report.open("rb") as fh:
        return list(csv.DictReader(io.StringIO(fh.read().decode("utf-8-sig"))))


def test_guess_mapping_chinese_headers():
    headers = ["公司名称", "联系人", "手机", "邮箱", "来源", "预算", "行业", "地区", "备注", "微信号"]
    assert mp.guess_mapping(headers) == {
        "公司名称": "company", "联系人": "contact_name", "手机": "phone", "邮箱": "email", "来源": "source",
        "预算": "budget", "行业": "industries", "地区": "region", "备注": "notes", "微信号": ""}


def test_guess_mapping_english_headers():
    headers = ["Company", "Name", "Phone", "E-mail", "Lead Source", "Budget", "Industry", "City", "Prospect ID",
               "Paid Ads Clicks"]
    assert mp.guess_mapping(headers) == {
        "Company": "company", "Name": "contact_name", "Phone": "phone", "E-mail": "email", "Lead Source": "source",
        "Budget": "budget", "Industry": "industries", "City": "region", "Prospect ID": "external_id",
        "Paid Ads Clicks": ""}


def test_guess_mapping_gives_each_target_once():
    assert mp.guess_mapping(["电话", "手机"]) == {"电话": "phone", "手机": ""}


@pytest.mark.parametrize(("values", "expected"), [
    (["1", "25", "", "300"], "number"),
    (["1.5", "2", "3.25"], "decimal"),
    (["2024-01-02", "2023/12/31"], "date"),
    (["Yes", "No", "yes"], "bool"),
    (["是", "否"], "bool"),
    (["red", "blue", "red", "blue", "red"], "choice"),
    (["a long free text", "another one"], "text"),
])
def test_guess_type(values, expected):
    assert mp.guess_type(values)[0] == expected


COLUMNS = {"公司": "company", "电话": "phone", "邮箱": "email", "来源": "source", "预算": "budget"}
HEADER = ["公司", "电话", "邮箱", "来源", "预算"]


def test_dry_run_reports_row_errors_and_writes_nothing(importer):
    content = _csv([HEADER,
                    ["甲公司", "13800138000", "a@example.com", "referral", "1000"],
                    ["乙公司", "13900139000", "not-an-email", "referral", "10"],
                    ["丙公司", "13700137000", "c@example.com", "referral", "-5"],
                    ["丁公司", "13600136000", "d@example.com", "Billboard", "10"]])
    job = _run(importer, content, COLUMNS, dry_run=True)
    assert job.status == ImportJob.Status.DONE
    assert (job.total_rows, job.processed, job.accepted, job.rejected) == (4, 4, 1, 3)
    assert Lead.objects.count() == 0
    rows = {(r["row"], r["column"]): r for r in _report(job)}
    assert rows[("3", "邮箱")]["value"] == "not-an-email"
    assert rows[("4", "预算")]["message"] == "The budget cannot be negative."
    assert "Unknown source value" in rows[("5", "来源")]["message"]
    assert [e["row"] for e in job.error_sample] == [3, 4, 5]


def test_import_writes_only_accepted_rows_with_normalised_keys_and_one_audit_per_chunk(importer):
    content = _csv([HEADER,
                    ["上海甲有限公司", "138 0013 8000", "A@Example.com", "referral", "1000"],
                    ["乙公司", "13900139000", "bad@", "referral", "10"],
                    ["丙公司", "13700137000", "c@example.com", "", ""]])
    job = _run(importer, content, COLUMNS, {"source_default": "other"})
    assert (job.status, job.accepted, job.rejected, job.committed) == ("done", 2, 1, 2)
    lead = Lead.objects.get(company="上海甲有限公司")
    assert (lead.phone_norm, lead.email_norm, lead.company_norm) == ("+8613800138000", "a@example.com", "上海甲")
    assert lead.source == "referral" and str(lead.budget) == "1000.00"
    assert Lead.objects.get(company="丙公司").source == "other"
    assert not Lead.objects.filter(company="乙公司").exists()
    assert [(r["row"], r["column"], r["value"]) for r in _report(job)] == [("3", "邮箱", "bad@")]
    audits = AuditEntry.objects.filter(source="import", object_id=job.pk, action="event")
    assert audits.count() == 1 and audits.get().changes["rows"] == [2, 4]
    assert not AuditEntry.objects.filter(content_type__model="lead").exists()  # no per-row audit


def test_xlsx_import(importer):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Company", "Phone", "Email", "Budget"])
    ws.append(["Acme Ltd", "13800138000", "x@acme.com", 5000])
    ws.append(["Beta Inc", None, "y@beta.com", 12.5])
    buf = io.BytesIO()
    wb.save(buf)
    job = _run(importer, buf.getvalue(), {"Company": "company", "Phone": "phone", "Email": "email",
                                          "Budget": "budget"}, name="leads.xlsx")
    assert (job.status, job.accepted) == ("done", 2)
    assert str(Lead.objects.get(company="Acme Ltd").budget) == "5000.00"
    assert Lead.objects.get(company="Beta Inc").phone == ""


def test_duplicates_in_file_and_against_database(importer):
    f.lead(company="Existing", phone="13800138000", phone_norm="+8613800138000")
    content = _csv([HEADER,
                    ["A", "+86 138-0013-8000", "", "referral", ""],  # same phone as the existing lead
                    ["B", "", "b@example.com", "referral", ""],
                    ["C", "", "B@EXAMPLE.com", "referral", ""]])  # same e-mail as row 3
    job = _run(importer, content, COLUMNS)
    assert (job.accepted, job.duplicates) == (1, 2)
    assert set(Lead.objects.values_list("company", flat=True)) == {"Existing", "B"}
    messages = {r["row"]: r["message"] for r in _report(job)}
    assert "existing lead" in messages["2"] and "phone" in messages["2"]
    assert "row 3" in messages["4"]


def test_duplicates_across_chunks_are_found_in_the_database(importer):
    content = _csv([HEADER] + [[f"C{i}", "", f"u{i % 3}@example.com", "referral", ""] for i in range(7)])
    job = _run(importer, content, COLUMNS, chunk=2)
    assert (job.accepted, job.duplicates, Lead.objects.count()) == (3, 4, 3)
    assert any("earlier row" in r["message"] for r in _report(job))


def test_unknown_column_becomes_custom_field(importer):
    content = _csv([["公司", "微信号", "员工数"], ["甲", "wx1", "120"], ["乙", "wx2", "35"]])
    headers, rows = ["公司", "微信号", "员工数"], [["甲", "wx1", "120"], ["乙", "wx2", "35"]]
    proposals = {p.header: p for p in services.mapping_propose(headers, rows)}
    assert proposals["公司"].target == "company" and proposals["公司"].new_field is None
    assert proposals["员工数"].new_field["type"] == "number"
    new = {h: proposals[h].new_field for h in ("微信号", "员工数")}
    job = _run(importer, content, {"公司": "company"}, {"new_custom_fields": new})
    assert job.accepted == 2
    fields = {cf.label_zh: cf for cf in CustomField.objects.filter(target="lead")}
    assert fields["员工数"].type == "number"
    lead = Lead.objects.get(company="甲")
    assert lead.custom_fields[fields["员工数"].key] == 120
    assert lead.custom_fields[fields["微信号"].key] == "wx1"


def test_dry_run_validates_new_custom_field_values_without_creating_it(importer):
    content = _csv([["公司", "员工数"], ["甲", "12"], ["乙", "many"]])
    new = {"员工数": {"key": "staff", "type": "number", "label_zh": "员工数", "label_en": "Staff"}}
    job = _run(importer, content, {"公司": "company"}, {"new_custom_fields": new}, dry_run=True)
    assert (job.accepted, job.rejected) == (1, 1)
    assert not CustomField.objects.filter(key="staff").exists()


def test_progress_fields_and_crash_leaves_committed_chunks_only(importer):
    content = _csv([HEADER] + [[f"C{i}", "", f"u{i}@example.com", "referral", ""] for i in range(5)])
    job = _run(importer, content, COLUMNS, chunk=2, fail_after_chunks=2)
    assert job.status == ImportJob.Status.FAILED
    assert (job.total_rows, job.processed, job.committed) == (5, 4, 4)
    assert Lead.objects.count() == 4
    assert "4 leads were written" in job.message and "row 5" in job.message
    assert job.percent == 80


def test_unknown_mapping_target_refused(importer):
    with pytest.raises(ValidationFailed) as exc:
        services.job_create(actor=importer, file=_upload(_csv([HEADER, ["a"] * 5])), columns={"公司": "salary"})
    assert "unknown target" in str(exc.value.errors)
    assert ImportJob.objects.count() == 0


def test_only_importers_may_import(db):
    rep = f.user(roles=("rep",))
    with pytest.raises(PermissionDenied):
        services.job_create(actor=rep, file=_upload(_csv([HEADER])), columns=COLUMNS)


def test_rules_and_assignment_applied_in_bulk(importer):
    from baton.assignment.models import Assignment, Pool, PoolMember
    from baton.rules.models import LeadEvaluation
    from baton.rules.services import lead_evaluate, rules_install_defaults

    rules_install_defaults()
    pool = Pool.objects.create(name="All", strategy="round_robin")
    reps = [f.user(roles=("rep",)) for _ in range(2)]
    for rep in reps:
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=2)
    content = _csv([HEADER] + [[f"C{i}", f"1380013800{i}", "", "referral", "300000"] for i in range(5)])
    job = _run(importer, content, COLUMNS, chunk=2)
    assert job.accepted == 5
    leads = list(Lead.objects.order_by("id"))
    owners = [lead.owner_id for lead in leads]
    assert owners[:4] == [reps[0].pk, reps[1].pk, reps[0].pk, reps[1].pk] and owners[4] is None  # caps of 2
    assert Assignment.objects.filter(kind="auto").count() == 4
    assert Assignment.objects.filter(kind="backlog").count() == 1
    assert leads[0].status == "assigned" and leads[4].status == "new"
    assert LeadEvaluation.objects.count() == 5
    assert leads[0].score > 0
    # The bulk evaluation agrees with the per-lead engine: re-evaluating changes nothing.
    result = lead_evaluate(lead=leads[0])
    assert result["changes"] == {}
    assert set(leads[0].tags.values_list("name", flat=True)) == set(result["tags"])


def test_caps_count_assignments_made_elsewhere_while_the_import_runs(importer, monkeypatch):
    """A rep who is given a lead by someone else between two chunks (a web form, a backlog drain) has that
    lead counted against the daily cap by the following chunks, as are the leads of earlier chunks."""
    from baton.assignment.models import Assignment, Pool, PoolMember
    from baton.core import clock

    pool = Pool.objects.create(name="All", strategy="round_robin")
    reps = [f.user(roles=("rep",)) for _ in range(2)]
    for rep in reps:
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=3)
    elsewhere = Lead.objects.create(company="From the web form")
    lookup = services._db_duplicates
    calls = []

    def assign_elsewhere_then_lookup(rows):
        calls.append(1)
        if len(calls) == 2:  # the first chunk is committed, the second not started
            Assignment.objects.create(lead=elsewhere, pool=pool, user=reps[1], kind="auto", at=clock.now())
        return lookup(rows)

    monkeypatch.setattr(services, "_db_duplicates", assign_elsewhere_then_lookup)
    content = _csv([HEADER] + [[f"C{i}", f"1380013800{i}", "", "referral", "300000"] for i in range(8)])
    job = _run(importer, content, COLUMNS, chunk=2)
    assert job.accepted == 8
    owners = [lead.owner_id for lead in Lead.objects.filter(company__startswith="C").order_by("id")]
    # rep 0 takes 3 (its cap), rep 1 takes 2 + the lead given elsewhere = 3; the rest waits in the backlog
    assert owners.count(reps[0].pk) == 3 and owners.count(reps[1].pk) == 2 and owners.count(None) == 3
    assert Assignment.objects.filter(kind="backlog").count() == 3


def test_an_import_leaves_the_days_counts_on_the_pool_for_later_intakes(importer):
    """Leads imported in the morning use the reps' daily caps: a web-form lead later that day finds them
    counted (the pool's kept counts equal the day's assignment rows)."""
    from collections import Counter

    from baton.assignment.models import Assignment, Pool, PoolMember
    from baton.assignment.services import CAPPED_KINDS, lead_auto_assign
    from baton.core import clock

    pool = Pool.objects.create(name="All", strategy="round_robin")
    reps = [f.user(roles=("rep",)) for _ in range(2)]
    for rep in reps:
        PoolMember.objects.create(pool=pool, user=rep, daily_cap=2)
    content = _csv([HEADER] + [[f"C{i}", f"1380013800{i}", "", "referral", "300000"] for i in range(3)])
    with clock.frozen("2026-03-02T09:00:00"):
        assert _run(importer, content, COLUMNS, chunk=2).accepted == 3
        pool.refresh_from_db()
        rows = Counter(Assignment.objects.filter(pool=pool, kind__in=CAPPED_KINDS).values_list("user_id", flat=True))
        assert pool.day_counts == {str(pk): n for pk, n in rows.items()} and sorted(rows.values()) == [1, 2]
        later = f.lead(company="From the web form")
        lead_auto_assign(lead=later)
        later.refresh_from_db()
        assert later.owner_id == min(rows, key=rows.get)  # the rep with one import lead takes it
        last = f.lead(company="Another web form")
        assert lead_auto_assign(lead=last).kind == "backlog"  # both reps at their cap of 2
