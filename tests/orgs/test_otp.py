"""Optional TOTP second factor for reviewers and administrators."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """The code of the current time step, or of the first step the device has not used yet.

    django-otp refuses a replayed step; with tolerance 1 it accepts the next one.
    """
    device.refresh_from_db()
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits)
    step = generator.t() if offset == 0 else max(generator.t(), device.last_t + 1)
    generator.time = device.t0 + step * device.step
    return f"{generator.token():06d}"


def enrol(user) -> TOTPDevice:
    client = client_for(user)
    page = client.get("/account/otp/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post("/account/otp/", {"token": code_for(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def password_login(username: str) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_a_wrong_code_does_not_enrol(charlie):
    client = client_for(charlie)
    client.get("/account/otp/")
    response = client.post("/account/otp/", {"token": "000000"})
    assert response.status_code == 200 and "Mã không đúng" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=charlie, confirmed=True).exists()


def test_an_enrolled_reviewer_must_give_a_code_after_the_password(charlie, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wrong code below would delay the right one
    device = enrol(charlie)
    client = password_login("charlie")
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/otp/")
    assert client.get("/api/v1/me/").status_code == 403
    refused = client.post("/login/otp/", {"token": "123456", "next": "/"})
    assert "Mã không đúng" in refused.content.decode()
    # The enrolment code is spent (no replay); the next time step's code is accepted.
    accepted = client.post("/login/otp/", {"token": code_for(device, 1), "next": "/"})
    assert accepted.status_code == 302
    assert client.get("/").status_code == 200


def test_a_reviewer_without_a_device_signs_in_with_the_password_alone(charlie):
    assert password_login("charlie").get("/").status_code == 200


def test_an_hr_clerk_cannot_enrol(alice):
    assert client_for(alice).get("/account/otp/").status_code == 403


def test_the_token_api_asks_an_enrolled_user_for_the_code(charlie):
    device = enrol(charlie)
    api = APIClient()
    refused = api.post(
        "/api/v1/auth/token/", {"username": "charlie", "password": PASSWORD}, format="json"
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "otp_required"
    granted = api.post(
        "/api/v1/auth/token/",
        {"username": "charlie", "password": PASSWORD, "otp": code_for(device, 1)},
        format="json",
    )
    assert granted.status_code == 200 and re.fullmatch(r"[0-9a-f]{40}", granted.json()["token"])
