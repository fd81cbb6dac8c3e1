"""A phone without signal: the visit page is served by the service worker, a visit with a photo and a note is
recorded offline, queued in IndexedDB and sent once the connection is back — each record exactly once, even
when the same actions are sent again (an answer lost on the way back)."""

from datetime import datetime

import pytest
from django.utils import timezone

from baton.activities.models import Activity
from baton.core.testing import factories as f
from baton.visits.models import Visit, VisitPhoto
from baton.visits.tests.imagegen import jpeg, scene

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PW = "pw-12345678"
ACC = (31.230416, 121.473701)


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "geolocation": {"latitude": ACC[0] + 0.0005, "longitude": ACC[1], "accuracy": 12},
            "permissions": ["geolocation"], "viewport": {"width": 390, "height": 844}}


def waiting(page) -> str:
    return page.locator("[data-outbox-count]").first.inner_text()


def test_offline_visit_with_photo_and_note_syncs_exactly_once(page, live_server, transactional_db):
    rep = f.user("field_rep", roles=("rep",), password=PW, display_name="王小明", language="en")
    acc = f.account(owner=rep, name="上海示例公司", lat=ACC[0], lng=ACC[1])
    page.set_default_timeout(20000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "field_rep")
    page.fill("#id_password", PW)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    url = f"{live_server.url}/visits/new/?account={acc.pk}"
    page.goto(url)
    # The service worker installs (caching the page and its files) and takes control.
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")

    # No signal. Chromium's emulated offline state alone once let a queued visit reach the server during this
    # phase (a CI run under load, most likely around the reload), so the phone's calls to the server are also
    # cut where they leave the page: nothing may reach the server until the signal is back.
    page.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    page.context.set_offline(True)
    page.wait_for_function("navigator.onLine === false")
    page.get_by_role("button", name="Start visit").click()
    page.locator("[data-testid=outbox-badge]").wait_for(state="visible")
    assert waiting(page) == "1"

    # Reloading without signal: the page comes from the service worker's cache, the visit from the phone.
    page.reload()
    page.get_by_role("button", name="End visit").wait_for()
    assert waiting(page) == "1"

    photo = jpeg(scene(7, size=(640, 480)), taken=datetime.now(timezone.get_default_timezone()).replace(tzinfo=None),
                 lat=ACC[0], lng=ACC[1])
    page.set_input_files("input[data-kind=storefront]", files=[{"name": "storefront.jpg", "mimeType": "image/jpeg",
                                                                 "buffer": photo}])
    page.wait_for_function("document.querySelector('[data-outbox-count]').textContent === '2'")
    page.fill("#visit-note", "老板在店，约下周看样品")
    page.get_by_test_id("save-note").click()
    page.wait_for_function("document.querySelector('[data-outbox-count]').textContent === '3'")
    page.get_by_role("button", name="End visit").click()
    page.get_by_test_id("pending-result").wait_for(state="visible")
    assert waiting(page) == "4"
    assert Visit.objects.count() == 0 and Activity.objects.count() == 0
    # Keep a copy of the queue to send it all again later (as if the answers had been lost).
    assert page.evaluate("BatonOutbox.all().then((a) => { window.__sent = a; return a.map((x) => x.type); })") == [
        "visit_start", "visit_photo", "activity", "visit_end"]

    page.unroute("**/api/**")
    page.context.set_offline(False)
    page.get_by_test_id("result").wait_for(state="visible")
    page.locator("[data-testid=outbox-badge]").wait_for(state="hidden")
    assert waiting(page) == "0"

    def assert_once():
        visit = Visit.objects.get()
        assert (visit.account_id, visit.rep_id, visit.status) == (acc.pk, rep.pk, Visit.Status.ENDED)
        assert visit.client_id
        assert VisitPhoto.objects.filter(visit=visit).count() == 1
        photo_row = VisitPhoto.objects.get()
        assert photo_row.kind == "storefront" and photo_row.exif_lat is not None and photo_row.client_id
        notes = Activity.objects.filter(kind="note")
        assert notes.count() == 1 and notes.get().note == "老板在店，约下周看样品" and notes.get().account_id == acc.pk
        assert notes.get().client_id
        return visit

    visit = assert_once()
    assert "missing_photos" in visit.invalid_reasons and "too_short" in visit.invalid_reasons
    assert page.locator("[data-testid=result] li[data-code=missing_photos]").is_visible()

    # Send every action again, twice: the server answers the records it already has and writes nothing new.
    sent = page.evaluate("BatonOutbox.requeue(window.__sent)"
                         ".then(() => Promise.all([BatonOutbox.sync(), BatonOutbox.sync()]))"
                         ".then((runs) => runs.map((r) => r.length))")
    assert sent == [4, 0]
    assert waiting(page) == "0"
    assert_once()
