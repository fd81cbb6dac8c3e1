"""Imports of the two public data sets (skipped with a reason when absent; CI=true makes absence a failure)."""

import csv

import pytest
from django.core.files import File
from django.utils import timezone

from baton.conditions.models import CustomField
from baton.imports import services
from baton.imports.models import ImportMapping
from baton.leads.models import Lead

from .conftest import dataset

pytestmark = pytest.mark.django_db


def _import(actor, path, preset_name):
    with open(path, "rb") as fh:
        job = services.job_create(actor=actor, file=File(fh, name=path.name),
                                  mapping=ImportMapping.objects.get(name=preset_name))
    return services.job_run(job.pk)


def test_x_education_full_import(importer):
    path = dataset("x-education-leads/Leads.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = len({r["Prospect ID"] for r in rows})  # Prospect ID is the only duplicate key this file has
    headers = list(rows[0])
    preset = services.preset_for(headers)
    assert preset.name == "X Education leads"
    job = _import(importer, path, "X Education leads")
    assert job.status == "done", job.message
    assert (job.total_rows, job.rejected) == (9240, 0)
    assert job.accepted == expected == Lead.objects.count()
    assert job.duplicates == 9240 - expected
    first = rows[0]
    lead = Lead.objects.get(external_id=first["Prospect ID"])
    assert lead.utm_source == first["Lead Source"] == "Olark Chat" and lead.source == "web_form"
    cf = lead.custom_fields
    assert cf["lead_number"] == int(first["Lead Number"])
    assert cf["lead_origin"] == first["Lead Origin"] == "API"
    assert cf["converted"] is False and cf["total_visits"] == 0
    assert "city" not in cf  # "Select" means not answered
    google = Lead.objects.filter(utm_source="Google")
    assert google.count() == sum(r["Lead Source"] == "Google" for r in rows)
    assert set(google.values_list("source", flat=True)) == {"advertising"}
    assert CustomField.objects.get(key="page_views_per_visit").type == "decimal"
    second = Lead.objects.get(external_id=rows[1]["Prospect ID"])
    assert second.custom_fields["country"] == "India" and second.custom_fields["page_views_per_visit"] == 2.5


def test_olist_mql_import(importer):
    path = dataset("olist-marketing-funnel/olist_marketing_qualified_leads_dataset.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    job = _import(importer, path, "Olist marketing-qualified leads")
    assert job.status == "done", job.message
    assert job.rejected == 0
    assert job.accepted == len({r["mql_id"] for r in rows}) == Lead.objects.count()
    r0 = rows[0]
    lead = Lead.objects.get(external_id=r0["mql_id"])
    assert lead.utm_source == r0["origin"] and lead.custom_fields["landing_page_id"] == r0["landing_page_id"]
    assert timezone.localdate(lead.created_at).isoformat() == r0["first_contact_date"]
    assert Lead.objects.filter(source="advertising").count() == sum(
        r["origin"] in ("social", "paid_search", "display", "other_publicities") for r in rows)
