"""URLs of the scan part: `pages`, `api` under /api/v1/, `root` at the site root."""

from django.urls import URLPattern, path

from verification import api as scan_api
from verification import views

pages: list[URLPattern] = [
    path("verify/", views.scanner, name="scanner"),
    path("verify/report/", views.scan_report, name="scan-report"),
    # The service worker lives under /verify/ so that its scope is the scanner page.
    path("verify/sw.js", views.service_worker, name="scanner-sw"),
]
api: list[URLPattern] = [
    path("verify/", scan_api.VerifyView.as_view(), name="api-verify"),
    path("verify/image/", scan_api.VerifyImageView.as_view(), name="api-verify-image"),
    path("verify/serial/", scan_api.VerifySerialView.as_view(), name="api-verify-serial"),
    path("scans/offline/", scan_api.OfflineScansView.as_view(), name="api-scans-offline"),
]
root: list[URLPattern] = []
