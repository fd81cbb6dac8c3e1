"""Sales ops configure de-duplication policies and intake forms (services, pages, API)."""

import json

import pytest

from baton.capture import services
from baton.capture.models import DedupePolicy, IntakeForm, IntakeSubmission
from baton.capture.selectors import policy_for
from baton.conditions.services import custom_field_create
from baton.core.errors import PermissionDenied, ValidationFailed
from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops():
    return f.user(roles=("ops",))


@pytest.fixture
def rep():
    return f.user(roles=("rep",))


def _fields(exc) -> set:
    return {field for field, _m in exc.value.errors}


# --- Services ------------------------------------------------------------------------------------------------


def test_dedupe_policy_validation_and_audit(ops):
    with pytest.raises(ValidationFailed) as exc:
        services.dedupe_policy_create(actor=ops, lead_source="web_form", fuzzy_threshold=49)
    assert _fields(exc) == {"fuzzy_threshold"}
    with pytest.raises(ValidationFailed) as exc:
        services.dedupe_policy_create(actor=ops, lead_source="web_form", fuzzy_threshold=101)
    assert _fields(exc) == {"fuzzy_threshold"}
    with pytest.raises(ValidationFailed) as exc:
        services.dedupe_policy_create(actor=ops, lead_source="carrier_pigeon")
    assert _fields(exc) == {"source"}
    policy = services.dedupe_policy_create(actor=ops, lead_source="web_form", action="merge", fuzzy_threshold=50)
    assert policy_for("web_form").pk == policy.pk
    with pytest.raises(ValidationFailed):  # one policy per source
        services.dedupe_policy_create(actor=ops, lead_source="web_form")
    services.dedupe_policy_update(policy=policy, actor=ops, fuzzy_threshold=80)
    assert DedupePolicy.objects.get(pk=policy.pk).fuzzy_threshold == 80
    entries = AuditEntry.objects.filter(object_id=policy.pk, content_type__model="dedupepolicy")
    assert list(entries.order_by("id").values_list("action", flat=True)) == ["create", "update"]
    services.dedupe_policy_delete(policy=policy, actor=ops)
    assert not DedupePolicy.objects.exists()
    assert entries.filter(action="delete").count() == 1


def test_intake_form_validation(ops):
    custom_field_create(actor=ops, target="lead", key="headcount", label_zh="人数", label_en="Headcount",
                        type="number")
    base = {"key": "contact", "name": "Contact us"}
    with pytest.raises(ValidationFailed) as exc:
        services.intake_form_create(actor=ops, **base, field_mapping={"org": "salary"})
    assert _fields(exc) == {"field_mapping"}
    with pytest.raises(ValidationFailed) as exc:
        services.intake_form_create(actor=ops, **base, field_mapping={"size": "custom:nope"})
    assert _fields(exc) == {"field_mapping"}
    for bad in ("example.com", "https://example.com/contact", "ftp://example.com", "https://"):
        with pytest.raises(ValidationFailed) as exc:
            services.intake_form_create(actor=ops, **base, allowed_origins=[bad])
        assert _fields(exc) == {"allowed_origins"}, bad
    with pytest.raises(ValidationFailed) as exc:
        services.intake_form_create(actor=ops, **base, rate_limit_per_minute=0)
    assert _fields(exc) == {"rate_limit_per_minute"}
    with pytest.raises(ValidationFailed) as exc:
        services.intake_form_create(actor=ops, key="not a slug!", name="x")
    assert _fields(exc) == {"key"}
    form = services.intake_form_create(actor=ops, **base, field_mapping={"org": "company", "size": "custom:headcount"},
                                       allowed_origins=["https://www.example.com/", "http://localhost:8000", "*"])
    assert form.allowed_origins == ["https://www.example.com", "http://localhost:8000", "*"]
    assert AuditEntry.objects.filter(object_id=form.pk, content_type__model="intakeform", action="create").exists()


