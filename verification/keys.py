"""Publishing what offline verifiers need: the public key set and the signed revocation list.

GET /.well-known/permit-keys.json is public (anyone may check a permit with it, from any
origin); GET /api/v1/revocations/ is for checkpoint officers and reviewers. Both only read:
permits.services.keys and permits.services.issuance build and sign them.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.access import PUBLIC, Role, allow
from permits.services.issuance import revocation_list
from permits.services.keys import jwks

JWKS_MAX_AGE = 300  # seconds: a rotated key reaches devices within five minutes


@allow(PUBLIC)
@require_safe
def permit_keys(request: HttpRequest) -> JsonResponse:
    """The JWKS of docs/permit-format.md §1: active and retired keys, public halves only."""
    response = JsonResponse(jwks())
    response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    # Public data meant for verifiers on other origins (a browser page, another agency).
    response["Access-Control-Allow-Origin"] = "*"
    return response


class RevocationListView(APIView):
    """The signed list of revoked, unexpired serials for offline checkpoint devices."""

    access_roles = frozenset(
        {Role.CHECKPOINT_OFFICER, Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER}
    )

    @extend_schema(
        responses=inline_serializer(
            "RevocationList",
            {
                "issued_at": serializers.CharField(help_text="ISO 8601 with offset"),
                "serials": serializers.ListField(child=serializers.CharField()),
                "kid": serializers.CharField(help_text="JWKS kid of the signing key"),
                "signature": serializers.CharField(
                    help_text="unpadded base64url of ES256 r||s over docs/permit-format.md §7"
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        response = Response(revocation_list())
        response["Cache-Control"] = "private, no-store"
        return response
