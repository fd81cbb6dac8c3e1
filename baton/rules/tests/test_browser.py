"""A real browser builds a scoring rule in the rule builder, sees the preview, saves it and finds it listed."""

import os

import pytest

from baton.core.testing import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("BATON_SCREENSHOT_DIR", "")


@pytest.fixture
def seeded(transactional_db):
    from baton.assignment.models import Pool, PoolMember
    from baton.assignment.services import lead_auto_assign

    ops = f.user("browser_ops", roles=("ops",), password="pw-12345678", display_name="运营小张")
    rep = f.user("browser_rep2", roles=("rep",), display_name="王小明")
    pool = Pool.objects.create(name="A channel", strategy="round_robin")
    PoolMember.objects.create(pool=pool, user=rep, daily_cap=8)
    for i in range(5):
        lead = f.lead(company=f"Budget Co {i}", grade="B", score=80, budget=300000, source="web_form")
        lead_auto_assign(lead=lead)
    for i in range(3):
        f.lead(company=f"Small Co {i}", grade="C", score=20, budget=1000, source="phone")
    return ops


def test_build_a_scoring_rule_with_preview(page, live_server, seeded):
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "browser_ops")
    page.fill("#id_password", "pw-12345678")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/rules/scoring/new/")
    page.fill("#id_name", "Big budget from the web")
    page.fill("#id_points", "10")
    builder = page.locator("#condition-builder")
    # The field list comes from the registry API; add a leaf "budget > 200000".
    builder.locator(".cb-add-leaf").first.click()
    builder.locator("option[value=budget]").first.wait_for(state="attached")
    leaf = builder.locator(".cb-leaf").nth(0)
    leaf.locator("select.cb-field").select_option("budget")
    leaf.locator("select.cb-op").select_option("gt")
    leaf.locator("input.cb-input").fill("200000")
    # and a second leaf "source is one of web form", picked from the registry's choices
    builder.locator(".cb-add-leaf").first.click()
    leaf2 = builder.locator(".cb-leaf").nth(1)
    leaf2.locator("select.cb-field").select_option("source")
    leaf2.locator("select.cb-op").select_option("eq")
    leaf2.locator("select.cb-input").select_option("web_form")

    page.locator("#preview-matches", has_text="5").wait_for()
    grades = page.locator("#preview-grades").inner_text()
    assert "+5 A" in grades and "−5 B" in grades
    if SHOTS:
        page.set_viewport_size({"width": 1366, "height": 900})
        page.screenshot(path=os.path.join(SHOTS, "rule_builder.png"), full_page=True)

    page.click("#save-rule")
    page.wait_for_url("**/rules/scoring/*/?run=*")
    page.locator(".rule-run").first.wait_for()  # the background re-evaluation shows its progress
    page.goto(f"{live_server.url}/rules/")
    assert page.locator("#scoring-rules").get_by_text("Big budget from the web").is_visible()

    page.goto(f"{live_server.url}/pools/board/")
    page.locator(".board-pool").first.wait_for()
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "pool_board.png"), full_page=True)
