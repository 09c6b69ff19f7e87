"""The scanner page in Chromium: a fake camera filming a printed permit, and offline use.

Plus the pages without a browser: who may open them, the service worker, the report.
"""

# ruff: noqa: F401, F811  (fixtures imported from test_verify_api)

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from orgs.services import checkpoint_create
from permits import credential
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, browser_login, client_for, screenshot
from tests.verification.test_verify_api import (
    claims_for,
    flip_signature,
    sign,
    signing_key,
    store_permit,
)
from tests.verification.test_verify_image import render_permit
from verification.models import Scan

# --- pages without a browser -----------------------------------------------------------


def test_the_scanner_page_is_for_officers(erin, charlie, signing_key):
    response = client_for(erin).get("/verify/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="scanner"' in html and "data-config=" in html
    assert "CP-01" in html
    assert "<script>" not in html and " style=" not in html  # no inline script or style
    assert client_for(charlie).get("/verify/").status_code == 403


def test_the_service_worker_is_served_under_the_scanner_scope(client, db):
    response = client.get("/verify/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/verify/"
    body = response.content.decode()
    assert body.startswith("self.SCANNER_CACHE = ")
    assert "/static/verification/scanner.js" in body


def test_the_report_shows_scans_by_checkpoint_and_the_suspected_copies(
    erin,
    charlie,
    dave,
    checkpoint,
    signing_key,
):
    cau_giay = checkpoint_create(actor=None, code="CP-05", name="Chốt Cầu Giấy", district="005")
    now = timezone.now()
    for result, n in (("valid", 5), ("expired", 2), ("malformed", 1)):
        for _ in range(n):
            Scan.objects.create(at=now, officer=erin, checkpoint=checkpoint, result=result)
    Scan.objects.create(
        at=now,
        checkpoint=cau_giay,
        district_code="005",
        serial="VT21-COPY1",
        result="valid",
        suspected_copy=True,
    )
    Scan.objects.create(at=now - timedelta(days=9), checkpoint=checkpoint, result="valid")
    response = client_for(charlie).get("/verify/report/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "9 lượt quét" in html  # the old scan is outside the 7 days
    assert "CP-01" in html and "CP-05" in html
    assert html.count("<rect") == 4  # valid, expired, malformed at CP-01; valid at CP-05
    assert "VT21-COPY1" in html
    assert " style=" not in html
    assert client_for(dave).get("/verify/report/").status_code == 200
    assert client_for(erin).get("/verify/report/").status_code == 403


def test_the_report_fits_in_a_bounded_number_of_queries(charlie, django_assert_max_num_queries):
    reviewer = client_for(charlie)
    reviewer.get("/verify/report/")
    # The site's own per-request queries (session, user, roles, 2FA device…) plus this
    # page's two (the grouped counts and the suspected copies), however many scans exist.
    with django_assert_max_num_queries(12):
        assert reviewer.get("/verify/report/").status_code == 200


# --- Chromium --------------------------------------------------------------------------


def write_y4m(image: Image.Image, path: Path, *, frames: int = 20) -> None:
    """A still video (Y4M, 4:2:0) for Chromium's fake camera."""
    width, height = image.size
    y, cb, cr = image.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)


def camera_view_of(permit: Image.Image, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """What a phone held over the permit sees: the QR code and its surroundings, filling
    about two thirds of the frame's height, on a desk."""
    found = zxingcpp.read_barcodes(permit)[0].position
    xs = [p.x for p in (found.top_left, found.top_right, found.bottom_left, found.bottom_right)]
    ys = [p.y for p in (found.top_left, found.top_right, found.bottom_left, found.bottom_right)]
    side = max(xs) - min(xs)
    scale = size[1] * 0.62 / side
    big = permit.resize((round(permit.width * scale), round(permit.height * scale)), Image.LANCZOS)
    cx, cy = (min(xs) + max(xs)) / 2 * scale, (min(ys) + max(ys)) / 2 * scale
    frame = Image.new("RGB", size, (96, 84, 70))
    frame.paste(big, (round(size[0] / 2 - cx), round(size[1] / 2 - cy)))
    return frame


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_fake_camera_reads_a_printed_permit_and_shows_green(
    live_server,
    chromium,
    erin,
    signing_key,
    tmp_path,
):
    claims = claims_for(full_name="Trần Thị Minh Khai")
    video = tmp_path / "permit.y4m"
    write_y4m(camera_view_of(render_permit(claims, sign(claims))), video)
    camera = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = camera.new_context(
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
            viewport={"width": 412, "height": 915},
            permissions=["camera"],
            base_url=live_server.url,
        )
        page = context.new_page()
        browser_login(page, live_server, "erin")
        page.goto(live_server.url + "/verify/")
        # Camera permission is granted, so the page starts the camera by itself (a reload
        # at the checkpoint needs no tap); the button is for the first visit.
        answer = page.locator("#answer")
        answer.wait_for(state="visible", timeout=60000)
        assert answer.get_attribute("data-result") == "valid"
        assert "answer--ok" in (answer.get_attribute("class") or "")
        assert page.locator("#answer-verdict").inner_text().endswith("HỢP LỆ")
        assert page.locator("#f-name").inner_text() == "Trần Thị Minh Khai"
        assert page.locator("#f-dob").inner_text() == "30/05/1971"
        assert page.locator("#f-id").inner_text().endswith("2817")
        screenshot(page, "scanner-camera-valid")
        page.get_by_role("button", name="Quét tiếp").click()
        page.wait_for_timeout(300)
        screenshot(page, "scanner-camera-live")
        assert Scan.objects.filter(source="image", result="valid").count() == 1
        context.close()
    finally:
        camera.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_offline_the_page_loads_and_verifies_permits_by_itself(
    live_server, chromium, erin, signing_key, vnpt, bob
):
    claims = claims_for(areas=())
    good = sign(claims)
    forged = flip_signature(good)
    unknown = credential.encode(claims, credential.generate_private_key())
    withdrawn = claims_for(areas=())
    withdrawn_qr = sign(withdrawn)
    store_permit(withdrawn, withdrawn_qr, vnpt, bob, revoked=True)  # on the signed list
    context = chromium.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 412, "height": 915}
    )
    page = context.new_page()
    browser_login(page, live_server, "erin")
    page.goto(live_server.url + "/verify/")
    # No string predicates: the site's CSP forbids eval, and Playwright evals strings.
    expect(page.locator("#trust")).to_contain_text("cập nhật lúc")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now under the service worker, which cached the page and its assets
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    context.set_offline(True)
    page.reload()
    assert page.locator("#net").inner_text() == "Ngoại tuyến"
    expect(page.locator("#trust")).to_contain_text("cập nhật lúc")
    assert "Dữ liệu khóa cập nhật lúc" in page.locator("#trust").inner_text()

    def check(text: str) -> str:
        page.locator("#manual-input").fill(text)
        page.get_by_role("button", name="Kiểm tra").click()
        page.locator("#answer").wait_for(state="visible")
        return page.locator("#answer").get_attribute("data-result") or ""

    assert check(good) == "valid"
    assert page.locator("#f-name").inner_text() == claims.full_name
    assert page.locator("#answer-local").is_visible()
    screenshot(page, "scanner-offline-valid")
    page.get_by_role("button", name="Quét tiếp").click()

    assert check(forged) == "invalid_signature"
    assert "answer--bad" in (page.locator("#answer").get_attribute("class") or "")
    assert not page.locator("#answer-permit").is_visible()
    screenshot(page, "scanner-offline-forged")
    page.get_by_role("button", name="Quét tiếp").click()
    assert check(unknown) == "unknown_key"
    page.get_by_role("button", name="Quét tiếp").click()
    assert check("TP1:HELLO") == "malformed"
    page.get_by_role("button", name="Quét tiếp").click()
    assert check(withdrawn_qr) == "revoked"  # from the signed revocation list in IndexedDB
    screenshot(page, "scanner-offline-revoked")
    page.get_by_role("button", name="Quét tiếp").click()
    assert "5 lượt quét ngoại tuyến chờ gửi" in page.locator("#queue").inner_text()
    assert not Scan.objects.exists()

    # The network returns: the queue goes up and is re-verified by the server.
    context.set_offline(False)
    expect(page.locator("#queue")).to_be_hidden(timeout=15000)
    results = sorted(Scan.objects.values_list("result", flat=True))
    assert results == ["invalid_signature", "malformed", "revoked", "unknown_key", "valid"]
    assert set(Scan.objects.values_list("source", flat=True)) == {"offline"}
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_online_answers_come_from_the_server_in_every_colour(
    live_server,
    chromium,
    erin,
    signing_key,
):
    today = timezone.localdate()
    context = chromium.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 412, "height": 915}
    )
    page = context.new_page()
    browser_login(page, live_server, "erin")
    page.goto(live_server.url + "/verify/")
    cases = {
        "valid": sign(claims_for(full_name="Nguyễn Trường Thượng Phượng Hữu")),
        "wrong_area": sign(claims_for(areas=("005", "006", "268"))),
        "expired": sign(
            claims_for(valid_from=today - timedelta(days=9), valid_to=today - timedelta(days=1))
        ),
        "invalid_signature": flip_signature(sign(claims_for())),
    }
    for expected, text in cases.items():
        page.locator("#manual-input").fill(text)
        page.get_by_role("button", name="Kiểm tra").click()
        answer = page.locator("#answer")
        answer.wait_for(state="visible")
        assert answer.get_attribute("data-result") == expected
        assert not page.locator("#answer-local").is_visible()
        screenshot(page, f"scanner-online-{expected}")
        page.get_by_role("button", name="Quét tiếp").click()
    assert Scan.objects.filter(source="online").count() == 4
    context.close()
