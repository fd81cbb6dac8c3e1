"""A real browser: a manager transfers a breached lead from the timeliness board."""

import os

import pytest

from baton.assignment.services import assignment_install_defaults
from baton.core.testing import factories as f
from baton.leads.models import Lead
from baton.sla.models import SlaCrossing, SlaPolicy
from baton.sla.services import sla_install_defaults, sla_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("BATON_SCREENSHOT_DIR", "")


@pytest.fixture
def seeded(transactional_db):
    from baton.core import clock

    sla_install_defaults()
    assignment_install_defaults()
    SlaPolicy.objects.exclude(code="status_update").update(active=False)  # 24 h, 24×7
    manager = f.make_user(username="board_mgr", roles=("manager",), password="pw-12345678", language="en")
    team = f.make_team(manager=manager)
    rep = f.make_user(username="slow_rep", team=team, manager=manager, display_name="Slow Rep")
    f.make_user(username="fast_rep", team=team, manager=manager, display_name="Fast Rep")
    now = clock.now()
    late = f.make_lead(owner=rep, company="Overdue Trading", grade="A", created_at=now - clock_hours(30))
    f.make_lead(owner=rep, company="Fine Trading", created_at=now - clock_hours(1))
    sla_scan(now)
    return late


def clock_hours(n):
    from datetime import timedelta

    return timedelta(hours=n)


def test_manager_transfers_a_breached_lead_from_the_board(page, live_server, seeded):
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "board_mgr")
    page.fill("#id_password", "pw-12345678")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click("#nav-sla-board")
    page.wait_for_url("**/sla/board/")
    row = page.locator("#sla-board tr.sla-row", has_text="Overdue Trading")
    assert row.locator(".sla-time").inner_text().startswith("overdue 6 h")
    assert "text-danger" in row.locator(".sla-time").get_attribute("class")
    assert page.locator("#sla-board").get_by_text("Fine Trading").count() == 0
    row.locator("button.sla-act").click()
    form = row.locator("form.sla-transfer")
    form.locator("select[name=to]").select_option(label="Fast Rep")
    form.locator("select[name=reason_code]").select_option(index=0)
    form.locator("input[name=note]").fill("rep on leave")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "sla_board.png"), full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/sla/board/**")
    page.locator("#sla-empty").wait_for()
    lead = Lead.objects.select_related("owner").get(pk=seeded.pk)
    assert lead.owner.username == "fast_rep"
    assert not SlaCrossing.objects.filter(item_id=lead.pk, resolved_at__isnull=True).exists()
