"""The API's shared behaviour: tokens, session auth, error answers, limits, language, OpenAPI."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from baton.core import clock
from baton.core.testing.api import ApiClient
from baton.core.testing.factories import make_lead, make_user
from baton.org.models import ApiToken, User, hash_token
from baton.org.services import api_token_authenticate, api_token_issue

pytestmark = pytest.mark.django_db

OPERATIONS = ("get", "post", "patch", "delete")


def test_issue_token_stores_only_its_hash():
    user = make_user(username="alice")
    response = Client().post("/api/auth/token", {"username": "alice", "password": "pass12345"},
                             content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hash_token(body["token"])
    assert body["token"] not in {token.key_hash, token.prefix}
    assert body["token"].startswith(token.prefix)
    assert body["expires_at"]


def test_wrong_password_is_401_json():
    make_user(username="alice")
    response = Client().post("/api/auth/token", {"username": "alice", "password": "nope"},
                             content_type="application/json")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_token_authenticates_and_stamps_last_use():
    user = make_user(roles=["rep"])
    make_lead(owner=user)
    api = ApiClient(user)
    response = api.get("/api/leads")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_last_use_is_kept_to_the_minute_without_a_write_per_request():
    from datetime import UTC, datetime

    from baton.core import clock

    user = make_user(roles=["rep"])
    api = ApiClient(user)
    t0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with clock.frozen(t0):
        assert api.get("/api/leads").status_code == 200
    with clock.frozen(t0 + timedelta(seconds=40)):
        assert api.get("/api/leads").status_code == 200
    assert ApiToken.objects.get(user=user).last_used_at == t0  # the same minute: not written again
    with clock.frozen(t0 + timedelta(minutes=3)):
        assert api.get("/api/leads").status_code == 200
    assert ApiToken.objects.get(user=user).last_used_at == t0 + timedelta(minutes=3)


def test_no_credentials_or_bad_token_is_401():
    for client in (ApiClient(), ApiClient(token="not-a-token")):
        response = client.get("/api/leads")
        assert response.status_code == 401
        assert set(response.json()) == {"detail", "errors"}
        assert client.post("/api/leads", {"company": "x"}).status_code == 401


def test_expired_token_is_401():
    user = make_user()
    with clock.frozen("2030-01-01T09:00:00+08:00") as start:
        api = ApiClient(user)
        assert api.get("/api/leads").status_code == 200
    with clock.frozen(start + timedelta(days=29)):
        assert api.get("/api/leads").status_code == 200
    with clock.frozen(start + timedelta(days=31)):
        assert api.get("/api/leads").status_code == 401


def test_revoke_token_used_for_the_call():
    user = make_user()
    api = ApiClient(user)
    other = ApiClient(user)
    assert api.delete("/api/auth/token").status_code == 204
    assert api.get("/api/leads").status_code == 401
    assert other.get("/api/leads").status_code == 200
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=False).count() == 1


def test_token_of_a_user_made_inactive_is_401():
    user = make_user(roles=["rep"])
    api = ApiClient(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert api.get("/api/leads").status_code == 401


def test_token_authentication_reads_token_user_and_roles_in_one_query(django_assert_num_queries):
    user = make_user(roles=["rep", "manager"])
    _token, raw = api_token_issue(username=user.username, password="pass12345")
    with django_assert_num_queries(2):  # the read, and the first use's stamp
        token = api_token_authenticate(raw=raw)
    with django_assert_num_queries(0):  # what scoping asks next
        assert token.user.username == user.username and token.user.role_codes == {"rep", "manager"}


def test_session_auth_needs_csrf_for_writes():
    user = make_user(roles=["rep"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/leads").status_code == 200
    body = json.dumps({"company": "会话公司", "owner": user.pk})
    refused = client.post("/api/leads", body, content_type="application/json")
    assert refused.status_code == 403
    csrf = "a" * 32  # what the UI page put in the csrftoken cookie and sends back as X-CSRFToken
    client.cookies["csrftoken"] = csrf
    ok = client.post("/api/leads", body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert ok.status_code == 201, ok.content


def test_malformed_json_is_400():
    api = ApiClient(make_user())
    response = api.post("/api/leads", raw="{not json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_oversized_body_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api = ApiClient(make_user())
    response = api.post("/api/leads", {"company": "x", "notes": "长" * 2000})
    assert response.status_code == 413
    assert response.json()["detail"]


def test_validation_messages_follow_the_users_language():
    zh = ApiClient(make_user(language="zh-hans"))
    en = ApiClient(make_user(language="en"))
    body = {"company": "负预算", "budget": "-1"}
    zh_errors = zh.post("/api/leads", body).json()["errors"]
    en_errors = en.post("/api/leads", body).json()["errors"]
    assert zh_errors[0]["field"] == "budget"
    assert "确保该值大于或等于" in zh_errors[0]["message"]
    assert en_errors[0]["field"] == "budget"
    assert "Ensure this value is greater than or equal to 0" in en_errors[0]["message"]


def test_model_validation_messages_follow_the_users_language():
    # An e-mail is checked by the model (service full_clean), not the schema.
    zh = ApiClient(make_user(language="zh-hans")).post("/api/leads", {"email": "not-an-email"})
    en = ApiClient(make_user(language="en")).post("/api/leads", {"email": "not-an-email"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["errors"] == [{"field": "email", "message": "输入一个有效的 Email 地址。"}]
    assert en.json()["errors"] == [{"field": "email", "message": "Enter a valid email address."}]


def test_openapi_lists_paths_and_error_responses():
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    for resource in ("leads", "accounts", "contacts", "opportunities", "activities", "tasks"):
        assert f"/api/{resource}" in schema["paths"]
        assert f"/api/{resource}/{{id}}" in schema["paths"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in OPERATIONS:
                for status in ("400", "401", "404", "409", "413", "422"):
                    assert status in operation["responses"], (path, method, status)
    names = {p["name"] for p in schema["paths"]["/api/leads"]["get"]["parameters"]}
    assert {"status", "owner", "ordering", "limit", "offset"} <= names


def test_docs_page():
    assert Client().get("/api/docs").status_code == 200
