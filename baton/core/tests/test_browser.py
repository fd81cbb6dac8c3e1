"""A real browser through the main lead workflow: sign in, filter, open, edit, read the history."""

import os

import pytest

from baton.core.testing import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("BATON_SCREENSHOT_DIR", "")


@pytest.fixture
def seeded(transactional_db):
    rep = f.user("browser_rep", roles=("rep",), password="pw-12345678", display_name="王小明")
    hot = f.tag("重点", color="red")
    f.lead(owner=rep, company="Alpha Trading", contact_name="李雷", grade="A", score=85, tags=[hot],
           source="trade_show")
    f.lead(owner=rep, company="Beta Logistics", contact_name="韩梅梅", grade="B", score=55, source="web_form")
    for i in range(6):
        f.lead(owner=rep, company=f"Gamma Works {i}", grade="C", score=20 + i, source="phone")
    return rep


def test_sign_in_filter_open_edit_and_see_history(page, live_server, seeded):
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "browser_rep")
    page.fill("#id_password", "pw-12345678")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#stat-open-leads").inner_text() == "8"

    page.goto(f"{live_server.url}/leads/")
    table = page.locator("#object-table")
    assert table.get_by_text("Beta Logistics").is_visible()
    if SHOTS:
        page.set_viewport_size({"width": 1366, "height": 900})
        page.screenshot(path=os.path.join(SHOTS, "lead_list_desktop.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=os.path.join(SHOTS, "lead_list_phone.png"), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 900})

    # The search box filters through htmx: the table is swapped, the page stays.
    page.fill("input[name=q]", "alpha")
    page.locator("#object-table").get_by_text("Beta Logistics").wait_for(state="detached")
    assert page.locator("#object-table").get_by_text("Alpha Trading").is_visible()
    assert "q=alpha" in page.url

    page.locator("#object-table").get_by_role("link", name="Alpha Trading").click()
    page.wait_for_url("**/leads/*/")
    page.click("#edit-button")
    page.fill("#id_company", "Alpha Trading Group")
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/leads/*/")
    assert page.locator("h2.page-title").inner_text() == "Alpha Trading Group"

    page.click("#history-tab")
    history = page.locator("#tab-history")
    history.get_by_text("Alpha Trading Group").first.wait_for()
    assert history.locator(".text-decoration-line-through", has_text="Alpha Trading").first.is_visible()
    assert history.get_by_text("王小明").first.is_visible()
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "lead_detail_history.png"), full_page=True)
