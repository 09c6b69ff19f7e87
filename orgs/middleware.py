"""Request logging and idle sign-out."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from orgs.access import Role, has_role

request_log = logging.getLogger("permits.requests")

# Roles whose sessions expire after STAFF_IDLE_MINUTES without a request: a reviewer's
# unattended screen must not approve permits for a passer-by.
IDLE_ROLES = (Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER, Role.ADMIN)


class RequestLogMiddleware:
    """One JSON line per request: id, method, path, status, duration, user. No bodies, no PII."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        user = getattr(request, "user", None)
        request_log.info(
            json.dumps(
                {
                    "event": "request",
                    "id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": user.pk if user is not None and user.is_authenticated else None,
                },
                separators=(",", ":"),
            )
        )
        response["X-Request-ID"] = request_id
        return response


class IdleSessionMiddleware:
    """Sign reviewers and administrators out after STAFF_IDLE_MINUTES of inactivity."""

    KEY = "last_seen"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and has_role(user, *IDLE_ROLES):
            now = time.time()
            last_seen = request.session.get(self.KEY)
            limit = settings.STAFF_IDLE_MINUTES * 60
            if last_seen is not None and now - float(last_seen) > limit:
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {
                            "error": {
                                "code": "session_expired",
                                "message": _("Phiên làm việc đã hết hạn, vui lòng đăng nhập lại."),
                                "details": [],
                            }
                        },
                        status=401,
                    )
                messages.warning(
                    request,
                    _("Phiên làm việc đã hết hạn do không hoạt động, vui lòng đăng nhập lại."),
                )
                return redirect_to_login(request.get_full_path())
            request.session[self.KEY] = now
        return self.get_response(request)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """django-axes lockout: the Vietnamese page for browsers, the error shape for the API."""
    from django.shortcuts import render

    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {
                    "code": "locked_out",
                    "message": _("Đăng nhập sai quá nhiều lần; tài khoản tạm khóa %(m)d phút.")
                    % {"m": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)},
                    "details": [],
                }
            },
            status=429,
        )
    return render(request, "registration/locked_out.html", status=429)


def client_ip(request: HttpRequest) -> str:
    """The caller's address for login lockout. Behind PROXY_COUNT trusted reverse proxies it is
    the entry that many places from the right of X-Forwarded-For; otherwise REMOTE_ADDR (a
    client could write anything into the header when no proxy overwrites it)."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.PROXY_COUNT
    if hops <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    return chain[-hops] if len(chain) >= hops else remote
