"""`/api/leads`: CRUD, filters, pagination, validation, conflicts, scope and audit."""

import pytest

from baton.capture.dedupe import normalised_keys
from baton.core.models import AuditEntry
from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_industry, make_lead, make_region, make_team, make_user, tag
from baton.leads.models import Lead

pytestmark = pytest.mark.django_db

LEAD_KEYS = {
    "id", "source", "external_id", "status", "owner", "score", "grade", "tags", "industries", "company",
    "contact_name", "phone", "email", "budget", "region", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "created_at", "assigned_at", "first_contact_at", "last_activity_at",
    "status_changed_at", "duplicate_of", "custom_fields", "score_explanation", "assignment_explanation",
}


@pytest.fixture
def rep():
    return make_user(roles=["rep"], team=make_team())


@pytest.fixture
def api(rep):
    return ApiClient(rep)


def test_create_get_update_delete(rep, api):
    region = make_region()
    industry = make_industry(code="manufacturing")
    tag(name="展会")
    created = api.post("/api/leads", {
        "company": "华东精密机械", "contact_name": "李雷", "phone": "13800000000", "source": "web_form",
        "external_id": "F-1", "owner": rep.pk, "budget": "250000.50", "region": region.pk,
        "tags": ["展会"], "industries": ["manufacturing"], "utm_source": "baidu", "custom_fields": {"k": 1},
    })
    assert created.status_code == 201, created.content
    lead = created.json()
    assert LEAD_KEYS <= set(lead)
    assert lead["owner"] == rep.pk and lead["region"] == region.pk
    assert lead["tags"] == ["展会"] and lead["industries"] == [industry.code]
    assert lead["budget"] == "250000.50"
    assert lead["status"] == "assigned" and lead["assigned_at"]
    assert lead["score_explanation"] == [] and lead["assignment_explanation"] is None

    fetched = api.get(f"/api/leads/{lead['id']}")
    assert fetched.status_code == 200 and fetched.json()["company"] == "华东精密机械"

    patched = api.patch(f"/api/leads/{lead['id']}", {"status": "contacted", "tags": []})
    assert patched.status_code == 200, patched.content
    assert patched.json()["status"] == "contacted" and patched.json()["tags"] == []
    assert patched.json()["company"] == "华东精密机械"  # untouched fields stay

    # Reps may not delete (scope policy): refused with 403, the lead stays.
    assert api.delete(f"/api/leads/{lead['id']}").status_code == 403
    assert Lead.objects.filter(pk=lead["id"]).exists()
    manager = make_user(roles=["manager"], team=rep.team)
    assert ApiClient(manager).delete(f"/api/leads/{lead['id']}").status_code == 204
    assert not Lead.objects.filter(pk=lead["id"]).exists()


def test_patch_writes_one_audit_row_with_source_api(rep, api):
    lead = make_lead(owner=rep, company="旧名")
    assert api.patch(f"/api/leads/{lead.pk}", {"company": "新名"}).status_code == 200
    entry = AuditEntry.objects.get(object_id=lead.pk, action="update")
    assert entry.source == "api"
    assert entry.actor == rep
    assert entry.changes["company"] == ["旧名", "新名"]


def test_list_filters_paginates_and_counts(rep, api):
    for i in range(7):
        make_lead(owner=rep, company=f"公司{i}", score=i * 10)
    make_lead(owner=rep, status="qualified", company="合格公司")
    everything = api.get("/api/leads").json()
    assert everything["count"] == 8

    page = api.get("/api/leads", {"limit": 3, "offset": 3, "ordering": "score"}).json()
    assert page["count"] == 8 and [lead["score"] for lead in page["items"]] == [20, 30, 40]

    qualified = api.get("/api/leads", {"status": "qualified"}).json()
    assert qualified["count"] == 1 and qualified["items"][0]["company"] == "合格公司"
    several = api.get("/api/leads?status=qualified&status=assigned").json()
    assert several["count"] == 8
    assert api.get("/api/leads", {"q": "公司3"}).json()["count"] == 1
    assert api.get("/api/leads", {"score_min": 50}).json()["count"] == 2


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"limit": 501}, {"limit": 0}, {"offset": -1},
                                    {"ordering": "password"}, {"owner": "abc"}])
def test_bad_list_parameters_are_422(api, params):
    response = api.get("/api/leads", params)
    assert response.status_code == 422, response.content
    assert response.json()["errors"]


def test_unknown_field_is_named(api):
    response = api.post("/api/leads", {"company": "x", "favourite_colour": "red"})
    assert response.status_code == 422
    assert {"field": "favourite_colour"} .items() <= response.json()["errors"][0].items()
    assert not Lead.objects.exists()
    lead = make_lead()
    assert api.patch(f"/api/leads/{lead.pk}", {"owner_id": 1}).json()["errors"][0]["field"] == "owner_id"


