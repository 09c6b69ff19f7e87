"""Shared personas, created through the services as a user would be.

alice: HR of Viettel · bob: HR of VNPT · charlie: Department reviewer · dave: police reviewer
· erin: checkpoint officer at CP-01 (Long Biên) · frank: signed in, no role · root: admin.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orgs.access import Role
from orgs.models import Checkpoint, Organization
from orgs.services import checkpoint_create, organization_create, user_create

PASSWORD = "Correct-Horse-2021"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def viettel(db: Any) -> Organization:
    return organization_create(
        actor=None,
        tax_code="0100109106",
        name="Tập đoàn Công nghiệp - Viễn thông Quân đội",
        short_name="VIETTEL",
        sector="telecom",
    )


@pytest.fixture
def vnpt(db: Any) -> Organization:
    return organization_create(
        actor=None,
        tax_code="0100684378",
        name="Tập đoàn Bưu chính Viễn thông Việt Nam",
        short_name="VNPT",
        sector="telecom",
    )


@pytest.fixture
def checkpoint(db: Any) -> Checkpoint:
    return checkpoint_create(actor=None, code="CP-01", name="Chốt cầu Chương Dương", district="004")


def make_user(username: str, *roles: str, **kwargs: Any) -> User:
    return user_create(actor=None, username=username, password=PASSWORD, roles=roles, **kwargs)


@pytest.fixture
def alice(viettel: Organization) -> User:
    return make_user("alice", Role.ORG_HR, organization=viettel, full_name="Nguyễn Thị Thu Hương")


@pytest.fixture
def bob(vnpt: Organization) -> User:
    return make_user("bob", Role.ORG_HR, organization=vnpt, full_name="Trần Văn Đức")


@pytest.fixture
def charlie(db: Any) -> User:
    return make_user("charlie", Role.DEPARTMENT_REVIEWER, full_name="Lê Minh Tuấn")


@pytest.fixture
def dave(db: Any) -> User:
    return make_user("dave", Role.POLICE_REVIEWER, full_name="Phạm Quốc Hùng")


@pytest.fixture
def erin(checkpoint: Checkpoint) -> User:
    return make_user("erin", Role.CHECKPOINT_OFFICER, checkpoint=checkpoint)


@pytest.fixture
def frank(db: Any) -> User:
    user = User.objects.create_user("frank", password=PASSWORD)
    return user


@pytest.fixture
def root(db: Any) -> User:
    return make_user("root", Role.ADMIN)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def on_postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


# --- Browser tests: Playwright driving Debian's Chromium -----------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_login(page: Any, live_server: Any, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()


@pytest.fixture(autouse=True)
def _media_in_a_temporary_folder(settings: Any, tmp_path: Path) -> None:
    """Uploaded and generated files (print jobs, staff uploads) never land in the tree."""
    settings.MEDIA_ROOT = tmp_path / "media"


def reload_reference_data() -> None:
    """What migrations leave in a fresh database: content types, permissions, districts, role
    groups and the audit head. Rows re-created after a flush get new ids, so the process-wide
    caches (content types, guardian) are cleared too.
    """
    import importlib

    from django.apps import apps as django_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes
    from django.contrib.contenttypes.models import ContentType
    from guardian.shortcuts import clear_ct_cache

    for config in django_apps.get_app_configs():
        create_contenttypes(config, verbosity=0)
        create_permissions(config, verbosity=0)
    ContentType.objects.clear_cache()
    clear_ct_cache()
    importlib.import_module("orgs.migrations.0002_load_areas_and_roles").load(django_apps, None)


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> None:
    """A transactional test (browser, concurrency) ends with a flush that empties every table,
    migration data included, and leaves stale caches; the next test would find no districts
    and mismatched content types. Reload what migrations provide when it is missing.
    """
    uses_db = request.node.get_closest_marker("django_db") is not None or any(
        name in request.fixturenames for name in ("db", "transactional_db", "live_server")
    )
    if not uses_db:
        return
    request.getfixturevalue("_django_db_helper")
    from orgs.models import Area

    if not Area.objects.exists():
        reload_reference_data()
