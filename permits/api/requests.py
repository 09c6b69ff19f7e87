"""Permit requests over the API (contract §3): create, edit, submit, list, read, review.

Thin like the pages: the selector scopes every read (another enterprise's request is 404),
a serializer shapes the input, one service call writes, and domain errors answer in the
shared error shape (config.api): 400 invalid, 403 wrong role, 404, 409 out of turn.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.access import REVIEWERS, Role, has_role, hr_organizations
from orgs.errors import Forbidden, NotFound
from orgs.models import Organization
from permits.models import PermitRequest, RequestStatus
from permits.selectors import (
    get_request_for_user,
    request_entries_with_flags,
    request_history,
    requests_for_user,
)
from permits.serializers_requests import (
    RequestDetailSerializer,
    RequestSummarySerializer,
    RequestWriteSerializer,
    ReviewSerializer,
    StatusSerializer,
)
from permits.services.requests import (
    Action,
    request_create,
    request_review,
    request_submit,
    request_update,
)

READERS = frozenset({Role.ORG_HR, *REVIEWERS})


def detail_data(user: Any, obj: PermitRequest) -> dict[str, Any]:
    context = {
        "entries": list(request_entries_with_flags(obj)),
        "history": list(request_history(obj)),
        "show_flags": has_role(user, *REVIEWERS),
    }
    data: dict[str, Any] = RequestDetailSerializer(obj, context=context).data
    return data


def _organization_for(user: Any, tax_code: str | None) -> Organization:
    if not has_role(user, Role.ORG_HR):
        raise Forbidden(_("Chỉ cán bộ nhân sự doanh nghiệp được lập đề nghị."))
    organizations = hr_organizations(user, "orgs.submit_request").order_by("pk")
    organization = (
        organizations.filter(tax_code=tax_code).first() if tax_code else organizations.first()
    )
    if organization is None:
        raise NotFound(_("Không tìm thấy doanh nghiệp."))
    return organization


class RequestListView(ListAPIView[PermitRequest]):
    """GET: the requests the caller may see (HR: own enterprise; reviewers: every request past
    draft), newest first, paginated. POST (org_hr): create a draft.
    """

    access_roles: ClassVar[frozenset[str]] = READERS
    serializer_class = RequestSummarySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=RequestStatus.values, description="filter"
            )
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[PermitRequest]:
        status = self.request.query_params.get("status") or None
        return requests_for_user(self.request.user, status=status)

    @extend_schema(
        request=RequestWriteSerializer,
        responses={201: RequestDetailSerializer},
        description="Create a draft request. `areas: []` (or `whole_city: true`) asks for the "
        "whole city. Every person must be on the enterprise's own staff list.",
    )
    def post(self, request: Request) -> Response:
        serializer = RequestWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = _organization_for(
            request.user, serializer.validated_data.get("organization")
        )
        obj = request_create(
            actor=request.user,  # type: ignore[arg-type]
            organization=organization,
            **serializer.service_kwargs(),
        )
        return Response(detail_data(request.user, obj), status=201)


class RequestDetailView(APIView):
    """GET: the request with its entries (decision, reason; overlap flags for reviewers) and
    its history. PATCH (org_hr, draft or returned): change any of the creation fields.
    """

    access_roles: ClassVar[frozenset[str]] = READERS

    @extend_schema(responses=RequestDetailSerializer)
    def get(self, request: Request, pk: Any) -> Response:
        return Response(detail_data(request.user, get_request_for_user(request.user, pk)))

    @extend_schema(request=RequestWriteSerializer, responses=RequestDetailSerializer)
    def patch(self, request: Request, pk: Any) -> Response:
        obj = get_request_for_user(request.user, pk, for_action=Action.EDIT)
        serializer = RequestWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kwargs: dict[str, Any] = {
            "id_numbers": data.get("staff", list(obj.entries.values_list("id_number", flat=True))),
            "valid_from": data.get("valid_from", obj.valid_from),
            "valid_to": data.get("valid_to", obj.valid_to),
            "areas": data.get("areas", [a.code for a in obj.areas.all()]),
            "whole_city": obj.whole_city,
            "reason": data.get("reason", obj.reason),
        }
        if "areas" in data or "whole_city" in data:
            kwargs["whole_city"] = data.get("whole_city", False) or data.get("areas") == []
        if kwargs["whole_city"]:
            kwargs["areas"] = []
        obj = request_update(
            actor=request.user,  # type: ignore[arg-type]
            request=obj,
            **kwargs,
        )
        return Response(detail_data(request.user, obj))


class RequestSubmitView(APIView):
    """POST (org_hr): send a draft or returned request to the Department. Out of turn: 409."""

    access_roles: ClassVar[frozenset[str]] = frozenset({Role.ORG_HR})

    @extend_schema(request=None, responses=StatusSerializer)
    def post(self, request: Request, pk: Any) -> Response:
        obj = get_request_for_user(request.user, pk, for_action=Action.SUBMIT)
        obj = request_submit(actor=request.user, request=obj)  # type: ignore[arg-type]
        return Response({"id": str(obj.pk), "status": obj.status})


class RequestReviewView(APIView):
    """POST: department_reviewer at `submitted`, police_reviewer at `department_approved`.

    The police approval issues the permits of every entry not rejected, in the same
    transaction. Out of turn: 409 (`transition_not_allowed`); the department approver
    approving again as police: 409 (`separation_of_duties`).
    """

    access_roles: ClassVar[frozenset[str]] = frozenset(REVIEWERS)

    @extend_schema(request=ReviewSerializer, responses=StatusSerializer)
    def post(self, request: Request, pk: Any) -> Response:
        obj = get_request_for_user(request.user, pk, for_action=Action.APPROVE)
        serializer = ReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        obj = request_review(
            actor=request.user,  # type: ignore[arg-type]
            request=obj,
            decision=data["decision"],
            note=data["note"],
            rejected=[(r["id_number"], r["reason"]) for r in data["rejected"]],
        )
        return Response({"id": str(obj.pk), "status": obj.status})
