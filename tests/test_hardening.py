"""Hardening: CSP, login lockout, idle sign-out of reviewers, no inline code in templates."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, browser_login, client_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    policy = client.get("/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_no_template_carries_inline_script_or_style():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) or re.search(r"\sstyle=", html):
            offenders.append(str(path.relative_to(ROOT)))
        if re.search(r"<style[\s>]", html) or re.search(r"\son[a-z]+=", html):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(alice):
    client = Client()
    for _ in range(4):
        response = client.post("/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    assert client.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 429
    locked = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Tạm khóa đăng nhập" in locked.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_token_endpoint_is_locked_out_too(alice):
    api = APIClient()
    for _ in range(5):
        api.post("/api/v1/auth/token/", {"username": "alice", "password": "x"}, format="json")
    response = api.post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code in (401, 429)
    assert "token" not in response.json()


@pytest.mark.django_db
def test_a_successful_login_clears_earlier_failures(alice):
    client = Client()
    for _ in range(4):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_an_idle_reviewer_is_signed_out(charlie, settings):
    client = client_for(charlie)
    assert client.get("/").status_code == 200
    session = client.session
    session["last_seen"] = time.time() - settings.STAFF_IDLE_MINUTES * 60 - 1
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/").status_code == 302  # really signed out


@pytest.mark.django_db
def test_an_active_reviewer_stays_signed_in(charlie, settings):
    client = client_for(charlie)
    client.get("/")
    session = client.session
    session["last_seen"] = time.time() - settings.STAFF_IDLE_MINUTES * 60 + 30
    session.save()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_an_hr_clerk_is_not_subject_to_the_idle_rule(alice, settings):
    client = client_for(alice)
    client.get("/")
    session = client.session
    session["last_seen"] = time.time() - 10 * 3600
    session.save()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_every_answer_carries_a_request_id(client):
    response = client.get("/login/", HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"
    assert len(client.get("/login/")["X-Request-ID"]) == 32


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_load_without_a_single_csp_violation(live_server, page, alice):
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    browser_login(page, live_server, "alice")
    for path in ["/", "/staff/", "/staff/import/", "/requests/", "/api/docs/"]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
    assert violations == []


class _Unreadable:
    """A body that fails the test if anybody reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the body of an oversized upload was read")

    readline = read


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_before_its_body_is_read(alice, settings):
    from django.test import RequestFactory

    from config.uploads import UploadLimitMiddleware

    request = RequestFactory().post(
        "/api/v1/staff/import/", data=b"", content_type="multipart/form-data; boundary=x"
    )
    request.META["CONTENT_LENGTH"] = str(settings.UPLOAD_MAX_BYTES + 1)
    request.META["wsgi.input"] = _Unreadable()
    request._stream = _Unreadable()
    response = UploadLimitMiddleware(lambda r: pytest.fail("the view ran"))(request)
    assert response.status_code == 413
    import json

    assert "quá lớn" in json.loads(response.content)["error"]["message"]


@pytest.mark.django_db
def test_a_large_staff_file_through_the_page_gets_the_vietnamese_413_page(alice, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("big.csv", b"x" * 4096, content_type="text/csv")
    response = client_for(alice).post("/staff/import/", {"file": big})
    assert response.status_code == 413
    assert "Tệp gửi lên quá lớn" in response.content.decode()


def test_behind_one_proxy_the_lockout_keys_on_the_forwarded_address(settings):
    from django.test import RequestFactory

    from orgs.middleware import client_ip

    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    settings.PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"  # no proxy: the header is the client's own words
    settings.PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # the address nginx saw, not a forged one


@pytest.mark.django_db
def test_each_request_writes_one_structured_log_line_without_personal_data(alice, caplog):
    import json

    caplog.set_level("INFO", logger="permits.requests")
    client_for(alice).get("/staff/?q=nguyen", HTTP_X_REQUEST_ID="req-42")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "permits.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["event"], line["id"], line["method"], line["path"]) == (
        "request",
        "req-42",
        "GET",
        "/staff/",
    )
    assert line["status"] == 200 and line["user"] == alice.pk and line["ms"] >= 0
    assert "nguyen" not in json.dumps(line)  # query strings may carry names: never logged
