"""Token login and the caller's identity."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from django_otp import match_token, user_has_device
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_response
from orgs.access import PUBLIC, SIGNED_IN, hr_organizations, user_roles


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)
    otp = serializers.CharField(required=False, help_text="the TOTP code, for enrolled users")


class TokenView(APIView):
    """POST {"username", "password"} → {"token"}."""

    access_roles: ClassVar[frozenset[str]] = frozenset({PUBLIC})
    authentication_classes = ()
    throttle_scope = "login"

    @extend_schema(
        request=TokenRequestSerializer,
        responses=inline_serializer("Token", {"token": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None or not user.is_active:
            return error_response(
                "invalid_credentials",
                _("Tên đăng nhập hoặc mật khẩu không đúng."),
                status_code=401,
            )
        otp = serializer.validated_data.get("otp", "")
        if user_has_device(user) and (not otp or match_token(user, otp) is None):
            return error_response(
                "otp_required",
                _("Cần mã xác thực hai lớp hợp lệ (trường otp)."),
                status_code=401,
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeView(APIView):
    """Who am I: username, roles and organisations."""

    access_roles: ClassVar[frozenset[str]] = frozenset({SIGNED_IN})

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "organizations": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "username": request.user.get_username(),
                "roles": sorted(user_roles(request.user)),
                "organizations": [o.tax_code for o in hr_organizations(request.user)],
            }
        )
