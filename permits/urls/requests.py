"""URLs of the requests part: `pages` under /, `api` under /api/v1/."""

from django.urls import URLPattern, path

from permits.api import requests as api_requests
from permits.views import requests as views

pages: list[URLPattern] = [
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_create_page, name="request-create"),
    path("requests/<uuid:pk>/", views.request_detail, name="request-detail"),
    path("requests/<uuid:pk>/edit/", views.request_edit_page, name="request-edit"),
    path("requests/<uuid:pk>/submit/", views.request_submit_page, name="request-submit"),
    path("requests/<uuid:pk>/review/", views.request_review_page, name="request-review"),
    path("review/department/", views.review_queue_department, name="review-queue-department"),
    path("review/police/", views.review_queue_police, name="review-queue-police"),
]
api: list[URLPattern] = [
    path("requests/", api_requests.RequestListView.as_view(), name="api-request-list"),
    path(
        "requests/<uuid:pk>/", api_requests.RequestDetailView.as_view(), name="api-request-detail"
    ),
    path(
        "requests/<uuid:pk>/submit/",
        api_requests.RequestSubmitView.as_view(),
        name="api-request-submit",
    ),
    path(
        "requests/<uuid:pk>/review/",
        api_requests.RequestReviewView.as_view(),
        name="api-request-review",
    ),
]
