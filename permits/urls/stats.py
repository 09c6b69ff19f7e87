"""URLs of the statistics part: `pages` under /, `api` under /api/v1/."""

from django.urls import URLPattern, path

from permits.views import stats as views

pages: list[URLPattern] = [
    path("stats/", views.stats_page, name="stats"),
    path("stats/export.xlsx", views.stats_export, name="stats-export"),
]
api: list[URLPattern] = []
