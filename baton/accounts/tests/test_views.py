"""Account and contact pages through the Django test client."""

import pytest
from django.urls import reverse

from baton.accounts.models import Account, Contact
from baton.core.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return f.user("acc_rep", roles=("rep",))


@pytest.fixture
def signed_in(client, rep):
    client.force_login(rep)
    return client


def test_account_list_filter_and_scope(signed_in, rep):
    f.account(owner=rep, name="Huadong Steel")
    f.account(owner=rep, name="Beijing Glass")
    f.account(owner=f.user(), name="Foreign Account")
    html = signed_in.get(reverse("accounts:list"), {"q": "steel"}).content.decode()
    assert "Huadong Steel" in html and "Beijing Glass" not in html and "Foreign Account" not in html


def test_account_detail_lists_contacts_and_history(signed_in, rep):
    account = f.account(owner=rep, name="Detail Co")
    f.contact(account_=account, name="赵六")
    f.opportunity(owner=rep, account_=account, name="Detail deal")
    html = signed_in.get(reverse("accounts:detail", args=[account.pk])).content.decode()
    assert "赵六" in html and "Detail deal" in html


def test_account_create_edit_and_out_of_scope(signed_in, rep):
    response = signed_in.post(reverse("accounts:create"), {"name": "Created Co", "owner": rep.pk})
    account = Account.objects.get(name="Created Co")
    assert response.status_code == 302 and account.credit_code is None
    response = signed_in.post(reverse("accounts:edit", args=[account.pk]),
                              {"name": "Renamed Co", "owner": rep.pk, "address": "上海"})
    account.refresh_from_db()
    assert response.status_code == 302 and account.name == "Renamed Co" and account.address == "上海"
    other = f.account(owner=f.user())
    assert signed_in.get(reverse("accounts:detail", args=[other.pk])).status_code == 404
    assert signed_in.post(reverse("accounts:edit", args=[other.pk]), {"name": "x"}).status_code == 404


def test_duplicate_credit_code_is_a_field_error(signed_in, rep):
    f.account(owner=rep, credit_code="91310000MA1FL0000X")
    response = signed_in.post(reverse("accounts:create"),
                              {"name": "Dup Co", "owner": rep.pk, "credit_code": "91310000MA1FL0000X"})
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    assert not Account.objects.filter(name="Dup Co").exists()


def test_account_delete_by_manager(client):
    manager = f.user("acc_mgr", roles=("manager",))
    account = f.account(owner=manager, name="Gone Co")
    client.force_login(manager)
    assert client.get(reverse("accounts:delete", args=[account.pk])).status_code == 200
    assert client.post(reverse("accounts:delete", args=[account.pk])).status_code == 302
    assert not Account.objects.filter(pk=account.pk).exists()


def test_account_with_deals_cannot_be_deleted(client):
    manager = f.user("acc_mgr2", roles=("manager",))
    account = f.account(owner=manager)
    f.opportunity(owner=manager, account_=account)
    client.force_login(manager)
    response = client.post(reverse("accounts:delete", args=[account.pk]), follow=True)
    assert Account.objects.filter(pk=account.pk).exists()
    assert "alert-danger" in response.content.decode()


def test_contact_pages(signed_in, rep):
    account = f.account(owner=rep, name="Contact Home")
    f.contact(account_=account, name="孙七", phone="13800000000")
    f.contact(account_=f.account(owner=f.user()), name="Not Mine")
    html = signed_in.get(reverse("accounts:contact_list")).content.decode()
    assert "孙七" in html and "Not Mine" not in html
    response = signed_in.post(reverse("accounts:contact_create"),
                              {"account": account.pk, "name": "周八", "email": "zhou@example.cn"})
    contact = Contact.objects.get(name="周八")
    assert response.status_code == 302
    assert "周八" in signed_in.get(reverse("accounts:contact_detail", args=[contact.pk])).content.decode()
    response = signed_in.post(reverse("accounts:contact_edit", args=[contact.pk]),
                              {"account": account.pk, "name": "周八", "email": "not-an-email"})
    assert response.status_code == 200 and "Email" in response.content.decode()


def test_contact_cannot_be_put_on_an_unseen_account(signed_in):
    foreign = f.account(owner=f.user())
    response = signed_in.post(reverse("accounts:contact_create"), {"account": foreign.pk, "name": "Sneaky"})
    assert response.status_code == 200
    assert not Contact.objects.filter(name="Sneaky").exists()


def test_contact_delete_needs_delete_scope(signed_in, rep):
    contact = f.contact(account_=f.account(owner=rep))
    assert signed_in.post(reverse("accounts:contact_delete", args=[contact.pk])).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()
