"""URLs of the verification app, gathered from one module per part."""

from verification.urls import keys, scan

pages = [*keys.pages, *scan.pages]
api = [*keys.api, *scan.api]
root = [*keys.root, *scan.root]
