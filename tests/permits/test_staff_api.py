"""The staff API (contract §3): POST /api/v1/staff/import/ and GET /api/v1/staff/."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from permits.models import Staff
from permits.services.staff import staff_import

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TODAY = date(2021, 9, 15)
STAFF_KEYS = {
    "id_number",
    "full_name",
    "date_of_birth",
    "phone",
    "job_title",
    "home_address",
    "vehicle_plate",
}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lockdown_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: TODAY)


def api_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def post_file(api: APIClient, name: str, **extra: Any) -> Any:
    data = {"file": SimpleUploadedFile(name, (FIXTURES / name).read_bytes()), **extra}
    return api.post("/api/v1/staff/import/", data, format="multipart")


def test_it_imports_a_clean_list_and_reports_the_counts(alice, viettel):
    response = post_file(api_for(alice), "staff-clean.csv")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("rows", "created", "updated", "unchanged", "warnings")} == {
        "rows": 50,
        "created": 50,
        "updated": 0,
        "unchanged": 0,
        "warnings": [],
    }
    assert Staff.objects.filter(organization=viettel).count() == 50


def test_importing_the_same_list_again_changes_nothing(alice, viettel):
    post_file(api_for(alice), "staff-clean.csv")
    body = post_file(api_for(alice), "staff-clean.csv").json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 50)


def test_a_dry_run_answers_the_counts_and_saves_nothing(alice, viettel):
    response = post_file(api_for(alice), "staff-clean.csv", dry_run="true")
    assert response.status_code == 200
    assert response.json()["created"] == 50 and response.json()["dry_run"] is True
    assert not Staff.objects.exists()


def test_it_refuses_a_messy_list_with_every_bad_row_in_vietnamese(alice, viettel):
    expected = json.loads((FIXTURES / "staff-messy.csv.expect.json").read_text())["bad_rows"]
    response = post_file(api_for(alice), "staff-messy.csv")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_rows"
    assert error["message"].startswith("Danh sách có 10 dòng lỗi nên chưa lưu dòng nào.")
    assert {d["row"] for d in error["details"]} == {int(r) for r in expected}
    phone = next(d for d in error["details"] if d["row"] == 11)
    assert phone["column"] == "phone"
    assert phone["message"].startswith("Số điện thoại không hợp lệ")
    assert not Staff.objects.exists()


def test_it_reports_the_padded_id_numbers_of_an_excel_file_as_warnings(alice, viettel):
    body = post_file(api_for(alice), "staff-vi.xlsx").json()
    assert body["created"] == 40
    warning = body["warnings"][0]
    assert set(warning) >= {"row", "column", "message"} and warning["column"] == "id_number"


def test_an_unreadable_file_gets_one_message(alice, viettel):
    data = {"file": SimpleUploadedFile("list.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100)}
    response = api_for(alice).post("/api/v1/staff/import/", data, format="multipart")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    assert "Excel 97–2003" in error["message"]


def test_a_missing_file_is_a_400_naming_the_field(alice, viettel):
    response = api_for(alice).post("/api/v1/staff/import/", {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "file"


def test_the_list_holds_only_the_own_organisation(alice, bob, viettel, vnpt):
    staff_import(
        actor=alice,
        organization=viettel,
        data=(FIXTURES / "staff-clean.csv").read_bytes(),
        filename="staff-clean.csv",
    )
    assert api_for(bob).get("/api/v1/staff/").json()["count"] == 0
    body = api_for(alice).get("/api/v1/staff/").json()
    assert body["count"] == 50 and body["next"] is None and body["previous"] is None
    first = body["results"][0]
    assert set(first) == STAFF_KEYS
    assert date.fromisoformat(first["date_of_birth"])  # YYYY-MM-DD


def test_the_list_pages_by_fifty(alice, viettel):
    lines = (FIXTURES / "staff-10k.csv").read_text("utf-8-sig").splitlines()[:121]
    staff_import(
        actor=alice, organization=viettel, data="\n".join(lines).encode(), filename="s.csv"
    )
    body = api_for(alice).get("/api/v1/staff/").json()
    assert body["count"] == 120 and len(body["results"]) == 50 and body["next"]


def test_the_list_searches_without_accents(alice, viettel):
    staff_import(
        actor=alice,
        organization=viettel,
        data=(FIXTURES / "staff-clean.csv").read_bytes(),
        filename="staff-clean.csv",
    )
    body = api_for(alice).get("/api/v1/staff/", {"q": "kieu duc"}).json()
    assert [r["full_name"] for r in body["results"]] == ["Kiều Đức Phong"]


@pytest.mark.parametrize("url", ["/api/v1/staff/", "/api/v1/staff/import/"])
def test_other_roles_are_refused(charlie, erin, frank, url):
    for user in (charlie, erin, frank):
        api = api_for(user)
        response = api.get(url) if url.endswith("staff/") else api.post(url)
        assert response.status_code == 403, user.username
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("url", ["/api/v1/staff/", "/api/v1/staff/import/"])
def test_anonymous_callers_must_sign_in(db, url):
    api = APIClient()
    response = api.get(url) if url.endswith("staff/") else api.post(url)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Bạn cần đăng nhập."


def test_a_token_works_for_the_import(alice, viettel):
    from tests.conftest import PASSWORD

    api = APIClient()
    token = api.post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert post_file(api, "staff-clean.csv").status_code == 200
