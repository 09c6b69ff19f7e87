"""Permits of a request, and revoking one (contract §3)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.access import Role
from permits.models import Permit, PermitStatus
from permits.permit_selectors import get_permit_for_user, permits_for_request
from permits.selectors import get_request_for_user
from permits.services.issuance import permit_revoke

PERMIT_ROLES = frozenset({Role.ORG_HR, Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER})


class PermitSerializer(serializers.ModelSerializer):
    areas = serializers.ListField(
        source="area_codes",
        child=serializers.CharField(),
        help_text="District codes such as '005'; [] means the whole city.",
    )
    qr = serializers.CharField(source="qr_text", help_text="The exact QR text (TP1:...).")
    status = serializers.ChoiceField(choices=PermitStatus.choices)

    class Meta:
        model = Permit
        fields = [
            "serial",
            "id_number",
            "full_name",
            "valid_from",
            "valid_to",
            "areas",
            "vehicle_plate",
            "status",
            "qr",
        ]
        read_only_fields = fields


class RequestPermitsView(APIView):
    """Every permit of a request, revoked and superseded ones included."""

    access_roles = PERMIT_ROLES

    @extend_schema(responses=PermitSerializer(many=True))
    def get(self, request: Request, pk: Any) -> Response:
        permit_request = get_request_for_user(request.user, pk)
        permits = permits_for_request(request.user, permit_request)
        return Response(PermitSerializer(permits, many=True).data)


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class PermitRevokeView(APIView):
    """Revoke one permit: the HR clerk of the holder's enterprise, or a reviewer."""

    access_roles = PERMIT_ROLES

    @extend_schema(
        request=RevokeSerializer,
        responses=inline_serializer("PermitRevoked", {"status": serializers.CharField()}),
    )
    def post(self, request: Request, serial: str) -> Response:
        permit = get_permit_for_user(request.user, serial)
        serializer = RevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        revoked = permit_revoke(
            actor=request.user, permit=permit, reason=serializer.validated_data["reason"]
        )
        return Response({"status": revoked.status})
