"""The deal page's required-actions card and signal button, the action page, and the API."""

import pytest

from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.process.models import RequiredAction

pytestmark = pytest.mark.django_db


def test_signal_button_raises_an_action_shown_on_the_deal_page(pipeline, org, client):
    deal = f.make_opportunity(owner=org.rep)
    client.force_login(org.rep)
    page = client.get(f"/opportunities/{deal.pk}/").content.decode()
    assert 'id="required-actions"' in page and 'id="deal-signal"' in page
    r = client.post(f"/process/deals/{deal.pk}/signal/", {"kind": "competitor_named", "detail": "西门子"})
    assert r.status_code == 302
    action = RequiredAction.objects.get(opportunity=deal)
    page = client.get(f"/opportunities/{deal.pk}/").content.decode()
    assert "西门子" in page and f"/process/actions/{action.pk}/" in page


def test_action_page_shows_the_match_and_completes(pipeline, org, client):
    deal = f.make_opportunity(owner=org.rep, stage=pipeline.stages.get(name="方案"))
    from baton.process.services import stage_entered

    stage_entered(deal, deal.stage)
    action = RequiredAction.objects.get(opportunity=deal, template__code="solution-match")
    client.force_login(org.rep)
    client.post(f"/process/actions/{action.pk}/", {"op": "complete", "proposal_items": "A\nB",
                                                  "purchase_history": "A\nC"})
    page = client.get(f"/process/actions/{action.pk}/").content.decode()
    assert 'id="match"' in page and "50.0" in page and "b" in page
    action.refresh_from_db()
    assert action.status == "open"
    r = client.post(f"/process/actions/{action.pk}/", {"op": "complete", "proposal_items": "A\nC"})
    assert r.status_code == 302
    action.refresh_from_db()
    assert action.status == "done"


def test_someone_elses_action_is_404(pipeline, org, client):
    deal = f.make_opportunity(owner=org.rep)
    from baton.process.services import deal_signal

    [action] = deal_signal(opportunity=deal, kind="purchase_intent", actor=org.rep)
    client.force_login(f.make_user(roles=["rep"]))
    assert client.get(f"/process/actions/{action.pk}/").status_code == 404


def test_api_signal_evidence_complete(pipeline, org):
    deal = f.make_opportunity(owner=org.rep)
    api = ApiClient(org.rep)
    r = api.post(f"/api/opportunities/{deal.pk}/signals", {"kind": "purchase_intent"})
    assert r.status_code == 201, r.content
    [action] = r.json()
    assert action["template"] == "needs-clarification"
    r = api.post(f"/api/required-actions/{action['id']}/complete", {"form": {}})
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["evidence", "summary"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    up = SimpleUploadedFile("x.pdf", b"%PDF-1.4", content_type="application/pdf")
    r = api.client.post(f"/api/required-actions/{action['id']}/evidence", {"file": up, "kind": "signed_pdf"},
                        headers=api._headers({}))
    assert r.status_code == 200, r.content
    r = api.post(f"/api/required-actions/{action['id']}/complete", {"form": {"summary": "客户要两条线"}})
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert api.get(f"/api/opportunities/{deal.pk}/required-actions").json()[0]["completed_on_time"] is True
    assert api.post(f"/api/opportunities/{deal.pk}/signals", {"kind": "weather"}).status_code == 422
