"""A real browser builds a pivot, drills into a bar and a row, refreshes and exports a watermarked PDF."""

import shutil
import subprocess

import pytest
from PIL import Image

from baton.core.testing import factories as fx
from baton.reports import store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pivot_drill_and_pdf_export(page, live_server, sales, tmp_path):
    fx.user("pivot_ops", roles=("ops",), password="pw-12345678", language="en")
    store.sync(triggered_by="schedule")
    page.set_default_timeout(20000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "pivot_ops")
    page.fill("#id_password", "pw-12345678")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/reports/pivot/")
    page.check("input[name=dim-stage]")
    # Chart the deal count alone so every bar is tall enough to click.
    page.uncheck("input[name=metric-won_amount]")
    page.uncheck("input[name=metric-win_rate]")
    page.click("#pivot-run")
    page.wait_for_selector("#pivot-table tbody tr")
    assert page.locator("#pivot-table tbody tr").count() >= 4
    assert page.locator("#pivot-as-of").inner_text().strip()
    # Click the tallest bar of the chart: the deals behind that bar are listed.
    chart_box = page.locator("#pivot-chart-box")
    page.evaluate("document.documentElement.style.scrollBehavior = 'auto'")  # Tabler scrolls smoothly
    chart_box.scroll_into_view_if_needed()
    page.wait_for_function("echarts.getInstanceByDom(document.getElementById('pivot-chart-box')).getWidth() > 0")
    page.wait_for_timeout(1000)  # the bars' entry animation
    bar = page.evaluate("""() => {
        const el = document.getElementById("pivot-chart-box");
        const chart = echarts.getInstanceByDom(el);
        const data = chart.getModel().getSeriesByIndex(0).getData();
        let i = 0;
        for (let j = 0; j < data.count(); j++) if (data.get("y", j) > data.get("y", i)) i = j;
        const r = data.getItemLayout(i);
        const box = el.getBoundingClientRect();
        return {x: box.left + r.x + r.width / 2, y: box.top + r.y + r.height / 2, value: data.get("y", i)};
    }""")
    page.mouse.click(bar["x"], bar["y"])
    page.wait_for_selector("#pivot-drill tbody tr")
    assert page.locator("#pivot-drill tbody tr").count() == bar["value"]
    # A table row drills the same way.
    page.locator("#pivot-table tbody tr").first.click()
    page.wait_for_selector("#pivot-drill tbody tr")
    assert page.locator("#pivot-drill tbody tr").count() >= 1
    # Save the pivot, shared with everyone; it is listed and loads back.
    page.fill("#save-name", "Deals by stage")
    page.select_option("#save-share", "all")
    page.click("#pivot-save")
    page.wait_for_selector(".saved-pivot")
    from baton.reports.models import SavedPivot

    saved = SavedPivot.objects.get()
    assert saved.shared_with == "all" and "stage" in saved.request["dimensions"]
    page.locator(".saved-pivot a").first.click()
    page.wait_for_selector("#pivot-table tbody tr")
    page.click("#pivot-refresh")
    page.wait_for_selector("#pivot-table tbody tr")
    with page.expect_download() as info:
        page.click("#export-pdf")
    pdf = tmp_path / "pivot.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    png = next(tmp_path.glob("p*.png"))
    img = Image.open(png).convert("L")
    assert img.getextrema()[0] < 128, "the first page is not blank"
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "pivot_ops ·" in text
