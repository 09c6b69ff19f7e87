"""The HR clerk's staff pages: list, search, sort, pages, import preview, edit, remove, XLSX."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from permits.models import Staff
from permits.services.staff import staff_import
from permits.staff_list import FIELDS, StaffListInvalid, parse_staff_file
from tests.conftest import client_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TODAY = date(2021, 9, 15)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lockdown_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: TODAY)


@pytest.fixture(autouse=True)
def upload_storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def person(name: str, id_number: str, dob: str, **extra: str) -> dict[str, str]:
    return {
        "full_name": name,
        "id_number": id_number,
        "date_of_birth": dob,
        "phone": extra.pop("phone", "0912345678"),
        **extra,
    }


PEOPLE = [
    person("Lê Thị Bình", "001190123456", "02/03/1990"),
    person("Nguyễn Văn An", "001085029902", "15/05/1985"),
    person("Trần Đức", "001080000001", "01/01/1980"),
    person("Phạm Văn Dũng", "001095000002", "01/01/1995"),
    person("Nguyễn Thị Hoa", "001170000003", "01/01/1970"),
]


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def add_staff(actor: Any, org: Any, rows: list[dict[str, str]] = PEOPLE) -> None:
    staff_import(actor=actor, organization=org, data=csv_bytes(rows), filename="staff.csv")


def names_on(response: Any) -> list[str]:
    return [s.full_name for s in response.context["page"].object_list]


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else (FIXTURES / name).read_bytes())


# --- the list ---------------------------------------------------------------------------------


def test_it_lists_only_the_clerks_own_staff(alice, bob, viettel, vnpt):
    add_staff(alice, viettel)
    add_staff(bob, vnpt, [person("Hoàng Văn Bưu", "001088000009", "01/01/1988")])
    response = client_for(bob).get("/staff/")
    assert response.status_code == 200
    assert names_on(response) == ["Hoàng Văn Bưu"]


def test_it_sorts_names_in_vietnamese_order_by_given_name(alice, viettel):
    add_staff(alice, viettel)
    names = names_on(client_for(alice).get("/staff/"))
    assert names == ["Nguyễn Văn An", "Lê Thị Bình", "Phạm Văn Dũng", "Trần Đức", "Nguyễn Thị Hoa"]
    reverse = names_on(client_for(alice).get("/staff/?order=-name"))
    assert reverse == names[::-1]


def test_it_sorts_by_id_number_and_by_date_of_birth(alice, viettel):
    add_staff(alice, viettel)
    by_id = client_for(alice).get("/staff/?order=id_number").context["page"].object_list
    assert [s.id_number for s in by_id] == sorted(p["id_number"] for p in PEOPLE)
    by_dob = client_for(alice).get("/staff/?order=-date_of_birth").context["page"].object_list
    assert [s.full_name for s in by_dob][:2] == ["Phạm Văn Dũng", "Lê Thị Bình"]


def test_an_unknown_order_falls_back_to_names(alice, viettel):
    add_staff(alice, viettel)
    response = client_for(alice).get("/staff/?order=password")
    assert response.status_code == 200
    assert names_on(response)[0] == "Nguyễn Văn An"


def test_search_ignores_accents_and_case(alice, viettel):
    add_staff(alice, viettel)
    assert names_on(client_for(alice).get("/staff/?q=nguyen van")) == ["Nguyễn Văn An"]
    assert names_on(client_for(alice).get("/staff/?q=NGUYỄN")) == [
        "Nguyễn Văn An",
        "Nguyễn Thị Hoa",
    ]
    assert names_on(client_for(alice).get("/staff/?q=duc")) == ["Trần Đức"]


def test_search_finds_an_id_number_by_its_first_digits(alice, viettel):
    add_staff(alice, viettel)
    assert names_on(client_for(alice).get("/staff/?q=0010850")) == ["Nguyễn Văn An"]


def test_it_pages_fifty_people_at_a_time(alice, viettel):
    rows = list(csv.DictReader(io.StringIO((FIXTURES / "staff-10k.csv").read_text("utf-8-sig"))))
    add_staff(alice, viettel, rows[:120])
    first = client_for(alice).get("/staff/")
    assert len(first.context["page"].object_list) == 50
    assert "Trang 1 / 3" in first.content.decode()
    last = client_for(alice).get("/staff/?page=3")
    assert len(last.context["page"].object_list) == 20
    seen = set()
    for number in (1, 2, 3):
        page = client_for(alice).get(f"/staff/?page={number}").context["page"]
        seen |= {s.pk for s in page.object_list}
    assert len(seen) == 120


def test_the_list_page_takes_the_same_queries_for_five_or_fifty_people(
    alice, viettel, django_assert_max_num_queries
):
    rows = list(csv.DictReader(io.StringIO((FIXTURES / "staff-10k.csv").read_text("utf-8-sig"))))
    add_staff(alice, viettel, rows[:60])
    client = client_for(alice)
    client.get("/staff/")  # warm the session
    with django_assert_max_num_queries(8):  # session, user, roles, count, org, rows
        response = client.get("/staff/")
    assert len(response.context["page"].object_list) == 50


# --- import with a preview --------------------------------------------------------------------


def test_checking_a_messy_file_lists_every_bad_row_and_saves_nothing(alice, viettel):
    response = client_for(alice).post(
        "/staff/import/", {"action": "check", "file": upload("staff-messy.csv")}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "10 dòng lỗi" in page
    shown_rows = {e["row"] for e in response.context["errors"]}
    assert shown_rows == {5, 6, 11, 16, 19, 29, 41, 44, 45, 53}
    assert "Số điện thoại không hợp lệ" in page
    assert not Staff.objects.exists()
    assert 'value="import"' not in page  # no way to import a refused file


def test_checking_a_clean_file_previews_the_counts_without_saving(alice, viettel):
    response = client_for(alice).post(
        "/staff/import/", {"action": "check", "file": upload("staff-clean.csv")}
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.created, report.updated, report.unchanged) == (50, 0, 0)
    assert 'data-count="created">50<' in response.content.decode()
    assert not Staff.objects.exists()


def test_importing_after_the_check_saves_the_checked_file_once(alice, viettel):
    client = client_for(alice)
    check = client.post("/staff/import/", {"action": "check", "file": upload("staff-clean.csv")})
    token = check.context["token"]
    response = client.post("/staff/import/", {"action": "import", "token": token})
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert Staff.objects.filter(organization=viettel).count() == 50
    listing = client.get("/staff/").content.decode()
    assert "50 người mới" in listing
    again = client.post("/staff/import/", {"action": "import", "token": token})
    assert again.status_code == 400
    assert "Không còn tệp đã kiểm tra" in again.content.decode()


def test_it_refuses_to_import_a_file_checked_in_another_session(alice, viettel):
    check = client_for(alice).post(
        "/staff/import/", {"action": "check", "file": upload("staff-clean.csv")}
    )
    other = client_for(alice).post(
        "/staff/import/", {"action": "import", "token": check.context["token"]}
    )
    assert other.status_code == 400
    assert not Staff.objects.exists()


def test_checking_an_excel_file_shows_its_warnings(alice, viettel):
    response = client_for(alice).post(
        "/staff/import/", {"action": "check", "file": upload("staff-vi.xlsx")}
    )
    assert response.status_code == 200
    assert len(response.context["warnings"]) == 40
    assert "bị mất số 0 ở đầu" in response.content.decode()


def test_a_picture_instead_of_a_list_gets_one_clear_message(alice, viettel):
    response = client_for(alice).post(
        "/staff/import/", {"action": "check", "file": upload("scan.jpg", b"\xff\xd8\xff\xe0 jpeg")}
    )
    assert response.status_code == 400
    assert "không phải danh sách dạng CSV hay Excel" in response.content.decode()


def test_checking_without_a_file_asks_for_one(alice, viettel):
    response = client_for(alice).post("/staff/import/", {"action": "check"})
    assert response.status_code == 400
    assert "Hãy chọn tệp danh sách nhân sự." in response.content.decode()


# --- one person -------------------------------------------------------------------------------


def staff_named(name: str) -> Staff:
    return Staff.objects.get(full_name=name)


def form_of(staff: Staff, **changes: str) -> dict[str, str]:
    data = {
        "full_name": staff.full_name,
        "id_number": staff.id_number,
        "date_of_birth": staff.date_of_birth.strftime("%d/%m/%Y"),
        "phone": staff.phone,
        "job_title": staff.job_title,
        "home_address": staff.home_address,
        "vehicle_plate": staff.vehicle_plate,
    }
    return {**data, **changes}


def test_the_edit_form_shows_the_stored_values_with_dates_as_dd_mm_yyyy(alice, viettel):
    add_staff(alice, viettel)
    an = staff_named("Nguyễn Văn An")
    page = client_for(alice).get(f"/staff/{an.pk}/").content.decode()
    assert 'value="15/05/1985"' in page and 'value="001085029902"' in page


def test_an_edit_saves_normalised_values(alice, viettel):
    add_staff(alice, viettel)
    an = staff_named("Nguyễn Văn An")
    data = form_of(an, phone="+84 987.654.321", vehicle_plate="29a 123 45")
    response = client_for(alice).post(f"/staff/{an.pk}/", data)
    assert response.status_code == 302
    an.refresh_from_db()
    assert (an.phone, an.vehicle_plate) == ("0987654321", "29A12345")


def test_an_edit_shows_each_validation_error_under_its_field(alice, viettel):
    add_staff(alice, viettel)
    an = staff_named("Nguyễn Văn An")
    data = form_of(an, phone="12345", date_of_birth="31/02/1985")
    response = client_for(alice).post(f"/staff/{an.pk}/", data)
    assert response.status_code == 400
    form = response.context["form"]
    assert "Số điện thoại không hợp lệ" in form.errors["phone"][0]
    assert "Ngày sinh không hợp lệ" in form.errors["date_of_birth"][0]
    assert "Số điện thoại không hợp lệ" in response.content.decode()
    an.refresh_from_db()
    assert an.phone == "0912345678"


def test_an_edit_refuses_an_id_number_another_person_holds(alice, viettel):
    add_staff(alice, viettel)
    an = staff_named("Nguyễn Văn An")
    data = form_of(an, id_number="001190123456", date_of_birth="02/03/1990")
    response = client_for(alice).post(f"/staff/{an.pk}/", data)
    assert response.status_code == 400
    assert "đã có trong danh sách" in response.context["form"].errors["id_number"][0]


def test_removing_asks_for_confirmation_and_needs_a_post(alice, viettel):
    add_staff(alice, viettel)
    an = staff_named("Nguyễn Văn An")
    client = client_for(alice)
    confirm = client.get(f"/staff/{an.pk}/delete/")
    assert confirm.status_code == 200
    assert "Xoá khỏi danh sách nhân sự?" in confirm.content.decode()
    assert Staff.objects.filter(pk=an.pk).exists()
    response = client.post(f"/staff/{an.pk}/delete/")
    assert response.status_code == 302
    assert not Staff.objects.filter(pk=an.pk).exists()


@pytest.mark.parametrize("suffix", ["", "delete/"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organisations_staff_is_not_found(alice, bob, viettel, vnpt, suffix, method):
    add_staff(bob, vnpt)
    theirs = Staff.objects.filter(organization=vnpt).first()
    assert theirs is not None
    response = getattr(client_for(alice), method)(f"/staff/{theirs.pk}/{suffix}")
    missing = getattr(client_for(alice), method)(f"/staff/999999/{suffix}")
    assert response.status_code == missing.status_code == 404
    assert Staff.objects.filter(pk=theirs.pk).exists()


def test_a_reviewer_cannot_open_the_staff_pages(charlie):
    assert client_for(charlie).get("/staff/").status_code == 403


# --- spreadsheets -----------------------------------------------------------------------------


def test_the_export_reads_back_through_the_import_parser(alice, viettel):
    staff_import(
        actor=alice,
        organization=viettel,
        data=(FIXTURES / "staff-clean.csv").read_bytes(),
        filename="staff-clean.csv",
    )
    response = client_for(alice).get("/staff/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    parsed = parse_staff_file(response.content, "export.xlsx", today=TODAY)
    assert not parsed.errors and not parsed.warnings
    exported = {
        r.id_number: (r.full_name, r.date_of_birth, r.phone, r.vehicle_plate) for r in parsed.rows
    }
    stored = {
        s.id_number: (s.full_name, s.date_of_birth, s.phone, s.vehicle_plate)
        for s in Staff.objects.filter(organization=viettel)
    }
    assert exported == stored and len(exported) == 50


def test_the_export_holds_only_the_own_organisation_and_the_search(alice, bob, viettel, vnpt):
    add_staff(alice, viettel)
    add_staff(bob, vnpt, [person("Hoàng Văn Bưu", "001088000009", "01/01/1988")])
    response = client_for(alice).get("/staff/export.xlsx?q=nguyen")
    parsed = parse_staff_file(response.content, "export.xlsx", today=TODAY)
    assert sorted(r.full_name for r in parsed.rows) == ["Nguyễn Thị Hoa", "Nguyễn Văn An"]


def test_the_export_defuses_cells_that_look_like_formulas(alice, viettel):
    add_staff(alice, viettel)
    # Data stored before the import refused formulas (the import cannot store one now).
    Staff.objects.filter(full_name="Nguyễn Văn An").update(home_address="=HYPERLINK(1)")
    response = client_for(alice).get("/staff/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    addresses = [row[5].value for row in sheet.iter_rows(min_row=2)]
    assert "'=HYPERLINK(1)" in addresses
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_the_template_is_a_header_only_list_with_an_example_on_a_second_sheet(alice):
    response = client_for(alice).get("/staff/template.xlsx")
    assert response.status_code == 200
    with pytest.raises(StaffListInvalid) as caught:
        parse_staff_file(response.content, "template.xlsx", today=TODAY)
    assert caught.value.code == "no_rows"  # the header was found; there is nobody to import
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    header = [c.value for c in workbook.worksheets[0][1]]
    assert header == [
        "Họ và tên",
        "Số CCCD/CMND",
        "Ngày sinh",
        "Số điện thoại",
        "Chức vụ",
        "Địa chỉ nơi ở",
        "Biển số xe",
    ]
    # The example row obeys every rule: moved onto the first sheet, it imports cleanly.
    example = workbook.worksheets[1]
    workbook.remove(workbook.worksheets[0])
    for row in list(example.iter_rows(min_row=3)):
        for cell in row:
            cell.value = None
    out = io.BytesIO()
    workbook.save(out)
    parsed = parse_staff_file(out.getvalue(), "example.xlsx", today=TODAY)
    assert [r.full_name for r in parsed.rows] == ["Nguyễn Văn An"] and not parsed.errors


def test_the_list_links_to_import_export_and_template(alice, viettel):
    page = client_for(alice).get("/staff/").content.decode()
    for url in ("/staff/import/", "/staff/export.xlsx", "/staff/template.xlsx"):
        assert re.search(rf'href="{re.escape(url)}', page), url
