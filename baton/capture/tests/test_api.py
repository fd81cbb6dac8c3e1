import json
import threading

import pytest
from django.db import connection
from ninja import Router, Schema, Status
from ninja.testing import TestClient

from baton.capture.idempotency import idempotent
from baton.capture.models import IdempotencyKey, IntakeForm, IntakeSubmission
from baton.conditions.models import LeadEvent
from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.leads.services import lead_create

# --- Idempotency: a small handler of the same shape as any create handler ---------------------------

router = Router()


class NoteIn(Schema):
    company: str


class NoteOut(Schema):
    id: int
    company: str


@router.post("/things", response={201: NoteOut})
@idempotent
def create_thing(request, payload: NoteIn):
    return Status(201, lead_create(actor=None, company=payload.company))


client = TestClient(router)


def _post(user, body, key="k-1"):
    return client.post("/things", json=body, headers={"Idempotency-Key": key}, user=user)


@pytest.mark.django_db
def test_retry_with_same_key_and_body_replays_first_answer_and_creates_nothing():
    user = f.user()
    first = _post(user, {"company": "甲"})
    second = _post(user, {"company": "甲"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Lead.objects.count() == 1 and IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_409():
    user = f.user()
    _post(user, {"company": "甲"})
    answer = _post(user, {"company": "乙"})
    assert answer.status_code == 409
    assert answer.json()["detail"] and answer.json()["errors"]
    assert Lead.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user_and_absent_key_is_not_idempotent():
    a, b = f.user(), f.user()
    _post(a, {"company": "甲"})
    assert _post(b, {"company": "甲"}).status_code == 201
    client.post("/things", json={"company": "丙"}, user=a)
    client.post("/things", json={"company": "丙"}, user=a)
    assert Lead.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_parallel_retries_create_one():
    user = f.user()
    barrier = threading.Barrier(4)
    answers = []

    def worker():
        try:
            barrier.wait()
            answers.append(_post(user, {"company": "并发"}, key="parallel"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201] * 4
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert Lead.objects.filter(company="并发").count() == 1


# --- Intake ----------------------------------------------------------------------------------------


@pytest.fixture
def form(db):
    return IntakeForm.objects.create(
        key="contact", name="Contact us", allowed_origins=["https://www.example.com"],
        field_mapping={"name": "contact_name", "org": "company", "tel": "phone", "size": "custom:headcount"},
        honeypot_field="website_url", rate_limit_per_minute=3,
    )


def _submit(client, body, origin="https://www.example.com", **extra):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post("/api/intake/contact", data=json.dumps(body), content_type="application/json",
                       **headers, **extra)


@pytest.mark.django_db
def test_intake_maps_fields_stores_submission_and_creates_lead(client, form):
    answer = _submit(client, {"name": "王五", "org": "星光科技有限公司", "tel": "13800138000", "size": "50",
                              "page_url": "https://www.example.com/p?utm_source=baidu&utm_campaign=spring"})
    assert answer.status_code == 202
    assert answer["Access-Control-Allow-Origin"] == "https://www.example.com"
    sub = IntakeSubmission.objects.get()
    assert sub.status == "processed" and sub.payload["org"] == "星光科技有限公司"
    lead = sub.lead
    assert (lead.contact_name, lead.company, lead.phone_norm) == ("王五", "星光科技有限公司", "+8613800138000")
    assert lead.source == "web_form" and lead.custom_fields == {"headcount": "50"}
    assert (lead.utm_source, lead.utm_campaign) == ("baidu", "spring")


@pytest.mark.django_db
def test_intake_utm_from_referer_and_html_form_body(client, form):
    answer = client.post("/api/intake/contact", {"org": "乙公司", "utm_medium": "cpc"},
                         HTTP_REFERER="https://www.example.com/?utm_source=wechat")
    assert answer.status_code == 202
    lead = IntakeSubmission.objects.get().lead
    assert (lead.utm_source, lead.utm_medium) == ("wechat", "cpc")


@pytest.mark.django_db
def test_intake_cors_preflight_allowed_and_refused(client, form):
    ok = client.options("/api/intake/contact", HTTP_ORIGIN="https://www.example.com")
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == "https://www.example.com"
    refused = client.options("/api/intake/contact", HTTP_ORIGIN="https://evil.example.net")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert _submit(client, {"org": "甲"}, origin="https://evil.example.net").status_code == 403
    assert not IntakeSubmission.objects.exists()


@pytest.mark.django_db
def test_intake_honeypot_answers_202_stores_spam_creates_no_lead(client, form):
    answer = _submit(client, {"org": "甲", "website_url": "http://spam"})
    assert answer.status_code == 202
    assert IntakeSubmission.objects.get().status == "spam"
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_intake_rate_limit_429(client, form):
    for i in range(3):
        assert _submit(client, {"org": f"公司{i}"}).status_code == 202
    over = _submit(client, {"org": "公司X"})
    assert over.status_code == 429 and over["Retry-After"]
    assert IntakeSubmission.objects.count() == 3


@pytest.mark.django_db
def test_intake_unknown_or_inactive_form_404(client, form):
    form.active = False
    form.save()
    assert _submit(client, {"org": "甲"}).status_code == 404


@pytest.mark.django_db
def test_failed_submission_is_kept_and_redriven(client, form):
    from baton.capture import intake

    answer = _submit(client, {"org": "甲", "email": "not-an-email"})
    assert answer.status_code == 202  # accepted and stored even though it cannot become a lead yet
    sub = IntakeSubmission.objects.get()
    assert sub.status == "failed" and "email" in sub.error
    sub.payload["email"] = "ok@example.com"
    sub.save()
    IntakeSubmission.objects.filter(pk=sub.pk).update(received_at=sub.received_at.replace(year=2000))
    assert intake.redrive() == 1
    sub.refresh_from_db()
    assert sub.status == "processed" and sub.lead.email == "ok@example.com"


# --- Events ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_events_batch_matches_and_reports_unmatched(client):
    user = f.user(roles=("ops",))
    a = lead_create(actor=user, company="甲", email="A@x.cn", phone="13800138000", lead_source="api",
                    external_id="E-1")
    client.force_login(user)
    events = [
        {"type": "page_view", "lead_id": a.pk},
        {"type": "page_view", "external_id": "E-1", "source": "api"},
        {"type": "email_open", "email": " a@X.cn "},
        {"type": "call_in", "phone": "+86 138-0013-8000", "payload": {"x": 1}},
        {"type": "page_view", "lead_id": 999999},
        {"type": "page_view", "email": "nobody@x.cn"},
        {"type": "page_view"},
    ]
    answer = client.post("/api/events", data=json.dumps({"events": events}), content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["accepted"] == 4
    assert [u["index"] for u in body["unmatched"]] == [4, 5, 6]
    assert LeadEvent.objects.filter(lead=a).count() == 4
    assert LeadEvent.objects.get(type="call_in").payload == {"x": 1}


@pytest.mark.django_db
def test_events_need_authentication_and_cap_batch(client):
    assert client.post("/api/events", data=json.dumps({"events": []}),
                       content_type="application/json").status_code == 401
    user = f.user()
    client.force_login(user)
    too_many = [{"type": "x", "lead_id": 1}] * 1001
    answer = client.post("/api/events", data=json.dumps({"events": too_many}), content_type="application/json")
    assert answer.status_code in (400, 422)


@pytest.mark.django_db
def test_post_api_leads_honours_idempotency_key(client):
    user = f.user(roles=("ops",))
    client.force_login(user)

    def post(body):
        return client.post("/api/leads", data=json.dumps(body), content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="lead-1")

    first, again = post({"company": "幂等公司"}), post({"company": "幂等公司"})
    assert first.status_code == again.status_code == 201, first.content
    assert first.json()["id"] == again.json()["id"]
    assert Lead.objects.filter(company="幂等公司").count() == 1
    assert post({"company": "别的公司"}).status_code == 409
