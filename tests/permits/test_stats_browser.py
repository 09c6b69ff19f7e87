"""The statistics page in Chromium: Charlie (Department) looks at the last 14 days, narrows
the period, and downloads the workbook. Screenshots land in test-artifacts/."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import browser_login, screenshot
from tests.permits.test_stats import dmy, known  # noqa: F401 (the data set, as a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("known")
def test_the_department_reads_and_exports_the_statistics(chromium, live_server, charlie):
    context = chromium.new_context(
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    page = context.new_page()
    try:
        browser_login(page, live_server, "charlie")
        page.goto(f"{live_server.url}/stats/")
        assert page.locator("h1").inner_text() == "Thống kê cấp giấy đi đường"
        assert page.locator("#stats-status tfoot td").inner_text() == "7"
        assert page.locator("#stats-permits tfoot td").first.inner_text() == "5"
        assert page.locator("[data-approval=median]").inner_text() == "30,0 giờ"
        screenshot(page, "stats")

        page.get_by_label("Từ ngày").fill(dmy(5))
        page.get_by_label("Đến hết ngày").fill(dmy(0))
        page.get_by_role("button", name="Xem").click()
        page.wait_for_load_state()
        assert page.locator("#stats-permits thead th").count() == 1 + 6 + 1
        assert page.locator("[data-approval=count]").inner_text() == "2"
        screenshot(page, "stats-period")

        with page.expect_download() as download:
            page.get_by_role("link", name="Tải số liệu (Excel)").click()
        book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
        assert book.worksheets[1]["C2"].value == dmy(5)
        assert book.worksheets[2]["B3"].value == 2
    finally:
        context.close()