def test_rep_may_not_configure_capture(rep, ops):
    with pytest.raises(PermissionDenied):
        services.dedupe_policy_create(actor=rep, lead_source="api")
    with pytest.raises(PermissionDenied):
        services.intake_form_create(actor=rep, key="x", name="x")
    form = services.intake_form_create(actor=ops, key="x", name="x")
    with pytest.raises(PermissionDenied):
        services.intake_form_update(form=form, actor=rep, name="y")
    with pytest.raises(PermissionDenied):
        services.intake_form_delete(form=form, actor=rep)


def test_form_created_through_the_service_accepts_a_submission(client, ops):
    custom_field_create(actor=ops, target="lead", key="headcount", label_zh="人数", label_en="Headcount",
                        type="number")
    services.intake_form_create(actor=ops, key="trial", name="Free trial",
                                field_mapping={"org": "company", "tel": "phone", "size": "custom:headcount"},
                                allowed_origins=["https://www.example.com"], rate_limit_per_minute=5)
    answer = client.post("/api/intake/trial", data=json.dumps({"org": "试用科技有限公司", "tel": "13900139000",
                                                               "size": 40}),
                         content_type="application/json", HTTP_ORIGIN="https://www.example.com")
    assert answer.status_code == 202, answer.content
    assert answer["Access-Control-Allow-Origin"] == "https://www.example.com"
    submission = IntakeSubmission.objects.get(pk=answer.json()["id"])
    assert submission.status == "processed"
    lead = Lead.objects.get(pk=submission.lead_id)
    assert (lead.company, lead.phone, lead.source) == ("试用科技有限公司", "13900139000", "web_form")
    assert lead.custom_fields["headcount"] == 40
    refused = client.post("/api/intake/trial", data="{}", content_type="application/json",
                          HTTP_ORIGIN="https://evil.example.net")
    assert refused.status_code == 403


# --- Pages ---------------------------------------------------------------------------------------------------


def test_pages_ops_ok_rep_403(client, ops, rep):
    form = services.intake_form_create(actor=ops, key="contact", name="Contact us")
    policy = services.dedupe_policy_create(actor=ops)
    urls = ["/capture/settings/dedupe/", "/capture/settings/dedupe/new/", f"/capture/settings/dedupe/{policy.pk}/",
            "/capture/settings/intake/", "/capture/settings/intake/new/", f"/capture/settings/intake/{form.pk}/"]
    client.force_login(rep)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/capture/settings/intake/{form.pk}/delete/").status_code == 403
    assert IntakeForm.objects.filter(pk=form.pk).exists()
    client.force_login(ops)
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_intake_pages_create_edit_show_snippet_and_submissions_then_delete(client, ops):
    client.force_login(ops)
    bad = client.post("/capture/settings/intake/new/", {
        "name": "Demo", "key": "demo", "default_source": "web_form", "field_mapping": "org = salary",
        "allowed_origins": "example.com", "honeypot_field": "website_url", "rate_limit_per_minute": 10,
        "active": "on"})
    assert bad.status_code == 400
    errors = bad.context["form"].errors
    assert "field_mapping" in errors and "allowed_origins" in errors
    assert not IntakeForm.objects.exists()
    ok = client.post("/capture/settings/intake/new/", {
        "name": "Demo", "key": "demo", "default_source": "web_form", "field_mapping": "org = company\ntel = phone",
        "allowed_origins": "https://www.example.com", "honeypot_field": "website_url", "rate_limit_per_minute": 10,
        "active": "on"})
    assert ok.status_code == 302, ok.content
    form = IntakeForm.objects.get(key="demo")
    assert form.field_mapping == {"org": "company", "tel": "phone"}
    client.post("/api/intake/demo", data=json.dumps({"org": "页面公司"}), content_type="application/json")
    page = client.get(f"/capture/settings/intake/{form.pk}/")
    html = page.content.decode()
    assert "/api/intake/demo" in html and "curl -X POST" in html
    assert 'name="org"' in page.context["snippet"]["html"]
    assert [s.status for s in page.context["submissions"]] == ["processed"]
    edit = client.post(f"/capture/settings/intake/{form.pk}/", {
        "name": "Demo 2", "key": "demo", "default_source": "trade_show", "field_mapping": "org = company",
        "allowed_origins": "*", "honeypot_field": "", "rate_limit_per_minute": 3})
    assert edit.status_code == 302
    form.refresh_from_db()
    assert (form.name, form.default_source, form.allowed_origins, form.active) == ("Demo 2", "trade_show", ["*"],
                                                                                    False)
    assert client.post(f"/capture/settings/intake/{form.pk}/delete/").status_code == 302
    assert not IntakeForm.objects.exists()


