"""Opportunity pages through the Django test client."""

from decimal import Decimal

import pytest
from django.urls import reverse

from baton.core.testing import factories as f
from baton.opportunities.models import Opportunity, StageChange
from baton.opportunities.services import pipeline_ensure_default

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return f.user("opp_rep", roles=("rep",))


@pytest.fixture
def signed_in(client, rep):
    client.force_login(rep)
    return client


def test_list_filter_and_scope(signed_in, rep):
    f.opportunity(owner=rep, name="Small deal", amount=Decimal("1000"))
    f.opportunity(owner=rep, name="Large deal", amount=Decimal("900000"))
    f.opportunity(owner=f.user(), name="Their deal")
    html = signed_in.get(reverse("opportunities:list"), {"amount_min": "50000"}).content.decode()
    assert "Large deal" in html and "Small deal" not in html and "Their deal" not in html


def test_create_starts_in_first_open_stage(signed_in, rep):
    account = f.account(owner=rep)
    response = signed_in.post(reverse("opportunities:create"),
                              {"name": "Fresh deal", "account": account.pk, "owner": rep.pk, "amount": "12000",
                               "currency": "CNY"})
    opp = Opportunity.objects.get(name="Fresh deal")
    assert response.status_code == 302
    assert opp.stage.position == 0 and opp.amount == Decimal("12000")


def test_edit_moves_stage_and_logs_it(signed_in, rep):
    opp = f.opportunity(owner=rep, name="Moving deal")
    next_stage = pipeline_ensure_default().stages.get(position=2)
    response = signed_in.post(reverse("opportunities:edit", args=[opp.pk]), {
        "name": "Moving deal", "owner": rep.pk, "pipeline": opp.pipeline_id, "stage": next_stage.pk,
        "amount": "10000", "currency": "CNY", "probability": "10",
    })
    assert response.status_code == 302
    opp.refresh_from_db()
    assert opp.stage == next_stage
    assert StageChange.objects.filter(opportunity=opp, to_stage=next_stage).exists()
    html = signed_in.get(reverse("opportunities:detail", args=[opp.pk])).content.decode()
    assert next_stage.name in html


def test_negative_amount_is_refused_in_chinese(signed_in, rep):
    opp = f.opportunity(owner=rep)
    response = signed_in.post(reverse("opportunities:edit", args=[opp.pk]), {
        "name": opp.name, "owner": rep.pk, "pipeline": opp.pipeline_id, "stage": opp.stage_id,
        "amount": "-1", "currency": "CNY", "probability": "10",
    })
    assert response.status_code == 200 and "确保该值大于或等于0" in response.content.decode()


def test_lost_without_reason_is_a_field_error(signed_in, rep):
    opp = f.opportunity(owner=rep)
    lost = pipeline_ensure_default().stages.get(kind="lost")
    response = signed_in.post(reverse("opportunities:edit", args=[opp.pk]), {
        "name": opp.name, "owner": rep.pk, "pipeline": opp.pipeline_id, "stage": lost.pk,
        "amount": "10", "currency": "CNY", "probability": "0",
    })
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    opp.refresh_from_db()
    assert opp.status == Opportunity.Status.OPEN


def test_out_of_scope_is_404_and_delete_by_manager(signed_in, client):
    other = f.opportunity(owner=f.user())
    assert signed_in.get(reverse("opportunities:detail", args=[other.pk])).status_code == 404
    manager = f.user("opp_mgr", roles=("manager",))
    mine = f.opportunity(owner=manager)
    client.force_login(manager)
    assert client.post(reverse("opportunities:delete", args=[mine.pk])).status_code == 302
    assert not Opportunity.objects.filter(pk=mine.pk).exists()


def test_log_activity_from_opportunity_page(signed_in, rep):
    opp = f.opportunity(owner=rep)
    detail = reverse("opportunities:detail", args=[opp.pk])
    response = signed_in.post(reverse("activities:create"),
                              {"kind": "visit", "subject": "On-site demo", "opportunity": opp.pk, "next": detail})
    assert response.status_code == 302
    assert "On-site demo" in signed_in.get(detail).content.decode()
