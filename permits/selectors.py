"""User-scoped reads of permit requests (style habit 4): what a caller may see, and how much.

An HR clerk sees their own enterprise's requests; a reviewer sees every request past draft.
Anything else answers 404 exactly like a request that does not exist. The overlap flags are
computed here with an annotated subquery (never stored), so a page costs the same number of
queries with 5 entries as with 500.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from orgs.access import REVIEWERS, Role, has_role, hr_organizations
from permits.models import (
    Permit,
    PermitRequest,
    PermitStatus,
    RequestEntry,
    RequestHistory,
    RequestStatus,
)
from permits.services.requests import STATUS_OF_STAGE, roles_for_action


def visible_requests(user: Any) -> QuerySet[PermitRequest]:
    """Every request `user` may see: own enterprise's (HR), any past draft (reviewers)."""
    scopes: list[Q] = []
    if has_role(user, Role.ORG_HR):
        scopes.append(Q(organization__in=hr_organizations(user, "orgs.submit_request")))
    if has_role(user, *REVIEWERS):
        scopes.append(~Q(status=RequestStatus.DRAFT))
    if not scopes:
        return PermitRequest.objects.none()
    return PermitRequest.objects.filter(reduce(operator.or_, scopes))


def get_request_for_user(
    user: Any, pk: UUID | str, *, for_action: str | None = None
) -> PermitRequest:
    """The request, if `user` may see it; else Http404, exactly as for a missing one.

    With `for_action` ("edit", "submit", "approve", ...), a caller who may see the request but
    holds no role that may ever take that action gets 403. Whether the request's status allows
    the action is the service's check (409).
    """
    try:
        request = (
            visible_requests(user)
            .select_related("organization", "created_by", "department_approved_by", "approved_by")
            .prefetch_related("areas")
            .get(pk=pk)
        )
    except (PermitRequest.DoesNotExist, ValueError) as exc:
        raise Http404(_("Không tìm thấy đề nghị.")) from exc
    if for_action is not None and not has_role(user, *roles_for_action(for_action)):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này."))
    return request


def _entry_count() -> Coalesce:
    counts = (
        RequestEntry.objects.filter(request=OuterRef("pk"))
        .order_by()
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def _overlapping_permits(*, valid_from: Any, valid_to: Any, request_id: Any) -> QuerySet[Permit]:
    """Active permits of the entry's person (OuterRef id_number) whose dates meet the request's,
    in any enterprise, other than those issued from the request itself.

    Served by the index permit_person_validity_idx (id_number, valid_to).
    """
    return Permit.objects.filter(
        id_number=OuterRef("id_number"),
        status=PermitStatus.ACTIVE,
        valid_to__gte=valid_from,
        valid_from__lte=valid_to,
    ).exclude(request_id=request_id)


def _flagged_count() -> Coalesce:
    overlap = _overlapping_permits(
        valid_from=OuterRef("request__valid_from"),
        valid_to=OuterRef("request__valid_to"),
        request_id=OuterRef("request_id"),
    )
    counts = (
        RequestEntry.objects.filter(request=OuterRef("pk"))
        .filter(Exists(overlap))
        .order_by()
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def requests_for_user(user: Any, *, status: str | None = None) -> QuerySet[PermitRequest]:
    """The list a user sees, newest first, each with its number of people."""
    requests = visible_requests(user)
    if status:
        requests = requests.filter(status=status)
    return (
        requests.select_related("organization")
        .prefetch_related("areas")
        .annotate(entry_count=_entry_count())
        .order_by("-created_at")
    )


def review_queue(stage: str) -> QuerySet[PermitRequest]:
    """Requests waiting for `stage` ("department" or "police"), oldest submission first,
    each with its number of people and of people flagged as already holding a permit.
    """
    return (
        PermitRequest.objects.filter(status=STATUS_OF_STAGE[stage])
        .select_related("organization")
        .prefetch_related("areas")
        .annotate(entry_count=_entry_count(), flagged_count=_flagged_count())
        .order_by("submitted_at", "pk")
    )


def review_queue_counts() -> dict[str, int]:
    """{"department": n, "police": m}: how many requests wait at each stage (one query)."""
    return PermitRequest.objects.aggregate(
        **{stage: Count("pk", filter=Q(status=status)) for stage, status in STATUS_OF_STAGE.items()}
    )


def request_entries_with_flags(request: PermitRequest) -> QuerySet[RequestEntry]:
    """The request's entries, each annotated `overlap` (bool) and, when true, the first
    overlapping permit's serial, enterprise short name and end date.
    """
    overlap = _overlapping_permits(
        valid_from=request.valid_from, valid_to=request.valid_to, request_id=request.pk
    ).order_by("valid_from", "serial")
    return (
        RequestEntry.objects.filter(request=request)
        .annotate(
            overlap=Exists(overlap),
            overlap_serial=Subquery(overlap.values("serial")[:1]),
            overlap_org=Subquery(overlap.values("organization__short_name")[:1]),
            overlap_valid_to=Subquery(overlap.values("valid_to")[:1]),
        )
        # Vietnamese office order (given name first), as on the staff list.
        .order_by("staff__sort_key", "full_name", "id_number")
    )


def request_history(request: PermitRequest) -> QuerySet[RequestHistory]:
    return (
        RequestHistory.objects.filter(request=request).select_related("actor").order_by("at", "pk")
    )
