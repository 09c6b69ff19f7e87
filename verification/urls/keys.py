"""URLs of the keys part: `pages`, `api` under /api/v1/, `root` at the site root."""

from django.urls import URLPattern

pages: list[URLPattern] = []
api: list[URLPattern] = []
root: list[URLPattern] = []
