"""Importing a staff list into the database (permits/services/staff.py), and the name keys."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgs.models import AuditEvent
from permits.models import Staff
from permits.services.staff import (
    ImportReport,
    StaffFileInvalid,
    StaffInvalid,
    StaffListRejected,
    staff_delete,
    staff_import,
    staff_search_key,
    staff_sort_key,
    staff_update,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TODAY = date(2021, 9, 15)  # the lockdown the samples were written for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lockdown_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: TODAY)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def import_file(actor: Any, org: Any, name: str, **kwargs: Any) -> ImportReport:
    return staff_import(
        actor=actor, organization=org, data=fixture_bytes(name), filename=name, **kwargs
    )


def test_it_creates_every_person_of_a_clean_list(alice, viettel):
    report = import_file(alice, viettel, "staff-clean.csv")
    assert (report.rows, report.created, report.updated, report.unchanged) == (50, 50, 0, 0)
    assert Staff.objects.filter(organization=viettel).count() == 50


def test_it_changes_nothing_when_the_same_list_is_imported_again(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    before = {s.pk: s.updated_at for s in Staff.objects.all()}
    report = import_file(alice, viettel, "staff-clean.csv")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 50)
    assert {s.pk: s.updated_at for s in Staff.objects.all()} == before


def test_it_updates_only_the_row_that_changed(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    lines = fixture_bytes("staff-clean.csv").decode("utf-8-sig").splitlines()
    first = lines[1].split(",")
    first[3] = "0912345678"  # a new phone number for the first person
    lines[1] = ",".join(first)
    report = staff_import(
        actor=alice,
        organization=viettel,
        data="\n".join(lines).encode(),
        filename="staff.csv",
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 49)
    assert Staff.objects.get(id_number=first[1]).phone == "0912345678"


def test_it_refuses_a_messy_list_listing_every_bad_row_and_saves_nothing(alice, viettel):
    expected = json.loads(fixture_bytes("staff-messy.csv.expect.json"))["bad_rows"]
    events = AuditEvent.objects.count()
    with pytest.raises(StaffListRejected) as caught:
        import_file(alice, viettel, "staff-messy.csv")
    error = caught.value
    assert (error.status, error.code) == (400, "invalid_rows")
    assert sorted({d["row"] for d in error.details}) == sorted(int(row) for row in expected)
    assert all(set(d) >= {"row", "column", "message"} and d["message"] for d in error.details)
    assert {d["row"]: d["code"] for d in error.details}[11] == "bad_phone"
    assert "10 dòng lỗi" in error.message
    assert not Staff.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_dry_run_reports_the_counts_and_writes_nothing(alice, viettel):
    events = AuditEvent.objects.count()
    report = import_file(alice, viettel, "staff-clean.csv", dry_run=True)
    assert (report.rows, report.created, report.dry_run) == (50, 50, True)
    assert not Staff.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_dry_run_after_an_import_sees_the_stored_rows(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    report = import_file(alice, viettel, "staff-clean.csv", dry_run=True)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 50)


def test_it_imports_a_vietnamese_excel_file_with_its_warnings(alice, viettel):
    report = import_file(alice, viettel, "staff-vi.xlsx")
    assert (report.rows, report.created) == (40, 40)
    # Excel dropped the leading zeros of every CCCD; each was padded back with a warning.
    assert len(report.warnings) == 40
    assert all(len(s.id_number) == 12 for s in Staff.objects.all())


def test_it_refuses_an_unreadable_file_with_one_clear_message(alice, viettel):
    with pytest.raises(StaffFileInvalid) as caught:
        staff_import(actor=alice, organization=viettel, data=b"\x89PNG....", filename="scan.png")
    assert caught.value.status == 400
    assert caught.value.code == "invalid_file"
    assert "không phải danh sách" in caught.value.message


def test_the_same_list_goes_to_each_organisation_separately(alice, bob, viettel, vnpt):
    import_file(alice, viettel, "staff-clean.csv")
    report = import_file(bob, vnpt, "staff-clean.csv")
    assert report.created == 50
    assert Staff.objects.filter(organization=vnpt).count() == 50


def test_it_records_one_audit_event_with_counts_and_no_personal_data(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    event = AuditEvent.objects.filter(action="staff.import").get()
    assert event.actor_username == "alice"
    assert event.details == {"rows": 50, "created": 50, "updated": 0, "unchanged": 0, "warnings": 0}
    person = Staff.objects.first()
    assert person is not None
    assert person.id_number not in json.dumps(event.details)


def test_an_import_takes_a_fixed_number_of_queries_whatever_the_size(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    with CaptureQueriesContext(connection) as reimport:
        import_file(alice, viettel, "staff-clean.csv")
    # lock the organisation, read its staff, and the audit event (lock head, insert, save head)
    assert len(reimport.captured_queries) <= 10


def test_it_stores_accent_free_search_text_and_a_sort_key(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    person = Staff.objects.get(id_number="001091426538")  # Kiều Đức Phong
    assert person.search_text == "kieu duc phong"
    assert person.sort_key == staff_sort_key("Kiều Đức Phong")


@pytest.mark.usefixtures("on_postgres")
def test_one_bad_row_among_ten_thousand_saves_nothing_on_postgres(alice, viettel):
    lines = fixture_bytes("staff-10k.csv").decode("utf-8-sig").splitlines()
    cells = lines[7777].split(",")
    cells[3] = "12345"  # not a phone number
    lines[7777] = ",".join(cells)
    with pytest.raises(StaffListRejected) as caught:
        staff_import(
            actor=alice,
            organization=viettel,
            data="\n".join(lines).encode(),
            filename="staff-10k.csv",
        )
    assert [(d["row"], d["column"]) for d in caught.value.details] == [(7778, "phone")]
    assert not Staff.objects.exists()


@pytest.mark.usefixtures("on_postgres")
def test_ten_thousand_rows_import_and_reimport_on_postgres(alice, viettel):
    report = import_file(alice, viettel, "staff-10k.csv")
    assert report.created == 10_000
    again = import_file(alice, viettel, "staff-10k.csv")
    assert again.unchanged == 10_000
    assert Staff.objects.filter(organization=viettel).count() == 10_000


# --- one person -------------------------------------------------------------------------------


def person_data(staff: Staff, **changes: str) -> dict[str, str]:
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


def test_an_edit_normalises_like_the_import_and_refreshes_the_keys(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    person = Staff.objects.get(id_number="001091426538")
    data = person_data(person, full_name="  Kiều  Đức Phóng ", phone="+84 912.345.678")
    updated = staff_update(actor=alice, staff=person, data=data)
    assert (updated.full_name, updated.phone) == ("Kiều Đức Phóng", "0912345678")
    assert updated.search_text == "kieu duc phong"
    assert updated.sort_key == staff_sort_key("Kiều Đức Phóng")
    event = AuditEvent.objects.filter(action="staff.update").get()
    assert event.details["fields"] == ["full_name", "phone"]


def test_an_edit_refuses_each_bad_field(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    person = Staff.objects.get(id_number="001091426538")
    with pytest.raises(StaffInvalid) as caught:
        staff_update(
            actor=alice, staff=person, data=person_data(person, phone="123", full_name="=cmd()")
        )
    assert [d["column"] for d in caught.value.details] == ["full_name", "phone"]
    person.refresh_from_db()
    assert person.phone == "0374261324"


def test_an_edit_refuses_an_id_number_another_person_holds(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    person = Staff.objects.get(id_number="001091426538")
    data = person_data(person, id_number="001091653397", date_of_birth="28/02/1991")
    with pytest.raises(StaffInvalid) as caught:
        staff_update(actor=alice, staff=person, data=data)
    assert caught.value.details[0]["column"] == "id_number"


def test_removing_a_person_is_audited(alice, viettel):
    import_file(alice, viettel, "staff-clean.csv")
    person = Staff.objects.get(id_number="001091426538")
    staff_delete(actor=alice, staff=person)
    assert not Staff.objects.filter(pk=person.pk).exists()
    assert AuditEvent.objects.filter(action="staff.delete", object_id=str(person.pk)).exists()


# --- keys -------------------------------------------------------------------------------------


def test_the_search_key_drops_accents_case_and_extra_spaces():
    assert staff_search_key("  NGUYỄN  Văn Ân ") == "nguyen van an"
    assert staff_search_key("Đặng Đức") == "dang duc"


def test_names_sort_by_given_name_in_vietnamese_order():
    names = [
        "Lê Thị Bình",
        "Nguyễn Văn An",
        "Trần Đức",
        "Phạm Văn Dũng",
        "Hồ Anh",
        "Vũ Thị Ân",
        "Bùi Ăn",
        "Lê Án",
        "Đỗ An",
    ]
    assert sorted(names, key=staff_sort_key) == [
        "Đỗ An",  # same given name: then the surname, Đỗ < Nguyễn
        "Nguyễn Văn An",
        "Lê Án",  # a tone sorts after the plain letter
        "Hồ Anh",  # An < Anh even with tones
        "Bùi Ăn",  # a < ă < â
        "Vũ Thị Ân",
        "Lê Thị Bình",
        "Phạm Văn Dũng",
        "Trần Đức",  # d < đ
    ]


def test_the_sort_key_orders_tones_as_dictionaries_do():
    tones = ["Ma", "Mà", "Mả", "Mã", "Má", "Mạ"]
    assert sorted(reversed(tones), key=staff_sort_key) == tones


def test_the_sort_key_is_the_same_for_nfc_and_nfd_names():
    import unicodedata

    name = "Nguyễn Thị Thu Hương"
    assert staff_sort_key(unicodedata.normalize("NFD", name)) == staff_sort_key(name)


def test_the_sort_key_uses_only_characters_every_database_collation_orders_alike():
    key = staff_sort_key("Nguyễn Thị Thu Hương")
    assert key.isascii() and key.isalnum() and key == key.lower()
