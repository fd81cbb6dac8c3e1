from datetime import timedelta

import pytest
from django.test import Client

from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.visits.tests.test_visits import ACC, PW, T0, full_visit, media, start  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return f.user("rep1", roles=("rep",), password=PW, display_name="王小明", language="en")


def browser(user):
    c = Client()
    c.login(username=user.username, password=PW)
    return c


def test_phone_page_for_an_account_and_resuming_a_visit(rep):
    acc = f.account(owner=rep, lat=ACC[0], lng=ACC[1], name="上海示例公司")
    page = browser(rep).get(f"/visits/new/?account={acc.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "上海示例公司" in html and 'capture="environment"' in html and "navigator.geolocation" in html
    vid = start(ApiClient(rep, password=PW), acc).json()["id"]
    resumed = browser(rep).get(f"/visits/new/?visit={vid}")
    assert resumed.status_code == 200 and f'"id": {vid}' in resumed.content.decode()
    other = f.user("rep2", roles=("rep",), password=PW)
    assert browser(other).get(f"/visits/new/?visit={vid}").status_code == 404
    assert browser(other).get(f"/visits/new/?account={acc.pk}").status_code == 404


def test_overview_shows_counts_and_reasons(rep):
    from baton.core import clock

    acc = f.account(owner=rep, lat=ACC[0], lng=ACC[1], name="上海示例公司")
    api = ApiClient(rep, password=PW)
    full_visit(api, acc, minutes=10)
    with clock.frozen(T0 + timedelta(days=1)):
        html = browser(rep).get("/visits/").content.decode()
    assert "王小明" in html and "at least 25 are required" in html
    assert browser(f.user("x", roles=("rep",), password=PW)).get("/visits/").status_code == 200