@pytest.mark.parametrize("body,field", [
    ({"score": "lots"}, "score"), ({"budget": "-5"}, "budget"), ({"score": 101}, "score"),
    ({"tags": "hot"}, "tags"), ({"source": "carrier pigeon"}, "source"), ({"region": 999999}, "region"),
    ({"tags": ["no such tag"]}, "tags"), ({"industries": ["nope"]}, "industries"), ({"email": "x"}, "email"),
    ({"company": "x" * 300}, "company"), ({"owner": "me"}, "owner"),
])
def test_invalid_values_are_422_with_field(api, body, field):
    response = api.post("/api/leads", body)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Lead.objects.exists()


@pytest.mark.parametrize("body,field", [
    ({"company": "x" * 300}, "company"), ({"email": "x"}, "email"), ({"budget": "-5"}, "budget"),
    ({"phone": "1" * 40}, "phone"), ({"region": 999999}, "region"), ({"utm_source": "u" * 101}, "utm_source"),
])
def test_the_express_intake_refuses_bad_values_with_the_field(body, field):
    """An ops token's plain capture takes `leads.express` (the rep above takes the general path): the same
    validation, the same 422 naming the field, nothing written."""
    from baton.leads import express

    ops = make_user(roles=["ops"])
    assert express.accepts({"source": "web_form", **{k: v for k, v in body.items() if k != "region"}}, ops)
    response = ApiClient(ops).post("/api/leads", {"source": "web_form", **body})
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Lead.objects.exists()


def test_repeated_external_id_is_flagged_as_duplicate_by_default(rep, api):
    first = make_lead(owner=rep, source="web_form", external_id="F-7")
    response = api.post("/api/leads", {"company": "again", "source": "web_form", "external_id": "F-7",
                                       "owner": rep.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    # the (source, external id) pair stays unique: the flagged copy keeps the id in its notes
    assert body["duplicate_of"] == first.pk and body["external_id"] == "" and "F-7" in body["notes"]
    assert api.post("/api/leads", {"source": "phone", "external_id": "F-7", "owner": rep.pk}).json()[
        "duplicate_of"] is None  # another source's id is another key


def test_duplicate_of_names_a_lead_the_caller_can_see(rep, api):
    mine = make_lead(owner=rep)
    theirs = make_lead(owner=make_user(roles=["rep"], team=make_team()))
    created = api.post("/api/leads", {"company": "甲", "owner": rep.pk, "duplicate_of": mine.pk})
    assert created.status_code == 201 and created.json()["duplicate_of"] == mine.pk, created.content
    refused = api.post("/api/leads", {"company": "乙", "owner": rep.pk, "duplicate_of": theirs.pk})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "duplicate_of"


def test_repeated_lead_is_merged_under_a_merge_policy_and_answers_200(rep, api):
    from baton.capture.models import DedupePolicy

    DedupePolicy.objects.create(source="web_form", action=DedupePolicy.Action.MERGE)
    first = make_lead(owner=rep, source="web_form", phone="13800138000", company="",
                      **normalised_keys({"phone": "13800138000"}))
    response = api.post("/api/leads", {"source": "web_form", "phone": "138 0013 8000", "company": "华东精密",
                                       "owner": rep.pk})
    assert response.status_code == 200, response.content
    assert response.json()["id"] == first.pk and response.json()["company"] == "华东精密"  # empty field filled
    assert Lead.objects.count() == 1


def test_merge_into_a_lead_the_caller_cannot_see_answers_202_without_its_data(rep, api):
    from baton.capture.models import DedupePolicy

    DedupePolicy.objects.create(source="web_form", action=DedupePolicy.Action.MERGE)
    stranger = make_user(roles=["rep"], team=make_team())
    theirs = make_lead(owner=stranger, source="web_form", email="buyer@example.com", company="保密客户",
                       **normalised_keys({"email": "buyer@example.com", "company": "保密客户"}))
    response = api.post("/api/leads", {"source": "web_form", "email": "Buyer@example.com", "owner": rep.pk})
    assert response.status_code == 202, response.content
    assert response.json()["existing_id"] == theirs.pk and "保密客户" not in response.content.decode()


def test_setting_a_taken_external_id_is_409(rep, api):
    make_lead(owner=rep, source="web_form", external_id="F-7")
    other = make_lead(owner=rep, source="web_form", external_id="F-8")
    response = api.patch(f"/api/leads/{other.pk}", {"external_id": "F-7"})
    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["field"] == "external_id"


def test_out_of_scope_lead_is_404_and_not_listed(rep, api):
    stranger = make_user(roles=["rep"], team=make_team())
    theirs = make_lead(owner=stranger)
    mine = make_lead(owner=rep)
    assert api.get(f"/api/leads/{theirs.pk}").status_code == 404
    assert api.patch(f"/api/leads/{theirs.pk}", {"company": "hijack"}).status_code == 404
    assert api.delete(f"/api/leads/{theirs.pk}").status_code == 404
    assert [lead["id"] for lead in api.get("/api/leads").json()["items"]] == [mine.pk]
    assert api.get("/api/leads/999999").status_code == 404
    theirs.refresh_from_db()
    assert theirs.company != "hijack"


def test_rep_cannot_create_a_lead_for_someone_outside_their_scope(api):
    stranger = make_user(roles=["rep"], team=make_team())
    response = api.post("/api/leads", {"company": "gift", "owner": stranger.pk})
    assert response.status_code == 403
    assert not Lead.objects.exists()
