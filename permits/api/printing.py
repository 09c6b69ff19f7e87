"""PDF downloads and print jobs (contract §3)."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.access import Role
from permits.models import PrintJob, PrintJobStatus
from permits.permit_selectors import get_permit_for_user
from permits.selectors import get_request_for_user
from permits.services.printing import LAYOUTS, permit_pdf, permits_pdf, print_job_create

PRINT_ROLES = frozenset({Role.ORG_HR, Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER})


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def get_print_job_for_user(user: Any, job_id: Any) -> PrintJob:
    """A print job of a request the user may see; others' jobs answer 404 like missing ones."""
    job = get_object_or_404(PrintJob.objects.select_related("request"), pk=job_id)
    get_request_for_user(user, job.request_id)
    return job


def print_job_data(job: PrintJob) -> dict[str, Any]:
    done = job.status == PrintJobStatus.DONE and bool(job.file)
    return {
        "id": str(job.pk),
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "download": reverse("print-job-download", args=[job.pk]) if done else None,
    }


class RequestPermitsPdfView(APIView):
    access_roles = PRINT_ROLES

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: Any) -> HttpResponse:
        permit_request = get_request_for_user(request.user, pk)
        layout = request.query_params.get("layout", "a4x4")
        pdf = permits_pdf(request=permit_request, layout=layout if layout in LAYOUTS else "a4x4")
        return pdf_response(pdf, f"{permit_request.reference}.pdf")


class PermitPdfView(APIView):
    access_roles = PRINT_ROLES

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, serial: str) -> HttpResponse:
        permit = get_permit_for_user(request.user, serial)
        return pdf_response(permit_pdf(permit=permit), f"{permit.serial}.pdf")


class PrintRequestSerializer(serializers.Serializer):
    layout = serializers.ChoiceField(choices=LAYOUTS, default="a4x4")
    serials = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class PrintJobCreateView(APIView):
    access_roles = PRINT_ROLES

    @extend_schema(
        request=PrintRequestSerializer,
        responses={202: inline_serializer("PrintJobCreated", {"job": serializers.UUIDField()})},
    )
    def post(self, request: Request, pk: Any) -> Response:
        permit_request = get_request_for_user(request.user, pk)
        serializer = PrintRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = print_job_create(
            actor=request.user,
            request=permit_request,
            layout=serializer.validated_data["layout"],
            serials=serializer.validated_data["serials"],
        )
        return Response({"job": str(job.pk)}, status=202)


class PrintJobView(APIView):
    access_roles = PRINT_ROLES

    @extend_schema(
        responses=inline_serializer(
            "PrintJob",
            {
                "id": serializers.UUIDField(),
                "status": serializers.ChoiceField(choices=PrintJobStatus.values),
                "done": serializers.IntegerField(),
                "total": serializers.IntegerField(),
                "download": serializers.CharField(allow_null=True),
            },
        )
    )
    def get(self, request: Request, job_id: Any) -> Response:
        return Response(print_job_data(get_print_job_for_user(request.user, job_id)))


class PrintJobDownloadView(APIView):
    access_roles = PRINT_ROLES

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, job_id: Any) -> FileResponse:
        job = get_print_job_for_user(request.user, job_id)
        if job.status != PrintJobStatus.DONE or not job.file:
            raise Http404
        response = FileResponse(
            job.file.open("rb"),
            content_type="application/pdf",
            filename=f"{job.request.reference}.pdf",
        )
        response["Cache-Control"] = "private, no-store"
        return response
