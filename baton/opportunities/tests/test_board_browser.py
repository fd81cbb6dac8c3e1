"""A real browser on the board: drag a deal, read the refusal, upload the evidence, drag it again."""

import pytest

from baton.core.testing import factories as f
from baton.opportunities import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    pipeline = services.pipeline_ensure_default()
    services.stage_requirements_install_defaults(pipeline)
    rep = f.user("board_rep", roles=("rep",), password="pw-12345678", display_name="王小明")
    deal = f.make_opportunity(owner=rep, name="拖拽商机", stage=pipeline.stages.get(name="报价"))
    return pipeline, deal


def test_drag_refused_then_upload_then_move(page, live_server, seeded, tmp_path):
    pipeline, deal = seeded
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "board_rep")
    page.fill("#id_password", "pw-12345678")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/opportunities/board/{pipeline.pk}/")
    meeting = pipeline.stages.get(name="客户内部决策会")
    card = page.locator(f"#deal-{deal.pk}")
    target = page.locator(f".board-column[data-stage='{meeting.pk}'] .board-drop")
    card.drag_to(target, source_position={"x": 8, "y": 40})
    refusal = page.locator("#move-refused")
    refusal.wait_for()
    assert "决策会现场照片" in refusal.locator(".move-errors").inner_text()
    # The card went nowhere.
    assert page.locator(f".board-column[data-stage='{deal.stage_id}'] #deal-{deal.pk}").count() == 1

    photo = tmp_path / "meeting.jpg"
    photo.write_bytes(b"\xff\xd8\xff fake jpeg for the test")
    refusal.locator("input[type=file]").set_input_files(str(photo))
    refusal.locator("button[type=submit]").first.click()
    page.wait_for_url(f"**/opportunities/board/{pipeline.pk}/")
    page.locator(".alert-success").wait_for()

    page.locator(f"#deal-{deal.pk}").drag_to(
        page.locator(f".board-column[data-stage='{meeting.pk}'] .board-drop"), source_position={"x": 8, "y": 40})
    page.locator(f".board-column[data-stage='{meeting.pk}'] #deal-{deal.pk}").wait_for()
    deal.refresh_from_db()
    assert deal.stage_id == meeting.pk
