"""The shell in a real browser: Vietnamese login page, sign-in, language switch."""

import pytest

from tests.conftest import browser_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clerk_signs_in_sees_her_enterprise_and_switches_to_english(live_server, page, alice):
    page.goto(live_server.url + "/")
    assert "/login/" in page.url
    assert page.locator("h1").inner_text() == "Đăng nhập"
    screenshot(page, "shell-login")

    page.get_by_label("Tên đăng nhập").fill("alice")
    page.get_by_label("Mật khẩu").fill("wrong")
    page.get_by_role("button", name="Đăng nhập").click()
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in page.locator("[role=alert]").inner_text()

    browser_login(page, live_server, "alice")
    assert "Xin chào, Nguyễn Thị Thu Hương" in page.locator("h1").inner_text()
    assert "Tập đoàn Công nghiệp - Viễn thông Quân đội" in page.content()
    screenshot(page, "shell-home-hr")

    page.get_by_role("button", name="EN").click()
    assert "Hello, Nguyễn Thị Thu Hương" in page.locator("h1").inner_text()
    assert page.locator("html").get_attribute("lang") == "en"


def test_the_login_page_fits_a_phone_screen(live_server, chromium, db):
    context = chromium.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    phone = context.new_page()
    phone.goto(live_server.url + "/login/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    screenshot(phone, "shell-login-phone")
    context.close()
    assert width <= 360
