"""`/api/accounts` and `/api/contacts`."""

import pytest

from baton.accounts.models import Account, Contact
from baton.core.models import AuditEntry
from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_account, make_contact, make_industry, make_team, make_user

pytestmark = pytest.mark.django_db

CREDIT_CODE = "91310000MA1FL0000X"


@pytest.fixture
def rep():
    return make_user(roles=["rep"], team=make_team())


@pytest.fixture
def api(rep):
    return ApiClient(rep)


def test_account_crud(rep, api):
    make_industry(code="energy")
    created = api.post("/api/accounts", {"name": "上海能源有限公司", "credit_code": CREDIT_CODE,
                                         "industries": ["energy"], "lat": 31.2, "lng": 121.5})
    assert created.status_code == 201, created.content
    account = created.json()
    assert account["owner"] == rep.pk  # defaults to the caller
    assert account["industries"] == ["energy"] and account["credit_code"] == CREDIT_CODE
    assert api.get(f"/api/accounts/{account['id']}").json()["name"] == "上海能源有限公司"
    patched = api.patch(f"/api/accounts/{account['id']}", {"address": "浦东新区", "industries": []})
    assert patched.status_code == 200
    assert patched.json()["address"] == "浦东新区" and patched.json()["industries"] == []
    assert AuditEntry.objects.filter(object_id=account["id"], action="update", source="api").exists()
    ops = ApiClient(make_user(roles=["ops"]))
    assert ops.delete(f"/api/accounts/{account['id']}").status_code == 204
    assert not Account.objects.exists()


def test_duplicate_credit_code_is_409(rep, api):
    make_account(owner=rep, credit_code=CREDIT_CODE)
    response = api.post("/api/accounts", {"name": "重复", "credit_code": CREDIT_CODE})
    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["field"] == "credit_code"
    # Blank codes never clash.
    assert api.post("/api/accounts", {"name": "甲", "credit_code": ""}).status_code == 201
    assert api.post("/api/accounts", {"name": "乙", "credit_code": ""}).status_code == 201


def test_account_validation(api):
    assert api.post("/api/accounts", {}).json()["errors"] == [{"field": "name", "message": "这个字段是必填项。"}]
    response = api.post("/api/accounts", {"name": "x", "lat": 91})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "lat"
    response = api.post("/api/accounts", {"name": "x", "website": "x.cn"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "website"


def test_account_list_filter_and_scope(rep, api):
    mine = make_account(owner=rep, name="Alpha")
    make_account(owner=rep, name="Beta")
    theirs = make_account(owner=make_user(roles=["rep"], team=make_team()), name="Alpha Two")
    listed = api.get("/api/accounts", {"q": "alpha"}).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == mine.pk
    assert api.get(f"/api/accounts/{theirs.pk}").status_code == 404
    assert api.get("/api/accounts", {"ordering": "-name", "limit": 1}).json()["items"][0]["name"] == "Beta"


def test_contact_crud_and_scope(rep, api):
    account = make_account(owner=rep)
    created = api.post("/api/contacts", {"account": account.pk, "name": "王芳", "decision_role": "veto",
                                         "email": "wang@example.com"})
    assert created.status_code == 201, created.content
    contact = created.json()
    assert contact["account"] == account.pk and contact["decision_role"] == "veto"
    assert api.patch(f"/api/contacts/{contact['id']}", {"title": "CFO"}).json()["title"] == "CFO"
    assert api.get("/api/contacts", {"account": account.pk}).json()["count"] == 1

    other_account = make_account(owner=make_user(roles=["rep"], team=make_team()))
    hidden = make_contact(account=other_account)
    assert api.get(f"/api/contacts/{hidden.pk}").status_code == 404
    # A contact cannot be attached to an account the caller cannot see.
    response = api.post("/api/contacts", {"account": other_account.pk, "name": "x"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "account"
    assert api.post("/api/contacts", {"account": account.pk, "name": "y", "decision_role": "boss"}).status_code == 422
    assert Contact.objects.filter(account=account).count() == 1
