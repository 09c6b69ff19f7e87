"""Serializers of the requests API (contract §3). Input shapes only; the services decide."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from permits.models import PermitRequest, RequestEntry, RequestHistory

AREAS_HELP = (
    'District codes of Hanoi (e.g. "005" Cầu Giấy), as listed by the reference data. '
    'An empty list means the whole city, as does "whole_city": true.'
)


class RequestWriteSerializer(serializers.Serializer):
    """POST /requests/ (all fields) and PATCH /requests/{id}/ (any of them)."""

    staff = serializers.ListField(
        child=serializers.CharField(max_length=12),
        allow_empty=True,
        help_text="ID numbers (CCCD/CMND) of the enterprise's own staff, as in its staff list.",
    )
    valid_from = serializers.DateField(help_text="YYYY-MM-DD, today or later (Hanoi time).")
    valid_to = serializers.DateField(
        help_text="YYYY-MM-DD inclusive; at most PERMIT_MAX_DAYS (14) days from valid_from."
    )
    areas = serializers.ListField(
        child=serializers.CharField(max_length=3), allow_empty=True, help_text=AREAS_HELP
    )
    whole_city = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: valid in every district (areas is then ignored).",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    organization = serializers.CharField(
        required=False,
        max_length=14,
        help_text="Tax code of the enterprise, for a clerk who serves several (default: "
        "the first).",
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.validated_data
        areas = data.get("areas")
        whole_city = data.get("whole_city", False) or areas == []
        out: dict[str, Any] = {
            "id_numbers": data.get("staff"),
            "valid_from": data.get("valid_from"),
            "valid_to": data.get("valid_to"),
            "areas": [] if whole_city else (areas or []),
            "whole_city": whole_city,
            "reason": data.get("reason", ""),
        }
        return out


class ReviewRejectionSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=12)
    reason = serializers.CharField(max_length=255)


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=["approve", "return", "reject"],
        help_text="approve: pass to the next stage (police: issue the permits); return: back "
        "to the enterprise to correct; reject: refuse the whole request.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Required for return and reject.",
    )
    rejected = ReviewRejectionSerializer(
        many=True,
        required=False,
        default=list,
        help_text="People turned down with their reason; the others are accepted. Turning "
        "everyone down rejects the request.",
    )


class StatusSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


class OverlapSerializer(serializers.Serializer):
    serial = serializers.CharField()
    organization = serializers.CharField(help_text="short name of the holder's enterprise")
    valid_to = serializers.DateField()


class EntrySerializer(serializers.ModelSerializer):
    overlap = serializers.SerializerMethodField(
        help_text="For reviewers: an active permit of the same person (any enterprise) whose "
        "dates overlap the request's; null otherwise, and always null for HR."
    )

    class Meta:
        model = RequestEntry
        fields = [
            "id_number",
            "full_name",
            "date_of_birth",
            "job_title",
            "vehicle_plate",
            "decision",
            "reason",
            "overlap",
        ]

    @extend_schema_field(OverlapSerializer(allow_null=True))
    def get_overlap(self, entry: Any) -> dict[str, Any] | None:
        if not self.context.get("show_flags") or not getattr(entry, "overlap", False):
            return None
        return {
            "serial": entry.overlap_serial,
            "organization": entry.overlap_org,
            "valid_to": entry.overlap_valid_to,
        }


class HistorySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username")

    class Meta:
        model = RequestHistory
        fields = ["at", "actor", "role", "action", "note"]

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so these two are added here rather than declared.
        fields = super().get_fields()
        fields["from"] = serializers.CharField(source="from_status")
        fields["to"] = serializers.CharField(source="to_status")
        return fields


class RequestSummarySerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    organization = serializers.CharField(source="organization.tax_code")
    organization_name = serializers.CharField(source="organization.short_name")
    areas = serializers.SerializerMethodField()
    entry_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = PermitRequest
        fields = [
            "id",
            "reference",
            "status",
            "organization",
            "organization_name",
            "valid_from",
            "valid_to",
            "areas",
            "whole_city",
            "reason",
            "entry_count",
            "created_at",
            "submitted_at",
        ]

    def get_areas(self, obj: PermitRequest) -> list[str]:
        return [a.code for a in obj.areas.all()]


class RequestDetailSerializer(RequestSummarySerializer):
    entries = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    entry_count = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta(RequestSummarySerializer.Meta):
        fields = [*RequestSummarySerializer.Meta.fields, "entries", "history"]

    @extend_schema_field(EntrySerializer(many=True))
    def get_entries(self, obj: PermitRequest) -> Any:
        return EntrySerializer(self.context["entries"], many=True, context=self.context).data

    @extend_schema_field(HistorySerializer(many=True))
    def get_history(self, obj: PermitRequest) -> Any:
        return HistorySerializer(self.context["history"], many=True).data

    def get_entry_count(self, obj: PermitRequest) -> int:
        return len(self.context["entries"])