def test_dedupe_pages_create_edit_delete(client, ops):
    client.force_login(ops)
    bad = client.post("/capture/settings/dedupe/new/", {"lead_source": "api", "action": "merge",
                                                        "fuzzy_threshold": 30, "active": "on"})
    assert bad.status_code == 400 and "fuzzy_threshold" in bad.context["form"].errors
    assert client.post("/capture/settings/dedupe/new/", {"lead_source": "api", "action": "merge",
                                                         "fuzzy_threshold": 85, "active": "on"}).status_code == 302
    policy = DedupePolicy.objects.get(source="api")
    assert client.post(f"/capture/settings/dedupe/{policy.pk}/", {
        "lead_source": "api", "action": "flag", "fuzzy_threshold": 95}).status_code == 302
    policy.refresh_from_db()
    assert (policy.action, policy.fuzzy_threshold, policy.active) == ("flag", 95, False)
    assert "95" in client.get("/capture/settings/dedupe/").content.decode()
    assert client.post(f"/capture/settings/dedupe/{policy.pk}/delete/").status_code == 302
    assert not DedupePolicy.objects.exists()


# --- API -----------------------------------------------------------------------------------------------------


def _json(client, method, url, body=None):
    return getattr(client, method)(url, data=json.dumps(body) if body is not None else None,
                                   content_type="application/json")


def test_api_crud_ops_ok_rep_403(client, ops, rep):
    client.force_login(rep)
    assert client.get("/api/dedupe-policies").status_code == 403
    assert _json(client, "post", "/api/intake-forms", {"key": "x", "name": "x"}).status_code == 403
    client.force_login(ops)
    r = _json(client, "post", "/api/dedupe-policies", {"source": "web_form", "action": "merge", "fuzzy_threshold": 70})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    assert _json(client, "post", "/api/dedupe-policies", {"fuzzy_threshold": 20}).status_code == 422
    r = _json(client, "patch", f"/api/dedupe-policies/{pid}", {"fuzzy_threshold": 88})
    assert r.status_code == 200 and r.json()["fuzzy_threshold"] == 88 and r.json()["source"] == "web_form"
    assert [p["id"] for p in client.get("/api/dedupe-policies").json()] == [pid]

    r = _json(client, "post", "/api/intake-forms", {"key": "api-form", "name": "API form",
                                                    "field_mapping": {"org": "salary"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "field_mapping"
    r = _json(client, "post", "/api/intake-forms", {"key": "api-form", "name": "API form",
                                                    "allowed_origins": ["not an origin"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "allowed_origins"
    r = _json(client, "post", "/api/intake-forms", {"key": "api-form", "name": "API form",
                                                    "field_mapping": {"org": "company"}})
    assert r.status_code == 201, r.content
    fid = r.json()["id"]
    assert r.json()["url"] == "/api/intake/api-form"
    client.logout()
    assert _json(client, "post", "/api/intake/api-form", {"org": "接口公司"}).status_code == 202
    client.force_login(ops)
    subs = client.get(f"/api/intake-forms/{fid}/submissions").json()
    assert [s["status"] for s in subs] == ["processed"] and subs[0]["lead"]
    r = _json(client, "patch", f"/api/intake-forms/{fid}", {"rate_limit_per_minute": 0})
    assert r.status_code == 422
    client.force_login(rep)
    assert client.delete(f"/api/intake-forms/{fid}").status_code == 403
    client.force_login(ops)
    assert client.delete(f"/api/intake-forms/{fid}").status_code == 204
    assert client.delete(f"/api/dedupe-policies/{pid}").status_code == 204
    assert client.get(f"/api/intake-forms/{fid}").status_code == 404
