"""Optional TOTP second factor for reviewers and administrators (django-otp).

Enrolment: /account/otp/ shows a QR code for an authenticator app and asks for one code to
confirm. From then on, after the password, /login/otp/ asks for the current code before any
page opens, and the token API asks for it in the `otp` field.
"""

from __future__ import annotations

import base64

import zxingcpp
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from orgs.access import OTP_ROLES, SIGNED_IN, allow
from orgs.audit import audit_record


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=gettext_lazy("Mã xác thực (6 chữ số)"),
        regex=r"^\d{6}$",
        error_messages={"invalid": gettext_lazy("Mã gồm 6 chữ số.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _qr_svg(text: str) -> str:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    svg = zxingcpp.write_barcode_to_svg(barcode, scale=5)
    return svg[svg.index("<svg") :]


@allow(*OTP_ROLES)
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol (or re-enrol) an authenticator app."""
    device, _created = TOTPDevice.objects.get_or_create(
        user=request.user, name="authenticator", confirmed=False
    )
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            TOTPDevice.objects.filter(user=request.user, confirmed=True).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit_record(
                actor=request.user,
                action="otp.enrol",
                object_type="user",
                object_id=str(request.user.pk),
            )
            messages.success(request, _("Đã bật xác thực hai lớp."))
            return redirect("home")
        form.add_error("token", _("Mã không đúng; hãy nhập mã đang hiện trên ứng dụng."))
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "registration/otp_setup.html",
        {"form": form, "qr": mark_safe(_qr_svg(device.config_url)), "secret": secret},  # noqa: S308
    )


@allow(SIGNED_IN, otp_exempt=True)
def otp_verify(request: HttpRequest) -> HttpResponse:
    """Ask for the current code after the password."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = "/"
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(next_url)
        form.add_error("token", _("Mã không đúng hoặc đã hết hạn."))
    return render(request, "registration/otp_verify.html", {"form": form, "next": next_url})
