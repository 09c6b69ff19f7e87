"""The one access module: roles, organisation scope, and per-URL access declarations.

Every view is wrapped by `allow(...)` (function views) or declares `access_roles`
(API views, checked by `RolePermission`), and tests/test_url_access.py walks the URL conf to
prove that nothing is left undeclared.

Objects of another organisation answer 404, exactly as objects that do not exist; a caller
who may see an object but not act on it gets 403. Selectors in each app build their
`get_<thing>_for_user` on `hr_organizations` and `has_role` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import get_objects_for_user
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from orgs.models import Organization


class Role(models.TextChoices):
    ORG_HR = "org_hr", _("Cán bộ nhân sự doanh nghiệp")
    DEPARTMENT_REVIEWER = "department_reviewer", _("Cán bộ thẩm định Sở TT&TT")
    POLICE_REVIEWER = "police_reviewer", _("Cán bộ phê duyệt Công an TP")
    CHECKPOINT_OFFICER = "checkpoint_officer", _("Cán bộ tại chốt kiểm soát")
    ADMIN = "admin", _("Quản trị hệ thống")


# Special access markers besides roles.
PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any signed-in user, whatever their roles

REVIEWERS = (Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER)

AnyUser = User | AnonymousUser


def user_roles(user: Any) -> frozenset[str]:
    """The roles a user holds (auth group names), cached on the user object per request."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_roles_cache", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(names & set(Role.values))
        user._roles_cache = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def require_role(user: Any, *roles: str) -> None:
    if not has_role(user, *roles):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này."))


def hr_organizations(user: Any, perm: str = "orgs.manage_staff") -> models.QuerySet[Organization]:
    """The organisations an HR clerk may act for (object permissions on Organization)."""
    if not has_role(user, Role.ORG_HR):
        return Organization.objects.none()
    return get_objects_for_user(
        user,
        perm,
        klass=Organization.objects.filter(is_active=True),
        accept_global_perms=False,
        # An administrator is a superuser, but HR of no enterprise unless granted one.
        with_superuser=False,
    )


def hr_organization(user: Any, perm: str = "orgs.manage_staff") -> Organization | None:
    """The clerk's organisation (the first one when a clerk serves several)."""
    return hr_organizations(user, perm).order_by("pk").first()


OTP_ROLES = (Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER, Role.ADMIN)


def needs_second_factor(user: Any) -> bool:
    """A user who enrolled a TOTP device and has not yet given a code in this session."""
    if not user.is_authenticated or getattr(user, "is_verified", lambda: True)():
        return False
    cached: bool | None = getattr(user, "_has_otp_device", None)
    if cached is None:
        from django_otp import user_has_device

        cached = user_has_device(user)
        user._has_otp_device = cached
    return cached


def _check(user: Any, roles: frozenset[str], *, second_factor: bool = True) -> str | None:
    """None when allowed, else 'login', 'otp' (code still owed) or 'forbidden'."""
    if PUBLIC in roles:
        return None
    if not user.is_authenticated:
        return "login"
    if second_factor and needs_second_factor(user):
        return "otp"
    if SIGNED_IN in roles or user_roles(user) & roles:
        return None
    return "forbidden"


V = TypeVar("V", bound=Callable[..., HttpResponse])


def allow(*roles: str, otp_exempt: bool = False) -> Callable[[V], V]:
    """Declare and enforce who may call a page view.

    Anonymous callers are sent to the login page; users who enrolled a second factor and
    have not given a code yet go to the code page (unless `otp_exempt`: that page itself);
    signed-in callers without one of the roles get 403.
    """
    allowed = frozenset(str(r) for r in roles)
    if not allowed:
        raise ValueError("allow() needs at least one role, PUBLIC or SIGNED_IN")

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            verdict = _check(request.user, allowed, second_factor=not otp_exempt)
            if verdict == "login":
                return redirect_to_login(request.get_full_path())
            if verdict == "otp":
                return redirect_to_login(request.get_full_path(), login_url="otp-verify")
            if verdict == "forbidden":
                raise PermissionDenied(_("Bạn không có quyền truy cập trang này."))
            return view(request, *args, **kwargs)

        wrapped.access_roles = allowed  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


class RolePermission(BasePermission):
    """DRF permission reading the view's `access_roles` declaration."""

    def has_permission(self, request: Request, view: Any) -> bool:
        roles: Iterable[str] | None = getattr(view, "access_roles", None)
        if roles is None:  # undeclared views are closed, and the URL walk test fails
            return False
        # Tokens are only handed out after the second factor (orgs.api.TokenView); a browser
        # session must have given its code.
        from rest_framework.authentication import SessionAuthentication

        session = isinstance(request.successful_authenticator, SessionAuthentication)
        return _check(request.user, frozenset(roles), second_factor=session) is None


def declared_access(callback: Any) -> frozenset[str] | None:
    """What a URL callback declares (used by the URL walk test)."""
    roles = getattr(callback, "access_roles", None)
    if roles is None and hasattr(callback, "cls"):
        roles = getattr(callback.cls, "access_roles", None)
    if roles is None and hasattr(callback, "view_class"):
        roles = getattr(callback.view_class, "access_roles", None)
    return frozenset(roles) if roles is not None else None
