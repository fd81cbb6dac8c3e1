"""Pages every user sees: sign-in, home dashboard, language switch, generic view behaviour."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from baton.core import clock
from baton.core.testing import factories as f
from baton.leads.models import LeadStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return f.user("home_rep", roles=("rep",), password="pw-12345678")


def test_pages_need_sign_in(client):
    for name in ("home", "leads:list", "accounts:list", "opportunities:list", "activities:task_list"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_sign_in_page_is_chinese_by_default_and_logs_in(client, rep):
    page = client.get(reverse("login")).content.decode()
    assert 'lang="zh-hans"' in page and "登录" in page
    response = client.post(reverse("login"), {"username": "home_rep", "password": "pw-12345678"})
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_home_dashboard_counts_my_scope(client, rep):
    f.lead(owner=rep, status=LeadStatus.ASSIGNED)
    f.lead(owner=rep, status=LeadStatus.CONTACTED)
    f.lead(owner=rep, status=LeadStatus.CONVERTED)  # not open
    f.lead(owner=f.user(), status=LeadStatus.ASSIGNED)  # not mine
    f.opportunity(owner=rep, amount=Decimal("1000"))
    f.opportunity(owner=rep, amount=Decimal("2500"))
    f.opportunity(owner=f.user(), amount=Decimal("99999"))
    f.task(assignee=rep, due_at=clock.now())
    f.task(assignee=rep, due_at=clock.now() + timedelta(days=3))
    client.force_login(rep)
    response = client.get(reverse("home"))
    assert response.context["my_open_leads"] == 2
    assert response.context["open_deals"] == 2 and response.context["open_amount"] == Decimal("3500")
    assert response.context["tasks_due"] == 1
    assert "3,500.00" in response.content.decode()


def test_language_switch_persists_on_the_user(client, rep):
    client.force_login(rep)
    assert "线索" in client.get(reverse("leads:list")).content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("leads:list")})
    assert response.status_code == 302 and response["Location"] == reverse("leads:list")
    rep.refresh_from_db()
    assert rep.language == "en"
    # A new session (another browser, no cookie) still gets English: the choice lives on the user.
    client.logout()
    client.cookies.clear()
    client.force_login(rep)
    page = client.get(reverse("leads:list")).content.decode()
    assert 'lang="en"' in page and ">Leads<" in page


def test_language_switch_refuses_foreign_redirects(client, rep):
    client.force_login(rep)
    response = client.post(reverse("set_language"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_every_list_page_renders(client):
    ops = f.user("ops_all", roles=("ops",))
    f.lead(owner=ops)
    account = f.account(owner=ops)
    f.contact(account_=account)
    f.opportunity(owner=ops, account_=account)
    f.activity(author=ops)
    f.task(assignee=ops)
    client.force_login(ops)
    names = ["leads:list", "accounts:list", "accounts:contact_list", "opportunities:list", "activities:list",
             "activities:task_list", "leads:create", "accounts:create", "accounts:contact_create",
             "opportunities:create", "activities:create", "activities:task_create"]
    for name in names:
        assert client.get(reverse(name)).status_code == 200, name


def test_unknown_id_is_404(client, rep):
    client.force_login(rep)
    assert client.get(reverse("leads:detail", args=[999999])).status_code == 404
