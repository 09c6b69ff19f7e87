"""The authorisation matrix: every URL × every persona × own/other enterprise, status written down.

tests/test_url_access.py proves each URL *declares* who may call it and refuses undeclared
roles with made-up arguments; this file pins the answer each persona actually gets on real
objects of both enterprises (alice: HR of Viettel, bob: HR of VNPT, charlie: Department
reviewer, dave: police reviewer, erin: checkpoint officer, frank: signed in without a role,
root: admin), including the organisation scope of contract §3: another enterprise's object
answers 404, never 403.

Conventions of the table
- pages: anonymous → 302 to /login/; a role the page does not name → 403.
- API: anonymous → 401 (TokenAuthentication answers first); a role the view does not name → 403.
- POST/PATCH rows send one body to every persona. The refusals prove nothing changed hands; the
  persona allowed gets the real answer (200/201/202/302, or 400 for a deliberately empty form,
  409 for a reviewer out of turn). Each test has its own rolled-back data, so an allowed call
  never leaks into another test.

A URL missing from TABLE fails test_every_url_is_in_the_table.
"""

# ruff: noqa: E501  (the table keeps one row per line)

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from orgs.access import Role
from tests.authz_fixtures import World
from tests.conftest import PASSWORD, client_for, make_user

PERSONAS = ("anon", "alice", "bob", "charlie", "dave", "erin", "frank", "root")

# Third-party URLs with their own access control, and Django's language switch.
EXCLUDED_NAMESPACES = {"admin"}
EXCLUDED_NAMES = {"set_language"}

BUG = "BUG: "  # prefix of the reason of an xfail case; see KNOWN_BUGS


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=BUG + reason)


