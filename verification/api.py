"""The checkpoint API: verify a QR text, a photo of a permit, a serial, or offline scans.

Thin views: declare access, validate the envelope, call one service, answer. Every verify
call answers 200 with a result for any QR text; only a missing field, an unknown checkpoint
or the rate limit answer otherwise (in the error shape of config.api).

These are the hot endpoints (every scan at every checkpoint), so they differ from the rest
of the API in three ways (docs/benchmarks.md, "Verification load"): tokens are checked with
verification.authentication.CachedTokenAuthentication (the officer remembered per process
for VERIFY_CACHE_SECONDS), answers are JSON only (no browsable API), and the per-officer
rate limit is a counter in the cache rather than DRF's list of timestamps.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.cache import cache as default_cache
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from orgs.access import Role
from orgs.errors import InvalidInput
from verification.authentication import CachedTokenAuthentication
from verification.models import ScanResult
from verification.services import (
    OFFLINE_BATCH_MAX,
    scans_upload_offline,
    verify_image,
    verify_scan,
    verify_serial,
)

OFFICERS: frozenset[str] = frozenset({Role.CHECKPOINT_OFFICER})
IMAGE_MAX_BYTES = 10 * 1024 * 1024


class VerifyThrottle(UserRateThrottle):
    """Per officer (user id), scope "verify" (REST_FRAMEWORK DEFAULT_THROTTLE_RATES).

    DRF copies the rates into a class attribute at import time; reading them per request
    lets settings overrides (tests, VERIFY_RATE) take effect.

    A sliding window estimated from two fixed-window counters (this period's count plus the
    previous period's, weighted by how much of it still lies within the window) instead of
    DRF's list of request times: constant work per request whatever the rate (DRF reads and
    writes back the whole list, up to one entry per allowed request), and an atomic
    increment on a shared cache (Redis) where DRF's read-modify-write loses counts.
    """

    scope = "verify"
    cache = default_cache

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        rate = rates.get(str(self.scope))
        return str(rate) if rate else None

    def allow_request(self, request: Request, view: Any) -> bool:
        limit, period = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if limit is None or period is None or key is None:
            return True
        now = self.timer()
        window, into = divmod(now, period)
        current_key, previous_key = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        counts = self.cache.get_many([previous_key, current_key])
        previous, current = counts.get(previous_key, 0), counts.get(current_key, 0)
        weight = 1 - into / period
        if previous * weight + current >= limit:
            self._wait = self._time_until_allowed(previous, current, into, limit, period)
            return False
        try:
            self.cache.incr(current_key)
        except ValueError:  # the first request of this period (or the counter just expired)
            if not self.cache.add(current_key, 1, 2 * period):
                self.cache.incr(current_key)
        return True

    @staticmethod
    def _time_until_allowed(
        previous: int, current: int, into: float, limit: int, period: int
    ) -> float:
        if current >= limit or previous == 0:
            return period - into  # only the next period's fresh counter helps
        # previous * (1 - t / period) + current < limit
        #   ⇔  t > period * (1 - (limit - current) / previous)
        allowed_at = period * (1 - (limit - current) / previous)
        return max(0.0, allowed_at - into) + 0.001

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class AnyTextField(serializers.CharField):
    """Any text at all, NUL characters included: junk must reach the verifier and get
    "malformed", not a 400 from a field validator."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class VerifyRequestSerializer(serializers.Serializer):
    qr = AnyTextField(help_text="The exact QR text, e.g. TP1:...")
    checkpoint = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=64
    )


class SerialRequestSerializer(serializers.Serializer):
    serial = serializers.CharField(max_length=64)
    checkpoint = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=64
    )


class ImageRequestSerializer(serializers.Serializer):
    image = serializers.FileField(allow_empty_file=True)
    checkpoint = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=64
    )
    frame = serializers.BooleanField(
        required=False,
        default=False,
        help_text="A live camera frame: when it holds no QR code, answer qr_found=false "
        "and log nothing (a frame without a code is not a scan).",
    )


class OfflineScanSerializer(serializers.Serializer):
    qr = AnyTextField()
    at = serializers.CharField(help_text="ISO 8601 time of the scan on the device")
    checkpoint = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class OfflineUploadSerializer(serializers.Serializer):
    scans = serializers.ListField(
        child=serializers.DictField(), allow_empty=True, max_length=OFFLINE_BATCH_MAX
    )


class AreaSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class PermitAnswerSerializer(serializers.Serializer):
    serial = serializers.CharField()
    full_name = serializers.CharField()
    id_last4 = serializers.CharField()
    date_of_birth = serializers.DateField()
    organization = serializers.CharField()
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()
    areas = AreaSerializer(many=True)
    vehicle_plate = serializers.CharField(allow_null=True)


class ScanAnswerSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=ScanResult.choices)
    permit = PermitAnswerSerializer(allow_null=True)
    reason = serializers.CharField()
    suspected_copy = serializers.BooleanField()


class ImageAnswerSerializer(ScanAnswerSerializer):
    qr_found = serializers.BooleanField()


class OfflineAnswerSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    recorded = serializers.IntegerField()
    results = ScanAnswerSerializer(many=True)


class _OfficerView(APIView):
    access_roles: ClassVar[frozenset[str]] = OFFICERS
    # Phones send a token (cached per process); the scanner page in a browser, its session.
    authentication_classes = [CachedTokenAuthentication, SessionAuthentication]
    renderer_classes = [JSONRenderer]
    throttle_classes = [VerifyThrottle]


class VerifyView(_OfficerView):
    """Verify a scanned QR text at the caller's checkpoint (or the one named)."""

    @extend_schema(request=VerifyRequestSerializer, responses=ScanAnswerSerializer)
    def post(self, request: Request) -> Response:
        serializer = VerifyRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        answer = verify_scan(
            officer=request.user, qr=data["qr"], checkpoint_code=data.get("checkpoint")
        )
        return Response(answer)


class VerifySerialView(_OfficerView):
    """Manual entry: verify the stored permit with this serial (when a QR will not scan)."""

    @extend_schema(request=SerialRequestSerializer, responses=ScanAnswerSerializer)
    def post(self, request: Request) -> Response:
        serializer = SerialRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        answer = verify_serial(
            officer=request.user, serial=data["serial"], checkpoint_code=data.get("checkpoint")
        )
        return Response(answer)


class VerifyImageView(_OfficerView):
    """Verify the QR in a photo or scan of a permit; no QR found answers "malformed"."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImageRequestSerializer}, responses=ImageAnswerSerializer
    )
    def post(self, request: Request) -> Response:
        serializer = ImageRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["image"]
        if upload.size > IMAGE_MAX_BYTES:
            raise InvalidInput(_("Ảnh quá lớn (tối đa 10 MB)."))
        answer = verify_image(
            officer=request.user,
            data=upload.read(),
            checkpoint_code=data.get("checkpoint"),
            log_empty=not data["frame"],
        )
        return Response(answer)


class OfflineScansView(_OfficerView):
    """Upload the scans a device made without a network; each is re-verified and logged."""

    @extend_schema(request=OfflineUploadSerializer, responses=OfflineAnswerSerializer)
    def post(self, request: Request) -> Response:
        serializer = OfflineUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scans = serializer.validated_data["scans"]
        items = OfflineScanSerializer(data=scans, many=True)
        items.is_valid(raise_exception=True)
        results = scans_upload_offline(officer=request.user, scans=list(items.validated_data))
        return Response({"received": len(scans), "recorded": len(results), "results": results})
