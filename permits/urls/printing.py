"""URLs of the printing part: `pages` under /, `api` under /api/v1/."""

from django.urls import path

from permits.api import printing as api_views
from permits.views import printing as views

pages = [
    path("requests/<uuid:pk>/print/", views.request_print, name="request-print"),
]
api = [
    path(
        "requests/<uuid:pk>/permits.pdf",
        api_views.RequestPermitsPdfView.as_view(),
        name="api-request-permits-pdf",
    ),
    path("permits/<str:serial>/pdf", api_views.PermitPdfView.as_view(), name="api-permit-pdf"),
    path("requests/<uuid:pk>/print/", api_views.PrintJobCreateView.as_view(), name="api-print"),
    path("print-jobs/<uuid:job_id>/", api_views.PrintJobView.as_view(), name="api-print-job"),
    path(
        "print-jobs/<uuid:job_id>/download/",
        api_views.PrintJobDownloadView.as_view(),
        name="print-job-download",
    ),
]
