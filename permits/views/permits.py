"""Permit pages: the permits of a request, and revoking one, a request's or an enterprise's.

Every revocation asks for confirmation with a reason; only POST revokes. Views are thin: the
selectors scope reads, permits.services.issuance writes, domain errors become messages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from orgs.access import REVIEWERS, Role, allow, has_role
from orgs.errors import DomainError
from orgs.models import Organization
from permits.models import Permit, PermitStatus
from permits.permit_selectors import get_permit_for_user, permits_for_request
from permits.selectors import get_request_for_user
from permits.services.issuance import (
    MAX_REASON_LENGTH,
    may_revoke,
    permit_revoke,
    permits_revoke_for_organization,
    permits_revoke_for_request,
)

PERMIT_ROLES = (Role.ORG_HR, Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER)
TEMPLATE_CONFIRM = "permits/permits/revoke_confirm.html"


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Lý do thu hồi"),
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Bắt buộc; được lưu cùng giấy đã thu hồi."),
    )


@allow(*PERMIT_ROLES)
def request_permits(request: HttpRequest, pk: Any) -> HttpResponse:
    """Every permit of a request with its status; revoke links for those who may revoke."""
    permit_request = get_request_for_user(request.user, pk)
    permits = list(permits_for_request(request.user, permit_request).select_related("supersedes"))
    active = sum(p.status == PermitStatus.ACTIVE for p in permits)
    context = {
        "req": permit_request,
        "permits": permits,
        "active_count": active,
        "revoked_count": len(permits) - active,
        "can_revoke": may_revoke(request.user, permit_request.organization_id),
        "is_reviewer": has_role(request.user, *REVIEWERS),
    }
    return render(request, "permits/permits/request_permits.html", context)


def _confirm(request: HttpRequest, context: dict[str, Any], form: RevokeForm) -> HttpResponse:
    status = 400 if form.is_bound else 200
    return render(request, TEMPLATE_CONFIRM, {**context, "form": form}, status=status)


@allow(*PERMIT_ROLES)
@require_http_methods(["GET", "POST"])
def permit_revoke_page(request: HttpRequest, serial: str) -> HttpResponse:
    permit = get_permit_for_user(request.user, serial)
    if not may_revoke(request.user, permit.organization_id):
        raise PermissionDenied(_("Bạn không có quyền thu hồi giấy đi đường này."))
    back = redirect("request-permits", pk=permit.request_id)
    if permit.status != PermitStatus.ACTIVE:
        messages.warning(request, _("Giấy %(s)s đã bị thu hồi trước đó.") % {"s": permit.serial})
        return back
    context = {"scope": "permit", "permit": permit, "req": permit.request, "count": 1}
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        return _confirm(request, context, form)
    try:
        permit_revoke(actor=request.user, permit=permit, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        form.add_error(None, str(exc.message))
        return _confirm(request, context, form)
    messages.success(request, _("Đã thu hồi giấy %(s)s.") % {"s": permit.serial})
    return back


@allow(*PERMIT_ROLES)
@require_http_methods(["GET", "POST"])
def request_permits_revoke(request: HttpRequest, pk: Any) -> HttpResponse:
    permit_request = get_request_for_user(request.user, pk)
    if not may_revoke(request.user, permit_request.organization_id):
        raise PermissionDenied(_("Bạn không có quyền thu hồi giấy đi đường của đề nghị này."))
    count = permit_request.permits.filter(status=PermitStatus.ACTIVE).count()
    context = {"scope": "request", "req": permit_request, "count": count}
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        return _confirm(request, context, form)
    try:
        revoked = permits_revoke_for_request(
            actor=request.user, request=permit_request, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        form.add_error(None, str(exc.message))
        return _confirm(request, context, form)
    messages.success(request, _("Đã thu hồi %(n)d giấy đi đường.") % {"n": len(revoked)})
    return redirect("request-permits", pk=permit_request.pk)


@allow(*REVIEWERS)
@require_http_methods(["GET", "POST"])
def organization_permits_revoke(request: HttpRequest, tax_code: str) -> HttpResponse:
    """Reviewers only: stop every live permit of an enterprise at once."""
    organization = get_object_or_404(Organization, tax_code=tax_code)
    count = Permit.objects.filter(organization=organization, status=PermitStatus.ACTIVE).count()
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    context = {"scope": "organization", "org": organization, "count": count, "next": next_url}
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        return _confirm(request, context, form)
    try:
        revoked = permits_revoke_for_organization(
            actor=request.user, organization=organization, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        form.add_error(None, str(exc.message))
        return _confirm(request, context, form)
    messages.success(
        request,
        _("Đã thu hồi %(n)d giấy đi đường của %(org)s.")
        % {"n": len(revoked), "org": organization.short_name},
    )
    return redirect(next_url or "home")
