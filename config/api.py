"""The API's error shape: {"error": {"code", "message", "details"}} in the caller's language."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orgs.errors import DomainError


def error_response(
    code: str, message: Any, *, status_code: int, details: list[Any] | None = None
) -> Response:
    return Response(
        {"error": {"code": code, "message": str(message), "details": details or []}},
        status=status_code,
    )


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(detail, list):
        out = []
        for item in detail:
            out += _flatten(item, prefix)
        return out
    return [{"field": prefix or "non_field_errors", "message": str(detail)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, status_code=exc.status, details=exc.details)
    if isinstance(exc, Http404):
        return error_response("not_found", _("Không tìm thấy."), status_code=404)
    if isinstance(exc, PermissionDenied):
        return error_response(
            "forbidden", _("Bạn không có quyền thực hiện thao tác này."), status_code=403
        )
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            "invalid",
            _("Dữ liệu gửi lên không hợp lệ."),
            status_code=status.HTTP_400_BAD_REQUEST,
            details=_flatten(exc.detail),
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    codes = {
        401: ("not_authenticated", _("Bạn cần đăng nhập.")),
        403: ("forbidden", _("Bạn không có quyền thực hiện thao tác này.")),
        404: ("not_found", _("Không tìm thấy.")),
        405: ("method_not_allowed", _("Phương thức không được hỗ trợ.")),
        415: ("unsupported_media_type", _("Định dạng dữ liệu không được hỗ trợ.")),
        429: ("throttled", _("Quá nhiều yêu cầu, vui lòng thử lại sau.")),
    }
    code, message = codes.get(response.status_code, ("error", str(getattr(exc, "detail", exc))))
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait:
        message = _("Quá nhiều yêu cầu, vui lòng thử lại sau %(s)d giây.") % {"s": int(wait)}
    response.data = {"error": {"code": code, "message": str(message), "details": []}}
    return response
