"""URLs of the permits part: `pages` under /, `api` under /api/v1/."""

from django.urls import URLPattern, path

from permits.api import permits as api_permits
from permits.views import permits as views

pages: list[URLPattern] = [
    path("requests/<uuid:pk>/permits/", views.request_permits, name="request-permits"),
    path(
        "requests/<uuid:pk>/permits/revoke/",
        views.request_permits_revoke,
        name="request-permits-revoke",
    ),
    path("permits/<str:serial>/revoke/", views.permit_revoke_page, name="permit-revoke"),
    path(
        "organizations/<str:tax_code>/permits/revoke/",
        views.organization_permits_revoke,
        name="organization-permits-revoke",
    ),
]
api: list[URLPattern] = [
    path(
        "requests/<uuid:pk>/permits/",
        api_permits.RequestPermitsView.as_view(),
        name="api-request-permits",
    ),
    path(
        "permits/<str:serial>/revoke/",
        api_permits.PermitRevokeView.as_view(),
        name="api-permit-revoke",
    ),
]
