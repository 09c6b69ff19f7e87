"""Refuse oversized uploads before Django reads the body, let alone parses a spreadsheet."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class UploadLimitMiddleware:
    """A multipart body larger than UPLOAD_MAX_BYTES answers 413 at once, unread.

    The reverse proxy has the same limit (docs/deploy.md); this is the second fence.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in {"POST", "PUT", "PATCH"}:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.UPLOAD_MAX_BYTES:
                message = _("Tệp gửi lên quá lớn (tối đa %(mb)d MB).") % {
                    "mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)
                }
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"error": {"code": "too_large", "message": message, "details": []}},
                        status=413,
                    )
                return render(request, "413.html", {"message": message}, status=413)
        return self.get_response(request)
