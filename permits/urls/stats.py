"""URLs of the statistics part: `pages` under /, `api` under /api/v1/."""

from django.urls import URLPattern

pages: list[URLPattern] = []
api: list[URLPattern] = []
