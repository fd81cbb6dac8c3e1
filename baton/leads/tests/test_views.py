"""The lead pages, driven through the Django test client as a signed-in user would."""

from decimal import Decimal

import pytest
from django.urls import reverse

from baton.core.models import AuditEntry
from baton.core.testing import factories as f
from baton.leads.models import Lead, LeadStatus
from baton.leads.services import lead_update
from baton.opportunities.models import Opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return f.user("rep1", roles=("rep",))


@pytest.fixture
def manager():
    return f.user("mgr1", roles=("manager",))


@pytest.fixture
def signed_in(client, rep):
    client.force_login(rep)
    return client


def test_list_shows_only_my_leads_with_their_columns(signed_in, rep):
    hot = f.tag("hot", color="red")
    f.lead(owner=rep, company="Mine Ltd", grade="A", score=82, tags=[hot])
    f.lead(owner=f.user(), company="Someone Else Ltd")
    response = signed_in.get(reverse("leads:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Mine Ltd" in html and "Someone Else Ltd" not in html
    assert "bg-red-lt" in html and "hot" in html  # tag badge in the tag's colour
    assert "82" in html


def test_filter_narrows_the_list_and_htmx_gets_only_the_table(signed_in, rep):
    f.lead(owner=rep, company="Alpha Corp", grade="A")
    f.lead(owner=rep, company="Beta Corp", grade="C")
    response = signed_in.get(reverse("leads:list"), {"grade": "A"})
    assert "Alpha Corp" in response.content.decode() and "Beta Corp" not in response.content.decode()
    partial = signed_in.get(reverse("leads:list"), {"q": "beta"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "Beta Corp" in body and "Alpha Corp" not in body
    assert "<html" not in body and 'id="object-table"' in body


def test_list_paginates(signed_in, rep):
    for i in range(30):
        f.lead(owner=rep, company=f"Paged {i:02d}")
    first = signed_in.get(reverse("leads:list"), {"ordering": "company"}).content.decode()
    second = signed_in.get(reverse("leads:list"), {"ordering": "company", "page": 2}).content.decode()
    assert "Paged 00" in first and "Paged 29" not in first
    assert "Paged 29" in second and "Paged 00" not in second


def test_lead_list_query_budget(signed_in, rep, django_assert_max_num_queries):
    tags = [f.tag(), f.tag()]
    for _ in range(25):
        f.lead(owner=rep, tags=tags)
    with django_assert_max_num_queries(12):
        assert signed_in.get(reverse("leads:list")).status_code == 200


def test_detail_shows_timeline_and_history(signed_in, rep):
    lead = f.lead(owner=rep, company="Timeline Co")
    lead_update(lead=lead, actor=rep, company="Timeline Co Renamed", region=f.region("华东大区"))
    f.activity(author=rep, lead=lead, subject="First call")
    f.task(assignee=rep, linked=lead, title="Send brochure")
    html = signed_in.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "First call" in html and "Send brochure" in html
    assert "Timeline Co" in html and "Timeline Co Renamed" in html  # old → new in the history tab
    assert "华东大区" in html and "{&#x27;id&#x27;" not in html  # an FK change shows its label, not a dict


def test_out_of_scope_lead_is_404(signed_in):
    other = f.lead(owner=f.user(), company="Hidden")
    for name in ("leads:detail", "leads:edit", "leads:delete", "leads:convert"):
        assert signed_in.get(reverse(name, args=[other.pk])).status_code == 404


def test_create_lead_writes_through_the_service(signed_in, rep):
    response = signed_in.post(reverse("leads:create"), {
        "company": "New Client", "contact_name": "李四", "source": "phone", "status": "new", "owner": rep.pk,
        "budget": "5000",
    })
    lead = Lead.objects.get(company="New Client")
    assert response.status_code == 302 and response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert lead.status == LeadStatus.ASSIGNED  # the service's rule: an owned new lead is assigned
    assert AuditEntry.objects.filter(object_id=lead.pk, action="create").exists()


def test_bad_input_shows_field_errors_in_chinese(signed_in, rep):
    response = signed_in.post(reverse("leads:create"), {
        "company": "Bad", "source": "phone", "status": "new", "owner": rep.pk, "budget": "-5", "email": "nope",
    })
    html = response.content.decode()
    assert response.status_code == 200
    assert "确保该值大于或等于0" in html
    assert "有效的 Email 地址" in html
    assert not Lead.objects.filter(company="Bad").exists()


def test_service_refusal_lands_on_the_form(signed_in, rep):
    f.lead(owner=rep, source="web_form", external_id="X1")
    response = signed_in.post(reverse("leads:create"), {
        "company": "Dup", "source": "web_form", "status": "new", "owner": rep.pk,
    })
    assert response.status_code == 302  # no external id given: no clash
    lead = Lead.objects.get(company="Dup")
    Lead.objects.filter(pk=lead.pk).update(external_id="X1-other")
    # Scope refusal: a rep cannot hand a lead to someone else and keep editing it.
    response = signed_in.post(reverse("leads:edit", args=[lead.pk]), {
        "company": "Dup", "source": "web_form", "status": "assigned", "owner": f.user().pk,
    })
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == rep


def test_edit_records_history(signed_in, rep):
    lead = f.lead(owner=rep, company="Before")
    response = signed_in.post(reverse("leads:edit", args=[lead.pk]), {
        "company": "After", "source": "referral", "status": "new", "owner": rep.pk,
    })
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.company == "After" and lead.source == "referral"
    entry = AuditEntry.objects.filter(object_id=lead.pk, action="update").get()
    assert entry.changes["company"] == ["Before", "After"]
    assert entry.changes["source"] == ["other", "referral"]
    assert entry.source == "ui" and entry.actor == rep


def test_rep_sees_no_delete_button_and_cannot_delete(signed_in, rep):
    lead = f.lead(owner=rep)
    html = signed_in.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert reverse("leads:edit", args=[lead.pk]) in html
    assert reverse("leads:delete", args=[lead.pk]) not in html
    assert signed_in.post(reverse("leads:delete", args=[lead.pk])).status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_manager_deletes_after_confirmation(client, manager):
    lead = f.lead(owner=manager, company="Doomed")
    client.force_login(manager)
    confirm = client.get(reverse("leads:delete", args=[lead.pk]))
    assert confirm.status_code == 200 and "Doomed" in confirm.content.decode()
    response = client.post(reverse("leads:delete", args=[lead.pk]))
    assert response.status_code == 302 and not Lead.objects.filter(pk=lead.pk).exists()


def test_convert_lead(signed_in, rep):
    lead = f.lead(owner=rep, company="Convert Me", contact_name="王五", budget=Decimal("88000"))
    response = signed_in.post(reverse("leads:convert", args=[lead.pk]), {"opportunity_name": "Big deal"})
    opp = Opportunity.objects.get(name="Big deal")
    assert response.status_code == 302 and response["Location"] == reverse("opportunities:detail", args=[opp.pk])
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED and opp.amount == Decimal("88000")
    assert opp.account.name == "Convert Me" and opp.contact.name == "王五"


def test_convert_refusal_is_shown(signed_in, rep):
    lead = f.lead(owner=rep, company="", contact_name="No Company")
    response = signed_in.post(reverse("leads:convert", args=[lead.pk]), {})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()


def test_log_activity_from_lead_page(signed_in, rep):
    lead = f.lead(owner=rep, status=LeadStatus.ASSIGNED)
    detail = reverse("leads:detail", args=[lead.pk])
    assert 'id="log-activity"' in signed_in.get(detail).content.decode()
    response = signed_in.post(reverse("activities:create"), {
        "kind": "call", "subject": "Intro call", "outcome": "connected", "lead": lead.pk, "next": detail,
    })
    assert response.status_code == 302 and response["Location"] == detail
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED
    assert "Intro call" in signed_in.get(detail).content.decode()


def test_a_lead_typed_in_by_hand_is_de_duplicated_like_a_captured_one(signed_in, rep):
    from baton.capture.models import DedupePolicy
    from baton.leads.services import lead_create

    existing = lead_create(actor=None, owner=rep, company="重复测试有限公司", phone="13900001111", process=False)
    form = {"company": "重复测试有限公司", "contact_name": "李四", "source": "phone", "status": "new",
            "owner": rep.pk, "phone": "139 0000 1111"}
    # default policy: flag the new lead for review
    response = signed_in.post(reverse("leads:create"), form, follow=True)
    flagged = Lead.objects.exclude(pk=existing.pk).get(company="重复测试有限公司")
    assert flagged.duplicate_of_id == existing.pk
    assert response.redirect_chain[-1][0] == reverse("leads:detail", args=[flagged.pk])
    assert f"#{existing.pk}" in response.content.decode()
    # a merge policy for the source: nothing new, the inquiry lands on the existing lead
    DedupePolicy.objects.create(source="phone", action=DedupePolicy.Action.MERGE)
    response = signed_in.post(reverse("leads:create"), {**form, "notes": "第二次来电"}, follow=True)
    assert Lead.objects.filter(company="重复测试有限公司").count() == 2
    assert response.redirect_chain[-1][0] == reverse("leads:detail", args=[existing.pk])
    existing.refresh_from_db()
    assert existing.notes == "第二次来电"
