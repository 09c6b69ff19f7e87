"""User-scoped reads of permits (style habit 4).

An HR clerk sees the permits of their own enterprise(s); a reviewer sees every permit.
Anything else answers 404 exactly like a serial that does not exist. Whether the caller may
also revoke is the service's question (permits.services.issuance.may_revoke).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from orgs.access import REVIEWERS, Role, has_role, hr_organizations
from permits.models import Permit, PermitRequest


def visible_permits(user: Any) -> QuerySet[Permit]:
    if has_role(user, *REVIEWERS):
        return Permit.objects.all()
    if has_role(user, Role.ORG_HR):
        return Permit.objects.filter(organization__in=hr_organizations(user))
    return Permit.objects.none()


def permits_for_request(user: Any, request: PermitRequest) -> QuerySet[Permit]:
    """The permits of a request the caller may see, in the staff list's order (given name
    first, Vietnamese collation), superseded and revoked ones included."""
    return (
        visible_permits(user)
        .filter(request=request)
        .order_by("entry__staff__sort_key", "full_name", "serial")
    )


def get_permit_for_user(user: Any, serial: str) -> Permit:
    """The permit, if the caller may see it; else Http404, as for a missing serial."""
    try:
        return visible_permits(user).select_related("organization", "request").get(serial=serial)
    except Permit.DoesNotExist as exc:
        raise Http404(_("Không tìm thấy giấy đi đường.")) from exc
