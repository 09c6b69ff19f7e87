"""URLs of the keys part: `pages`, `api` under /api/v1/, `root` at the site root."""

from django.urls import URLPattern, path

from verification import keys

pages: list[URLPattern] = []
api: list[URLPattern] = [
    path("revocations/", keys.RevocationListView.as_view(), name="api-revocations"),
]
root: list[URLPattern] = [
    path(".well-known/permit-keys.json", keys.permit_keys, name="permit-keys"),
]
