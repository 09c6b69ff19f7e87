"""A clerk imports a staff list in a browser: errors to fix, then a clean file, then the list."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from permits.models import Staff
from tests.conftest import browser_login, screenshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TODAY = date(2021, 9, 15)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def lockdown_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: TODAY)


@pytest.fixture(autouse=True)
def upload_storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_clerk_fixes_a_messy_list_then_imports_a_clean_one(live_server, page, alice, viettel):
    browser_login(page, live_server, "alice")
    page.get_by_role("link", name="Nhân sự").first.click()
    page.get_by_role("link", name="Nhập danh sách từ tệp").click()

    page.get_by_label("Tệp danh sách (.xlsx hoặc .csv)").set_input_files(
        str(FIXTURES / "staff-messy.csv")
    )
    page.get_by_role("button", name="Kiểm tra").click()
    alert = page.locator(".alert--error").first
    assert "10 dòng lỗi" in alert.inner_text()
    errors = page.locator("table[data-import-errors] tbody tr")
    assert errors.count() >= 10
    first = errors.first.locator("td")
    assert first.nth(0).inner_text() == "5"
    assert "trùng với dòng 6" in first.nth(2).inner_text()
    assert page.get_by_role("button", name="Nhập").count() == 0
    screenshot(page, "staff-import-errors")
    assert not Staff.objects.exists()

    page.get_by_label("Tệp danh sách (.xlsx hoặc .csv)").set_input_files(
        str(FIXTURES / "staff-clean.csv")
    )
    page.get_by_role("button", name="Kiểm tra").click()
    assert page.locator("[data-count=created]").inner_text() == "50"
    screenshot(page, "staff-import-preview")
    assert not Staff.objects.exists()

    page.get_by_role("button", name="Nhập 50 dòng vào danh sách").click()
    page.wait_for_url(f"{live_server.url}/staff/")
    assert "50 người mới" in page.locator(".messages").inner_text()
    assert page.locator("tbody tr").count() == 50
    screenshot(page, "staff-list")
    assert Staff.objects.filter(organization=viettel).count() == 50

    page.get_by_label("Tìm theo họ tên hoặc số CCCD/CMND").fill("kieu duc")
    page.get_by_role("button", name="Tìm").click()
    assert page.locator("tbody tr").count() == 1
    assert "Kiều Đức Phong" in page.locator("tbody").inner_text()