# (method, URL name, object key or None, expected status per persona).
# Object keys: "<enterprise>_<kind>", enterprise viettel (alice's) or vnpt (bob's); kind org,
# staff, draft, submitted, approved (with permits), permit, job (a finished print job).
# fmt: off
TABLE: list[tuple[str, str, str | None, dict[str, int]]] = [
    # --- site-wide -------------------------------------------------------------------------------
    ("GET",   "home",                        None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "healthz",                     None,                {"anon": 200, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "login",                       None,                {"anon": 200, "alice": 302, "bob": 302, "charlie": 302, "dave": 302, "erin": 302, "frank": 302, "root": 302}),
    ("POST",  "logout",                      None,                {"anon": 302, "alice": 302, "bob": 302, "charlie": 302, "dave": 302, "erin": 302, "frank": 302, "root": 302}),
    ("GET",   "otp-verify",                  None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "otp-setup",                   None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 200}),
    ("GET",   "organization-detail",         "viettel_org",       {"anon": 302, "alice": 200, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "organization-detail",         "vnpt_org",          {"anon": 302, "alice": 404, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-token",                   None,                {"anon": 200, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "api-me",                      None,                {"anon": 401, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "api-schema",                  None,                {"anon": 200, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "api-docs",                    None,                {"anon": 200, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    # --- staff pages (org_hr, own enterprise) ------------------------------------------------------
    ("GET",   "staff-list",                  None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-import",                None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "staff-import",                None,                {"anon": 302, "alice": 400, "bob": 400, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-export",                None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-template",              None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-edit",                  "viettel_staff",     {"anon": 302, "alice": 200, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-edit",                  "vnpt_staff",        {"anon": 302, "alice": 404, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "staff-edit",                  "viettel_staff",     {"anon": 302, "alice": 400, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "staff-edit",                  "vnpt_staff",        {"anon": 302, "alice": 404, "bob": 400, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-delete",                "viettel_staff",     {"anon": 302, "alice": 200, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "staff-delete",                "vnpt_staff",        {"anon": 302, "alice": 404, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "staff-delete",                "viettel_staff",     {"anon": 302, "alice": 302, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "staff-delete",                "vnpt_staff",        {"anon": 302, "alice": 404, "bob": 302, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    # --- staff API ---------------------------------------------------------------------------------
    ("GET",   "api-staff-list",              None,                {"anon": 401, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-staff-import",            None,                {"anon": 401, "alice": 400, "bob": 400, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    # --- request pages -----------------------------------------------------------------------------
    ("GET",   "request-list",                None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-create",              None,                {"anon": 302, "alice": 200, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-create",              None,                {"anon": 302, "alice": 400, "bob": 400, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-detail",              "viettel_draft",     {"anon": 302, "alice": 200, "bob": 404, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-detail",              "vnpt_draft",        {"anon": 302, "alice": 404, "bob": 200, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-detail",              "viettel_submitted", {"anon": 302, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-detail",              "vnpt_submitted",    {"anon": 302, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-detail",              "viettel_approved",  {"anon": 302, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-edit",                "viettel_draft",     {"anon": 302, "alice": 200, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-edit",                "vnpt_draft",        {"anon": 302, "alice": 404, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-edit",                "viettel_draft",     {"anon": 302, "alice": 400, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-edit",                "vnpt_draft",        {"anon": 302, "alice": 404, "bob": 400, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-submit",              "viettel_draft",     {"anon": 302, "alice": 302, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-submit",              "vnpt_draft",        {"anon": 302, "alice": 404, "bob": 302, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    # dave at the Department's stage is out of turn: the page redirects with a message (409 in the API).
    ("POST",  "request-review",              "viettel_submitted", {"anon": 302, "alice": 403, "bob": 403, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-review",              "vnpt_submitted",    {"anon": 302, "alice": 403, "bob": 403, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-review",              "viettel_draft",     {"anon": 302, "alice": 403, "bob": 403, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "review-queue-department",     None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 200, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "review-queue-police",         None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 403, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    # --- request API -------------------------------------------------------------------------------
    ("GET",   "api-request-list",            None,                {"anon": 401, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    # The body names alice's employee: bob may create requests, but not for Viettel's staff.
    ("POST",  "api-request-list",            None,                {"anon": 401, "alice": 201, "bob": 400, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-detail",          "viettel_draft",     {"anon": 401, "alice": 200, "bob": 404, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-detail",          "vnpt_draft",        {"anon": 401, "alice": 404, "bob": 200, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-detail",          "viettel_submitted", {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-detail",          "vnpt_submitted",    {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("PATCH", "api-request-detail",          "viettel_draft",     {"anon": 401, "alice": 200, "bob": 404, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("PATCH", "api-request-detail",          "vnpt_draft",        {"anon": 401, "alice": 404, "bob": 200, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    ("PATCH", "api-request-detail",          "viettel_submitted", {"anon": 401, "alice": 409, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-request-submit",          "viettel_draft",     {"anon": 401, "alice": 200, "bob": 404, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-request-submit",          "vnpt_draft",        {"anon": 401, "alice": 404, "bob": 200, "charlie": 403, "dave": 403, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-request-review",          "viettel_submitted", {"anon": 401, "alice": 403, "bob": 403, "charlie": 200, "dave": 409, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-request-review",          "vnpt_submitted",    {"anon": 401, "alice": 403, "bob": 403, "charlie": 200, "dave": 409, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-request-review",          "viettel_draft",     {"anon": 401, "alice": 403, "bob": 403, "charlie": 404, "dave": 404, "erin": 403, "frank": 403, "root": 403}),
    # --- permit pages (HR of the holder's enterprise, reviewers) -----------------------------------
    ("GET",   "request-permits",             "viettel_approved",  {"anon": 302, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-permits",             "vnpt_approved",     {"anon": 302, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-permits-revoke",      "viettel_approved",  {"anon": 302, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-permits-revoke",      "vnpt_approved",     {"anon": 302, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-permits-revoke",      "viettel_approved",  {"anon": 302, "alice": 302, "bob": 404, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-permits-revoke",      "vnpt_approved",     {"anon": 302, "alice": 404, "bob": 302, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "permit-revoke",               "viettel_permit",    {"anon": 302, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "permit-revoke",               "vnpt_permit",       {"anon": 302, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "permit-revoke",               "viettel_permit",    {"anon": 302, "alice": 302, "bob": 404, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "permit-revoke",               "vnpt_permit",       {"anon": 302, "alice": 404, "bob": 302, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "organization-permits-revoke", "viettel_org",       {"anon": 302, "alice": 403, "bob": 403, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "organization-permits-revoke", "viettel_org",       {"anon": 302, "alice": 403, "bob": 403, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "organization-permits-revoke", "vnpt_org",          {"anon": 302, "alice": 403, "bob": 403, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    # --- permits API -------------------------------------------------------------------------------
    ("GET",   "api-request-permits",         "viettel_approved",  {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-permits",         "vnpt_approved",     {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-permit-revoke",           "viettel_permit",    {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-permit-revoke",           "vnpt_permit",       {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    # --- printing ----------------------------------------------------------------------------------
    ("GET",   "request-print",               "viettel_approved",  {"anon": 302, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "request-print",               "vnpt_approved",     {"anon": 302, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-print",               "viettel_approved",  {"anon": 302, "alice": 302, "bob": 404, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "request-print",               "vnpt_approved",     {"anon": 302, "alice": 404, "bob": 302, "charlie": 302, "dave": 302, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-permits-pdf",     "viettel_approved",  {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-request-permits-pdf",     "vnpt_approved",     {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-permit-pdf",              "viettel_permit",    {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-permit-pdf",              "vnpt_permit",       {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-print",                   "viettel_approved",  {"anon": 401, "alice": 202, "bob": 404, "charlie": 202, "dave": 202, "erin": 403, "frank": 403, "root": 403}),
    ("POST",  "api-print",                   "vnpt_approved",     {"anon": 401, "alice": 404, "bob": 202, "charlie": 202, "dave": 202, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-print-job",               "viettel_job",       {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "api-print-job",               "vnpt_job",          {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "print-job-download",          "viettel_job",       {"anon": 401, "alice": 200, "bob": 404, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "print-job-download",          "vnpt_job",          {"anon": 401, "alice": 404, "bob": 200, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    # --- statistics (Department, police, admin) ----------------------------------------------------
    ("GET",   "stats",                       None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 200}),
    ("GET",   "stats-export",                None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 200}),
    # --- verification ------------------------------------------------------------------------------
    ("GET",   "scanner",                     None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 403, "dave": 403, "erin": 200, "frank": 403, "root": 403}),
    ("GET",   "scanner-sw",                  None,                {"anon": 200, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "scan-report",                 None,                {"anon": 302, "alice": 403, "bob": 403, "charlie": 200, "dave": 200, "erin": 403, "frank": 403, "root": 403}),
    ("GET",   "permit-keys",                 None,                {"anon": 200, "alice": 200, "bob": 200, "charlie": 200, "dave": 200, "erin": 200, "frank": 200, "root": 200}),
    ("GET",   "api-revocations",             None,                {"anon": 401, "alice": 403, "bob": 403, "charlie": 200, "dave": 200, "erin": 200, "frank": 403, "root": 403}),
    ("POST",  "api-verify",                  None,                {"anon": 401, "alice": 403, "bob": 403, "charlie": 403, "dave": 403, "erin": 200, "frank": 403, "root": 403}),
    ("POST",  "api-verify-image",            None,                {"anon": 401, "alice": 403, "bob": 403, "charlie": 403, "dave": 403, "erin": 200, "frank": 403, "root": 403}),
    ("POST",  "api-verify-serial",           None,                {"anon": 401, "alice": 403, "bob": 403, "charlie": 403, "dave": 403, "erin": 200, "frank": 403, "root": 403}),
    ("POST",  "api-scans-offline",           None,                {"anon": 401, "alice": 403, "bob": 403, "charlie": 403, "dave": 403, "erin": 200, "frank": 403, "root": 403}),
]
# fmt: on

# An administrator who is also HR of Viettel ("admin_hr": roles admin + org_hr, --org Viettel;
# `create_user --role` may be repeated) is a Viettel clerk and nothing more on HR pages: VNPT's
# objects answer 404 to them as to alice. Their own enterprise's objects open as for alice.
# fmt: off
DUAL_ROLE_TABLE: list[tuple[str, str, str | None, int]] = [
    ("GET",  "organization-detail", "viettel_org",    200),
    ("GET",  "organization-detail", "vnpt_org",       404),
    ("GET",  "staff-edit",          "viettel_staff",  200),
    ("GET",  "staff-edit",          "vnpt_staff",     404),
    ("POST", "staff-delete",        "vnpt_staff",     404),
    ("GET",  "request-detail",      "viettel_draft",  200),
    ("GET",  "request-detail",      "vnpt_draft",     404),
    ("GET",  "api-request-detail",  "vnpt_draft",     404),
    ("POST", "request-submit",      "vnpt_draft",     404),
    ("POST", "api-request-submit",  "vnpt_draft",     404),
    ("GET",  "api-permit-pdf",      "viettel_permit", 200),
    ("GET",  "api-permit-pdf",      "vnpt_permit",    404),
    ("POST", "api-permit-revoke",   "vnpt_permit",    404),
    ("GET",  "api-print-job",       "vnpt_job",       404),
]
# fmt: on

# Cases whose expected answer the application does not give yet: (method, name, object, persona)
# → what goes wrong. Each runs as a strict xfail, so fixing the bug turns it into a failure
# that asks for the entry to be removed.
KNOWN_BUGS: dict[tuple[str, str, str | None, str], str] = {}


# --- request bodies of the state-changing rows ---------------------------------------------------


def _png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("L", (32, 32), 255).save(out, "PNG")
    out.seek(0)
    out.name = "photo.png"
    return out


def _new_request(world: World) -> dict[str, Any]:
    from django.utils import timezone

    today = timezone.localdate()
    return {
        "staff": [world.get("viettel_staff").id_number],
        "valid_from": today.isoformat(),
        "valid_to": today.isoformat(),
        "areas": ["001"],
        "reason": "Ứng cứu",
    }


# (method, name) → (encoding, body factory). "form": multipart form; "json": application/json.
Body = tuple[str, Callable[[World], Any]]
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "logout"): ("form", lambda w: {}),
    ("POST", "api-token"): (
        "json",
        lambda w: {"username": w.user("frank").username, "password": PASSWORD},
    ),
    ("POST", "staff-import"): ("form", lambda w: {}),  # no file: the form answers 400
    ("POST", "staff-edit"): ("form", lambda w: {}),  # empty form: 400
    ("POST", "staff-delete"): ("form", lambda w: {}),
    ("POST", "api-staff-import"): ("form", lambda w: {}),  # no file: 400
    # An incomplete form (an empty POST would just show the blank form): 400.
    ("POST", "request-create"): ("form", lambda w: {"reason": "Thiếu ngày"}),
    ("POST", "request-edit"): ("form", lambda w: {"reason": "Thiếu ngày"}),
    ("POST", "request-submit"): ("form", lambda w: {}),
    ("POST", "request-review"): ("form", lambda w: {"decision": "return", "note": "Bổ sung"}),
    ("POST", "api-request-list"): ("json", _new_request),
    ("PATCH", "api-request-detail"): ("json", lambda w: {"reason": "Sửa lý do"}),
    ("POST", "api-request-submit"): ("json", lambda w: {}),
    ("POST", "api-request-review"): ("json", lambda w: {"decision": "return", "note": "Bổ sung"}),
    ("POST", "request-permits-revoke"): ("form", lambda w: {"reason": "Mất giấy"}),
    ("POST", "permit-revoke"): ("form", lambda w: {"reason": "Mất giấy"}),
    ("POST", "organization-permits-revoke"): ("form", lambda w: {"reason": "Ngừng hoạt động"}),
    ("POST", "api-permit-revoke"): ("json", lambda w: {"reason": "Mất giấy"}),
    ("POST", "request-print"): ("form", lambda w: {"layout": "a4x4", "mode": "queue"}),
    ("POST", "api-print"): ("json", lambda w: {"layout": "a4x4"}),
    ("POST", "api-verify"): ("json", lambda w: {"qr": "TP1:not-a-permit"}),
    ("POST", "api-verify-image"): ("form", lambda w: {"image": _png()}),
    ("POST", "api-verify-serial"): ("json", lambda w: {"serial": "NO-SUCH-SERIAL"}),
    ("POST", "api-scans-offline"): ("json", lambda w: {"scans": []}),
}


# --- the URL conf ------------------------------------------------------------------------------


def _url_names(patterns: list[Any], namespace: str = "") -> Iterator[str]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            if ns in EXCLUDED_NAMESPACES:
                continue
            yield from _url_names(p.url_patterns, ns)
        elif isinstance(p, URLPattern):
            assert p.name, f"unnamed URL {p.pattern}: name it and add it to TABLE"
            if p.name not in EXCLUDED_NAMES:
                yield f"{namespace}:{p.name}" if namespace else p.name


def test_every_url_is_in_the_table():
    missing = set(_url_names(get_resolver().url_patterns)) - {name for _m, name, _o, _e in TABLE}
    assert not missing, f"URLs without a row in TABLE: {sorted(missing)}"


def test_the_table_is_well_formed():
    names = set(_url_names(get_resolver().url_patterns))
    for method, name, _obj, expected in TABLE:
        assert name in names, f"{name} is in TABLE but not in the URL conf"
        assert tuple(expected) == PERSONAS, f"{method} {name}: one column per persona, in order"
        if method not in ("GET", "HEAD"):
            assert (method, name) in BODIES, f"{method} {name}: add a body to BODIES"
    rows = [(m, n, o) for m, n, o, _e in TABLE]
    assert len(rows) == len(set(rows)), "duplicate rows"
    dual = [(m, n, o) for m, n, o, _e in DUAL_ROLE_TABLE]
    for key in KNOWN_BUGS:
        table = dual if key[3] == "admin_hr" else rows
        assert key[:3] in table and (key[3] in PERSONAS or key[3] == "admin_hr"), key


def test_every_state_changing_row_refuses_someone_or_is_public():
    """A POST row where nobody is refused would make the matrix vacuous for that URL."""
    for method, name, obj, expected in TABLE:
        if method != "GET" and name not in ("logout", "api-token"):
            assert any(s in (401, 403, 404) for s in expected.values()), (method, name, obj)


# --- the matrix --------------------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for method, name, obj, expected in TABLE:
        for persona in PERSONAS:
            marks = []
            bug = KNOWN_BUGS.get((method, name, obj, persona))
            if bug:
                marks.append(_xfail(bug))
            yield pytest.param(
                method,
                name,
                obj,
                persona,
                expected[persona],
                id=f"{method} {name} {obj or '-'} {persona}",
                marks=marks,
            )


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """The personas are created per test; PBKDF2 at full strength would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(request: pytest.FixtureRequest, db: Any) -> World:
    w = World(request)
    w.signing_key()  # the revocation list and issuance need an active key
    return w


def _client(world: World, persona: str) -> Client:
    if persona == "anon":
        return Client()
    return client_for(world.user(persona))


@pytest.mark.parametrize(("method", "name", "obj", "persona", "expected"), list(_cases()))
def test_authorization_matrix(world, method, name, obj, persona, expected):
    url = reverse(name, kwargs=world.kwargs(obj))
    client = _client(world, persona)
    if method == "GET":
        response = client.get(url)
    else:
        encoding, factory = BODIES[(method, name)]
        data = factory(world)
        call = getattr(client, method.lower())
        if encoding == "json":
            response = call(url, data, content_type="application/json")
        elif method == "POST":
            response = call(url, data)
        else:
            raise AssertionError(f"{method} needs a JSON body")
    status = response.status_code
    if hasattr(response, "close"):
        response.close()  # file responses (PDF downloads) hold the file open
    assert status == expected, f"{method} {url} as {persona}: {status}, expected {expected}"
    if expected == 302 and persona == "anon" and not url.startswith("/api/"):
        assert response["Location"].startswith(reverse("login")), response["Location"]


def _dual_role_cases() -> Iterator[Any]:
    for method, name, obj, expected in DUAL_ROLE_TABLE:
        marks = []
        bug = KNOWN_BUGS.get((method, name, obj, "admin_hr"))
        if bug:
            marks.append(_xfail(bug))
        yield pytest.param(
            method, name, obj, expected, id=f"{method} {name} {obj} admin_hr", marks=marks
        )


@pytest.mark.parametrize(("method", "name", "obj", "expected"), list(_dual_role_cases()))
def test_an_admin_who_is_also_hr_stays_in_their_enterprise(world, method, name, obj, expected):
    viettel = world.get("viettel_org")
    admin_hr = make_user("admin_hr", Role.ADMIN, Role.ORG_HR, organization=viettel)
    url = reverse(name, kwargs=world.kwargs(obj))
    client = client_for(admin_hr)
    if method == "GET":
        response = client.get(url)
    else:
        encoding, factory = BODIES[(method, name)]
        if encoding == "json":
            response = client.post(url, factory(world), content_type="application/json")
        else:
            response = client.post(url, factory(world))
    status = response.status_code
    if hasattr(response, "close"):
        response.close()
    assert status == expected, f"{method} {url} as admin_hr: {status}, expected {expected}"
