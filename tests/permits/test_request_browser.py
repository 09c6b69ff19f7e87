"""The whole request path in Chromium, by three people in three browsers.

Alice (HR, Viettel) picks her staff, dates and districts and submits; Charlie (Department)
turns one person down with a reason and approves the rest; Dave (police) looks at the
confirmation page and approves, which issues the permits. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from permits.models import Permit, PermitRequest, RequestStatus
from permits.services.keys import signing_key_ensure
from permits.services.staff import staff_import
from tests.conftest import browser_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAFF_CSV = """full_name,id_number,date_of_birth,phone,job_title,vehicle_plate
Nguyễn Văn Hùng,001090012345,12/04/1990,0912345678,Kỹ thuật viên trạm BTS,29-B1 123.45
Trần Thị Mai,001195004321,03/09/1995,0987654321,Kỹ sư tổng đài,
Lê Quang Minh,001088765432,21/11/1988,0978123456,Lái xe ứng cứu,30A-567.89
Phạm Thu Trang,001192345678,07/06/1992,0965432187,Nhân viên giao dịch,
"""


@pytest.fixture
def browser_for(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A fresh signed-in browser window per person."""
    contexts: list[Any] = []

    def open_as(username: str) -> Any:
        context = chromium.new_context(
            locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        browser_login(page, live_server, username)
        return page

    yield open_as
    for context in contexts:
        context.close()


def test_a_request_goes_from_hr_through_both_reviews_to_permits(
    browser_for, live_server, alice, charlie, dave, viettel
):
    from django.utils import timezone

    staff_import(actor=alice, organization=viettel, data=STAFF_CSV.encode(), filename="ds.csv")
    signing_key_ensure()
    start = timezone.localdate() + timedelta(days=1)

    # --- Alice, HR of Viettel: create and submit ---------------------------------------------
    page = browser_for("alice")
    page.get_by_role("link", name="Đề nghị cấp giấy").first.click()
    page.get_by_role("link", name="Lập đề nghị mới").first.click()
    assert page.locator("h1").inner_text() == "Lập đề nghị cấp giấy đi đường"

    # The filter box narrows the table as you type, accents optional.
    page.get_by_label("Tìm theo họ tên hoặc số CCCD/CMND").fill("tran thi")
    assert page.locator("#staff-table tbody tr:visible").count() == 1
    page.get_by_label("Tìm theo họ tên hoặc số CCCD/CMND").fill("")
    page.get_by_label("Chọn tất cả").check()
    assert "Đã chọn 4 trên 4 người." in page.locator("[data-selected-count]").inner_text()

    # First a mistake: 15 days and no district. The form says what is wrong, ticks kept.
    page.get_by_label("Hiệu lực từ ngày").fill(start.strftime("%d/%m/%Y"))
    page.get_by_label("Đến hết ngày").fill((start + timedelta(days=14)).strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Lưu nháp").click()
    page.wait_for_load_state()
    errors = page.locator("[role=alert]").all_inner_texts()
    assert "Giấy đi đường có hiệu lực tối đa 14 ngày (đang chọn 15)." in errors
    assert "Chọn ít nhất một quận/huyện, hoặc toàn thành phố." in errors
    assert page.locator("#staff-table input[name=staff]:checked").count() == 4
    screenshot(page, "request-create-errors")

    page.get_by_label("Đến hết ngày").fill((start + timedelta(days=6)).strftime("%d/%m/%Y"))
    page.get_by_label("Cầu Giấy").check()
    page.get_by_label("Đống Đa").check()
    page.get_by_label("Hai Bà Trưng").check()
    page.get_by_label("Lý do, nhiệm vụ").fill(
        "Ứng cứu thông tin, bảo dưỡng trạm BTS khu vực nội thành trong thời gian giãn cách."
    )
    screenshot(page, "request-create")
    page.get_by_role("button", name="Lưu nháp").click()
    page.wait_for_load_state()
    request = PermitRequest.objects.get()
    assert "Đã lưu nháp đề nghị" in page.content()
    assert page.locator(".status").first.inner_text() == "Nháp"
    screenshot(page, "request-draft")

    page.get_by_role("button", name="Gửi đề nghị").click()
    page.wait_for_load_state()
    assert "Đã gửi đề nghị" in page.content()
    assert page.locator("h1 .status").inner_text() == "Chờ Sở TT&TT thẩm định"
    screenshot(page, "request-submitted-hr")
    page.get_by_role("link", name="Danh sách đề nghị").click()
    assert request.reference in page.content()
    screenshot(page, "request-list")

    # --- Charlie, Department: one person turned down, the rest approved -----------------------
    page = browser_for("charlie")
    page.get_by_role("link", name="Thẩm định (Sở TT&TT)").click()
    assert request.reference in page.content()
    screenshot(page, "request-queue-department")
    page.get_by_role("link", name=request.reference).click()
    page.get_by_label("Từ chối Phạm Thu Trang", exact=True).check()
    page.get_by_label("Lý do từ chối Phạm Thu Trang").fill(
        "Nhân viên giao dịch không thuộc lực lượng ứng cứu"
    )
    page.get_by_label("Ý kiến, ghi chú").fill("Đúng đối tượng ngành TT&TT.")
    screenshot(page, "request-review-department")
    page.get_by_role("button", name="Thẩm định đạt, chuyển Công an TP").click()
    page.wait_for_load_state()
    assert "chuyển Công an TP phê duyệt" in page.content()
    request.refresh_from_db()
    assert request.status == RequestStatus.DEPARTMENT_APPROVED

    # --- Dave, police: confirm, then permits are issued ---------------------------------------
    page = browser_for("dave")
    page.get_by_role("link", name="Phê duyệt (Công an)").click()
    screenshot(page, "request-queue-police")
    page.get_by_role("link", name=request.reference).click()
    screenshot(page, "request-review-police")
    page.get_by_role("button", name="Phê duyệt và cấp giấy…").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Xác nhận phê duyệt đề nghị")
    assert not Permit.objects.exists()
    screenshot(page, "request-confirm-police")
    page.get_by_role("button", name="Xác nhận phê duyệt và cấp 3 giấy").click()
    page.wait_for_load_state()
    assert "giấy đi đường đã được cấp" in page.content()
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert Permit.objects.filter(request=request).count() == 3

    page.goto(f"{live_server.url}/requests/{request.pk}/")
    assert page.locator("h1 .status").inner_text() == "Đã phê duyệt"
    screenshot(page, "request-approved")

    # --- Alice sees the outcome -----------------------------------------------------------------
    page = browser_for("alice")
    page.goto(f"{live_server.url}/requests/{request.pk}/")
    assert "Nhân viên giao dịch không thuộc lực lượng ứng cứu" in page.content()
    screenshot(page, "request-approved-hr")
