"""Every URL of the permits app, gathered from one module per part."""

from permits.urls import permits, printing, requests, staff

pages = [*staff.pages, *requests.pages, *permits.pages, *printing.pages]
api = [*staff.api, *requests.api, *permits.api, *printing.api]
