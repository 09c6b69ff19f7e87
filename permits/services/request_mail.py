"""E-mail about permit requests, sent after the transaction that decided commits.

HR hears of every decision on its enterprise's request; the Department hears of arrivals;
the police hear of the Department's approvals. Written for permits/services/requests.py.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import formats, translation
from django.utils.translation import gettext as _
from guardian.shortcuts import get_users_with_perms

from orgs.access import Role
from orgs.models import Organization
from permits.models import EntryDecision, PermitRequest, RequestStatus

S = RequestStatus
HR, DEPARTMENT, POLICE = Role.ORG_HR, Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER


def hr_emails(organization: Organization) -> list[str]:
    """Active HR clerks of the enterprise who have an e-mail address."""
    users: QuerySet[User] = get_users_with_perms(  # type: ignore[assignment]
        organization, only_with_perms_in=["submit_request"]
    )
    return sorted(
        set(
            users.filter(is_active=True, groups__name=HR)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def reviewer_emails(role: str) -> list[str]:
    """Active users holding a reviewer role who have an e-mail address."""
    return sorted(
        set(
            User.objects.filter(is_active=True, groups__name=role)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def notify_after_commit(request: PermitRequest, *, actor: Any, note: str) -> None:
    callback = partial(
        _send_notifications,
        request_pk=request.pk,
        status=request.status,
        actor_name=actor.get_full_name() or actor.get_username(),
        note=note,
    )
    # robust: a mail server that is down never turns a committed decision into an error page.
    transaction.on_commit(callback, robust=True)


def _send_notifications(*, request_pk: Any, status: str, actor_name: str, note: str) -> None:
    request = PermitRequest.objects.select_related("organization").get(pk=request_pk)
    with translation.override(settings.LANGUAGE_CODE):
        for recipients, subject in _audiences(request, status):
            if recipients:
                body = _body(request, status=status, actor_name=actor_name, note=note)
                send_mail(f"[Giấy đi đường] {subject}", body, None, recipients)


def _audiences(request: PermitRequest, status: str) -> list[tuple[list[str], str]]:
    ref, org = request.reference, request.organization.short_name
    params = {"ref": ref, "org": org}
    if status == S.SUBMITTED:
        return [
            (
                reviewer_emails(DEPARTMENT),
                _("Đề nghị %(ref)s của %(org)s chờ Sở TT&TT thẩm định") % params,
            )
        ]
    hr = hr_emails(request.organization)
    if status == S.DEPARTMENT_APPROVED:
        return [
            (hr, _("Đề nghị %(ref)s đã được Sở TT&TT thẩm định, chuyển Công an TP") % params),
            (
                reviewer_emails(POLICE),
                _("Đề nghị %(ref)s của %(org)s chờ Công an TP phê duyệt") % params,
            ),
        ]
    subjects = {
        S.APPROVED: _("Đề nghị %(ref)s đã được phê duyệt, giấy đi đường đã cấp"),
        S.REJECTED: _("Đề nghị %(ref)s bị từ chối"),
        S.RETURNED: _("Đề nghị %(ref)s bị trả lại để bổ sung"),
    }
    return [(hr, subjects[S(status)] % params)] if status in subjects else []


def _body(request: PermitRequest, *, status: str, actor_name: str, note: str) -> str:
    counts = dict(request.entries.values_list("decision").annotate(n=models.Count("pk")).order_by())
    total = sum(counts.values())
    lines = [
        _("Đề nghị cấp giấy đi đường %(ref)s của %(org)s.")
        % {"ref": request.reference, "org": request.organization.name},
        _("Trạng thái: %(status)s.") % {"status": RequestStatus(status).label},
        _("Hiệu lực: từ %(start)s đến hết %(end)s.")
        % {
            "start": formats.date_format(request.valid_from, "SHORT_DATE_FORMAT"),
            "end": formats.date_format(request.valid_to, "SHORT_DATE_FORMAT"),
        },
        _("Số người: %(total)d (chấp thuận %(ok)d, từ chối %(no)d).")
        % {
            "total": total,
            "ok": counts.get(EntryDecision.ACCEPTED, 0),
            "no": counts.get(EntryDecision.REJECTED, 0),
        },
        _("Người xử lý: %(name)s.") % {"name": actor_name},
    ]
    if note:
        lines.append(_("Ghi chú: %(note)s") % {"note": note})
    site = getattr(settings, "SITE_URL", "").rstrip("/")
    path = reverse("request-detail", args=[request.pk])
    lines += [
        "",
        _("Xem chi tiết: %(url)s") % {"url": site + path}
        if site
        else _("Đăng nhập hệ thống Giấy đi đường để xem chi tiết."),
    ]
    return "\n".join(lines)
