"""Every URL of the permits app, gathered from one module per part."""

from permits.urls import permits, printing, requests, staff, stats

pages = [*staff.pages, *requests.pages, *permits.pages, *printing.pages, *stats.pages]
api = [*staff.api, *requests.api, *permits.api, *printing.api, *stats.api]
