"""Staff lists over the API (contract §3): import a file, read the list. HR, own organisation."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.access import Role, hr_organization
from orgs.errors import Forbidden, InvalidInput
from permits.models import Staff
from permits.services.staff import staff_import
from permits.staff_list import MAX_BYTES
from permits.staff_selectors import staff_for_user

_TRUE = frozenset({"true", "1", "yes", "on"})


class StaffSerializer(serializers.ModelSerializer):
    class Meta:
        model = Staff
        fields = [
            "id_number",
            "full_name",
            "date_of_birth",
            "phone",
            "job_title",
            "home_address",
            "vehicle_plate",
        ]


class StaffImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)


class StaffRowIssueSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="spreadsheet row number, header = 1")
    column = serializers.CharField(help_text="full_name, id_number…, or empty for the whole row")
    code = serializers.CharField()
    message = serializers.CharField()


class StaffImportView(APIView):
    """POST multipart `file` (.csv or .xlsx), optional `dry_run=true`: upsert, all or nothing."""

    access_roles: ClassVar[frozenset[str]] = frozenset({Role.ORG_HR})
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(
        request={"multipart/form-data": StaffImportRequestSerializer},
        responses=inline_serializer(
            "StaffImportReport",
            {
                "rows": serializers.IntegerField(),
                "created": serializers.IntegerField(),
                "updated": serializers.IntegerField(),
                "unchanged": serializers.IntegerField(),
                "warnings": StaffRowIssueSerializer(many=True),
                "dry_run": serializers.BooleanField(),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(
                _("Chưa gửi tệp danh sách."),
                details=[{"field": "file", "message": _("Hãy gửi tệp trong trường “file”.")}],
            )
        organization = hr_organization(request.user)
        if organization is None:
            raise Forbidden(_("Tài khoản của bạn chưa gắn với doanh nghiệp nào."))
        dry_run = str(request.data.get("dry_run", "")).strip().lower() in _TRUE
        report = staff_import(
            actor=request.user,
            organization=organization,
            data=upload.read(MAX_BYTES + 1),  # the parser refuses beyond the limit
            filename=upload.name or "",
            dry_run=dry_run,
        )
        return Response(
            {
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "warnings": [
                    {"row": w.row, "column": w.column, "code": w.code, "message": w.message}
                    for w in report.warnings
                ],
                "dry_run": report.dry_run,
            }
        )


class StaffListView(ListAPIView[Staff]):
    """The caller's organisation's staff, in Vietnamese name order; `q` searches names and IDs."""

    access_roles: ClassVar[frozenset[str]] = frozenset({Role.ORG_HR})
    serializer_class = StaffSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="name (accents optional) or ID"),
            OpenApiParameter(
                "order", OpenApiTypes.STR, description="name, id_number, date_of_birth, -…"
            ),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Staff]:
        params = self.request.query_params
        return staff_for_user(
            self.request.user, q=params.get("q", ""), order=params.get("order", "name")
        )
