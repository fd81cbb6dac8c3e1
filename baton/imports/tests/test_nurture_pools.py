"""A bulk import gives A/B/C leads the same fate as `lead_create` (evaluate + `lead_auto_assign`) with the
shipped pools, including the nurture pool for grade C: status nurturing, no owner, no backlog."""

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from baton.core.testing import factories as f
from baton.imports import services
from baton.leads.models import Lead, LeadStatus
from baton.leads.services import lead_create

pytestmark = pytest.mark.django_db

COLUMNS = {"公司": "company", "电话": "phone", "来源": "source", "预算": "budget", "行业": "industries",
           "地区": "region"}
# Shipped scoring: budget > 200k 30, focus industry 20, referral 25, phone 10; bands A ≥ 85, B ≥ 60.
PROFILES = {
    "A": {"source": "referral", "budget": "300000", "industries": "manufacturing"},
    "B": {"source": "referral", "budget": "300000", "industries": ""},
    "C": {"source": "other", "budget": "", "industries": ""},
}


@pytest.fixture
def company():
    from baton.accounts.models import Industry
    from baton.core.defaults import install_defaults

    Industry.objects.get_or_create(code="manufacturing", defaults={"name": "Manufacturing"})
    regions = [f.make_region(name="华东", code="east"), f.make_region(name="华南", code="south")]
    for region in regions:
        for _i in range(3):
            f.make_user(roles=("rep",), region=region, hire_date=date(2020, 1, 1))
    install_defaults()
    return regions


def _import(importer, rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(list(COLUMNS))
    for row in rows:
        writer.writerow([row["company"], row["phone"], row["source"], row["budget"], row["industries"],
                         row["region"]])
    job = services.job_create(actor=importer, file=SimpleUploadedFile("leads.csv", buf.getvalue().encode()),
                              columns=COLUMNS, options={})
    job = services.job_run(job.pk)
    assert job.accepted == len(rows), (job.message, job.error_sample)


def _created(importer, row):
    from baton.accounts.models import Industry
    from baton.org.models import Region

    industries = list(Industry.objects.filter(code__in=[c for c in row["industries"].split(",") if c]))
    return lead_create(actor=importer, company=row["company"], phone=row["phone"], lead_source=row["source"],
                       budget=row["budget"] or None, industries=industries,
                       region=Region.objects.get(name=row["region"]))


def _fate(lead: Lead) -> tuple:
    from baton.assignment.models import Assignment, PoolBacklog, PoolMember

    lead = Lead.objects.get(pk=lead.pk)
    assignment = Assignment.objects.get(lead=lead)
    backlog = PoolBacklog.objects.filter(lead=lead).values_list("pool_id", flat=True).first()
    owner_in_pool = (lead.owner_id is not None and assignment.pool_id is not None
                     and PoolMember.objects.filter(pool_id=assignment.pool_id, user_id=lead.owner_id).exists())
    return (lead.grade, lead.status, lead.owner_id is None, owner_in_pool, assignment.kind, assignment.pool_id,
            backlog)


def _rows(tag, regions):
    base = 1000 if tag == "导入" else 2000  # distinct phones: no row is a duplicate of another
    return [{"company": f"{tag}{grade}{i}公司", "phone": f"1390000{base + 10 * n + i}",
             "region": regions[i % 2].name, **profile}
            for n, (grade, profile) in enumerate(PROFILES.items()) for i in range(2)]


def test_import_and_lead_create_agree_for_a_b_c_with_default_pools(importer, company):
    from baton.assignment.models import Pool

    imported_rows, created_rows = _rows("导入", company), _rows("新建", company)
    _import(importer, imported_rows)
    imported = [Lead.objects.get(company=r["company"]) for r in imported_rows]
    created = [_created(importer, r) for r in created_rows]

    imported_fates = [_fate(lead) for lead in imported]
    assert imported_fates == [_fate(lead) for lead in created]
    by_grade = {fate[0]: fate for fate in imported_fates}
    assert set(by_grade) == {"A", "B", "C"}
    nurturing = Pool.objects.get(key="pool.nurturing")
    assert by_grade["C"] == ("C", LeadStatus.NURTURING, True, False, "nurture", nurturing.pk, None)
    assert by_grade["A"][1:5] == (LeadStatus.ASSIGNED, False, True, "auto")
    assert by_grade["A"][5] == Pool.objects.get(key="pool.a_channel").pk
    assert by_grade["B"][1:5] == (LeadStatus.ASSIGNED, False, True, "auto")


def test_nurture_pool_after_an_unstaffed_assigning_pool_backlogs_in_both_paths(importer, company):
    from baton.assignment.models import Pool

    callers = Pool.objects.create(name="C callers", priority=50, strategy="round_robin",
                                  condition={"all": [{"field": "grade", "op": "eq", "value": "C"}]})
    rows = [r for r in _rows("导入", company) if r["source"] == "other"]
    _import(importer, rows)
    created = [_created(importer, r) for r in _rows("新建", company) if r["source"] == "other"]
    imported = [Lead.objects.get(company=r["company"]) for r in rows]
    expected = ("C", LeadStatus.NEW, True, False, "backlog", callers.pk, callers.pk)
    assert [_fate(lead) for lead in imported] == [_fate(lead) for lead in created] == [expected, expected]
