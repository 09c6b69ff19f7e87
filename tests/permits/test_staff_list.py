"""The staff-list parser (contract.md §5) and the field normalisers it shares with the forms."""

from __future__ import annotations

import ast
import codecs
import csv
import io
import json
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permits.normalize import (
    FieldError,
    looks_like_formula,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    normalize_plate,
    parse_date,
)
from permits.staff_list import (
    FIELDS,
    ParseResult,
    RowIssue,
    StaffListInvalid,
    StaffRow,
    parse_staff_file,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TODAY = date(2021, 9, 15)  # the lockdown the samples were written for

HEADER = list(FIELDS)
# A valid person: CCCD 001 (Hà Nội), 0 = man born in the 1900s, 85 = born 1985.
GOOD = {
    "full_name": "Nguyễn Văn An",
    "id_number": "001085029902",
    "date_of_birth": "15/05/1985",
    "phone": "0912345678",
    "job_title": "Lái xe",
    "home_address": "Số 1 Láng Hạ, Đống Đa, Hà Nội",
    "vehicle_plate": "29A-123.45",
}
SECOND = {
    **GOOD,
    "full_name": "Trần Thị Bình",
    "id_number": "001190123456",
    "date_of_birth": "02/03/1990",
    "phone": "0987654321",
    "vehicle_plate": "",
}


def csv_text(rows: list[list[str]], *, header: list[str] | None = None, sep: str = ",") -> str:
    """What Excel writes: CRLF lines, cells quoted only when they need it."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\r\n").writerows([header or HEADER, *rows])
    return buffer.getvalue()


def person(**overrides: str) -> list[str]:
    return [{**GOOD, **overrides}[name] for name in FIELDS]


def parse(data: bytes, filename: str = "staff.csv", **limits: int) -> ParseResult:
    return parse_staff_file(data, filename, today=TODAY, **limits)


def parse_rows(*rows: list[str], **limits: int) -> ParseResult:
    return parse(csv_text(list(rows)).encode(), **limits)


def issues(found: list[RowIssue]) -> list[tuple[int, str, str]]:
    return [(i.row, i.column, i.code) for i in found]


def refusal(data: bytes, filename: str = "staff.csv", **limits: int) -> StaffListInvalid:
    with pytest.raises(StaffListInvalid) as caught:
        parse(data, filename, **limits)
    assert caught.value.message == str(caught.value)
    return caught.value


# --- the shared samples -----------------------------------------------------------------------


def test_it_reads_the_clean_sample() -> None:
    result = parse((FIXTURES / "staff-clean.csv").read_bytes(), "staff-clean.csv")
    assert (len(result.rows), result.errors, result.warnings) == (50, [], [])
    assert [r.row for r in result.rows] == list(range(2, 52))
    assert result.rows[0] == StaffRow(
        row=2,
        full_name="Bùi Công Phong",  # the UTF-8 BOM is not part of the first header
        id_number="079084199126",
        date_of_birth=date(1984, 10, 12),
        phone="0988588401",
        job_title="Nhân viên bưu tá",
        home_address="Số 47 Phạm Văn Đồng, Bắc Từ Liêm, Hà Nội",
        vehicle_plate="29E841018",
    )


MESSY_REFUSED = [
    (5, "id_number", "dup_id"),
    (6, "id_number", "dup_id"),
    (11, "phone", "bad_phone"),
    (16, "full_name", "empty_name"),
    (19, "id_number", "dob_mismatch"),
    (29, "date_of_birth", "future_dob"),
    (41, "id_number", "bad_province"),
    (44, "id_number", "short_id"),
    (45, "full_name", "formula"),
    (53, "date_of_birth", "bad_date"),
]


def test_it_refuses_exactly_the_rows_the_messy_sample_expects() -> None:
    expect = json.loads((FIXTURES / "staff-messy.csv.expect.json").read_text())["bad_rows"]
    result = parse((FIXTURES / "staff-messy.csv").read_bytes(), "staff-messy.csv")

    assert issues(result.errors) == MESSY_REFUSED
    assert sorted(int(row) for row in expect) == result.bad_rows
    for row, _column, code in MESSY_REFUSED:
        assert expect[str(row)] in (code, "duplicate id_number")
    assert len(result.rows) == 60 - 10
    assert not {r.row for r in result.rows} & set(result.bad_rows)


def test_it_repairs_every_other_fault_of_the_messy_sample() -> None:
    result = parse((FIXTURES / "staff-messy.csv").read_bytes(), "staff-messy.csv")
    by_row = {r.row: r for r in result.rows}

    assert by_row[25].phone == "0592293431"  # typed 0592.293.431
    assert by_row[50].phone == "0943961688"  # typed 0943.961.688
    assert by_row[2].vehicle_plate == "40D67100"  # 40D-671.00
    assert by_row[4].vehicle_plate == "29S778476"  # 29-S7 784.76
    assert by_row[15].vehicle_plate == ""
    assert by_row[51].id_number == "001065399807"  # 1065399807: Excel ate two zeros
    assert by_row[52].id_number == "001303774304"
    assert issues(result.warnings) == [
        (51, "id_number", "padded_id"),
        (52, "id_number", "padded_id"),
    ]
    assert "001065399807" in result.warnings[0].message
    for row in result.rows:
        assert unicodedata.is_normalized("NFC", row.full_name)


def test_it_reads_the_excel_sample_with_numeric_ids_and_date_cells() -> None:
    result = parse((FIXTURES / "staff-vi.xlsx").read_bytes(), "staff-vi.xlsx")
    assert (len(result.rows), result.errors) == (40, [])
    first = result.rows[0]
    assert (first.row, first.id_number, first.date_of_birth) == (
        2,
        "001300672092",
        date(2000, 12, 28),
    )
    assert first.phone == "0982184612"
    assert result.rows[1].vehicle_plate == ""  # an empty cell
    assert all(len(r.id_number) == 12 and r.id_number.startswith("0") for r in result.rows)
    assert {w.code for w in result.warnings} == {"padded_id"}
    assert len(result.warnings) == 40


def test_it_parses_ten_thousand_rows() -> None:
    # Speed is measured in bench/import_staff.py, never asserted here.
    result = parse((FIXTURES / "staff-10k.csv").read_bytes(), "staff-10k.csv")
    assert (len(result.rows), result.errors) == (10_000, [])


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        HEADER,
        [
            "Họ và tên",
            "Số CCCD/CMND",
            "Ngày sinh",
            "Số điện thoại",
            "Chức vụ",
            "Địa chỉ nơi ở",
            "Biển số xe",
        ],
        [
            "  HỌ VÀ TÊN ",
            "số  cccd / cmnd",
            "NGAY SINH",
            "Sđt",
            "chức vụ",
            "ĐỊA CHỈ NƠI Ở",
            "Biển Số",
        ],
        [
            "Full Name",
            "ID Number",
            "Date of birth",
            "PHONE",
            "Job title",
            "Home address",
            "Vehicle plate",
        ],
        ["Họ tên", "CCCD", "Ngày sinh", "SĐT", "Chức danh", "Địa chỉ", "BKS"],
        [
            "Họ và tên (*)",
            "Số CCCD/CMND (12 số)",
            "Ngày sinh [dd/mm/yyyy]",
            "Số điện thoại (*)",
            "Chức vụ",
            "Địa chỉ nơi ở",
            "Biển số xe (nếu có)",
        ],
        [unicodedata.normalize("NFD", h) for h in ["Họ và tên", "Số CCCD/CMND", "Ngày sinh"]]
        + [
            unicodedata.normalize("NFD", h)
            for h in ["Số điện thoại", "Chức vụ", "Địa chỉ nơi ở", "Biển số xe"]
        ],
    ],
    ids=["english", "vietnamese", "mixed-case", "english-words", "variants", "hints", "nfd"],
)
def test_it_maps_english_and_vietnamese_headers(header: list[str]) -> None:
    result = parse(csv_text([person()], header=header).encode())
    assert result.errors == []
    assert result.rows[0].full_name == "Nguyễn Văn An"
    assert result.rows[0].vehicle_plate == "29A12345"


def test_it_reads_columns_in_any_order_and_ignores_unknown_ones() -> None:
    header = ["STT", "Số điện thoại", "Ghi chú", "Ngày sinh", "Họ và tên", "Số CCCD/CMND"]
    row = ["1", "0912345678", "F0 đã khỏi", "15/05/1985", "Nguyễn Văn An", "001085029902"]
    result = parse(csv_text([row], header=header).encode())
    assert result.errors == []
    assert result.rows[0] == StaffRow(
        row=2,
        full_name="Nguyễn Văn An",
        id_number="001085029902",
        date_of_birth=date(1985, 5, 15),
        phone="0912345678",
        job_title="",
        home_address="",
        vehicle_plate="",
    )


def test_it_names_the_missing_required_columns() -> None:
    header = ["Họ và tên", "Ngày sinh", "Chức vụ"]
    error = refusal(csv_text([["Nguyễn Văn An", "15/05/1985", "Lái xe"]], header=header).encode())
    assert error.code == "missing_columns"
    assert "Số CCCD/CMND" in error.message and "Số điện thoại" in error.message
    assert "Họ và tên" not in error.message


def test_it_refuses_a_file_without_a_header() -> None:
    error = refusal(csv_text([person()], header=["a", "b", "c", "d", "e", "f", "g"]).encode())
    assert error.code == "no_header"


def test_it_refuses_a_column_given_twice() -> None:
    header = [*HEADER, "Họ tên"]
    error = refusal(csv_text([[*person(), "X"]], header=header).encode())
    assert error.code == "duplicate_column"
    assert "Họ và tên" in error.message


def test_it_finds_the_header_below_a_title_and_keeps_excel_row_numbers() -> None:
    text = "DANH SÁCH NHÂN VIÊN ĐI LÀM,,,,,,\r\n,,,,,,\r\n" + csv_text([person()])
    result = parse(text.encode())
    assert [r.row for r in result.rows] == [4]


# --- encodings and delimiters -----------------------------------------------------------------


def test_it_reads_utf16_tab_separated_text_as_excel_saves_it() -> None:
    text = csv_text([person(), [SECOND[name] for name in FIELDS]], sep="\t")
    assert "," in text  # the addresses keep their commas; the tab still wins
    result = parse(text.encode("utf-16"), "staff.txt")  # BOM + little-endian
    assert result.errors == []
    assert [r.full_name for r in result.rows] == ["Nguyễn Văn An", "Trần Thị Bình"]
    assert result.rows[0].home_address == "Số 1 Láng Hạ, Đống Đa, Hà Nội"


def test_it_reads_big_endian_and_bomless_utf16() -> None:
    text = csv_text([person()], sep="\t")
    for data in (codecs.BOM_UTF16_BE + text.encode("utf-16-be"), text.encode("utf-16-le")):
        assert parse(data).rows[0].full_name == "Nguyễn Văn An"


def test_it_reads_a_semicolon_file() -> None:
    result = parse(csv_text([person(), [SECOND[n] for n in FIELDS]], sep=";").encode("utf-8-sig"))
    assert result.errors == []
    assert result.rows[1].id_number == "001190123456"
    assert result.rows[0].home_address == "Số 1 Láng Hạ, Đống Đa, Hà Nội"


def test_it_obeys_excels_sep_line_and_does_not_count_it() -> None:
    text = "sep=;\r\n" + csv_text([person()], sep=";")
    assert [r.row for r in parse(text.encode()).rows] == [2]


def test_it_counts_a_cell_with_a_line_break_as_one_excel_row() -> None:
    result = parse_rows(person(home_address="Số 1 Láng Hạ\nĐống Đa"), person(id_number="123456789"))
    assert [r.row for r in result.rows] == [2, 3]
    assert result.rows[0].home_address == "Số 1 Láng Hạ Đống Đa"


# --- file-level refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \r\n", codecs.BOM_UTF8, b",,,,,,\r\n,,,\r\n"])
def test_it_refuses_an_empty_file(data: bytes) -> None:
    assert refusal(data).code == "empty"


def test_it_refuses_a_header_only_file() -> None:
    error = refusal((",".join(HEADER) + "\r\n,,,,,,\r\n\r\n").encode())
    assert error.code == "no_rows"
    assert error.message == "Tệp không có dòng nhân viên nào."


def test_it_refuses_a_png_renamed_csv() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    error = refusal(png, "danh-sach.csv")
    assert error.code == "unsupported_type"
    assert "danh-sach.csv" in error.message


def test_it_refuses_an_xlsx_that_is_a_zip_of_something_else() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    assert refusal(buffer.getvalue(), "staff.xlsx").code == "bad_xlsx"
    assert refusal(buffer.getvalue(), "staff.csv").code == "bad_xlsx"  # detected by content


def test_it_refuses_a_truncated_xlsx() -> None:
    assert refusal(b"PK\x03\x04" + b"\x00" * 200, "staff.xlsx").code == "bad_xlsx"


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (bytes(range(256)) * 8, "staff.csv", "not_text"),
        (
            "Nguy\u1ec5n;0912".encode("cp1258", errors="replace") + b"\xff\xfe\xfd",
            "a.csv",
            "not_text",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "unsupported_type"),
        (csv_text([person()]).encode(), "staff.xlsx", "unsupported_type"),
    ],
    ids=["garbage", "not-utf8", "old-xls", "text-named-xlsx"],
)
def test_it_refuses_what_is_not_a_staff_list(data: bytes, filename: str, code: str) -> None:
    assert refusal(data, filename).code == code


def test_it_tells_an_old_or_password_protected_excel_file_apart() -> None:
    error = refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "staff.xlsx")
    assert "mật khẩu" in error.message and ".xls" in error.message


def test_it_refuses_a_file_over_the_byte_limit_before_parsing() -> None:
    data = csv_text([person()]).encode()
    assert parse(data, max_bytes=len(data)).rows
    error = refusal(data + b" ", max_bytes=len(data))
    assert error.code == "too_big"
    assert refusal(b"\x89PNG" * 100, max_bytes=10).code == "too_big"  # before sniffing anything


def test_it_refuses_more_rows_than_the_limit_but_not_blank_ones() -> None:
    rows = [person(id_number=f"00108502990{i}") for i in range(3)]
    data = (csv_text(rows) + ",,,,,,\r\n" * 5).encode()
    assert len(parse(data, max_rows=3).rows) == 3
    error = refusal(csv_text([*rows, person(id_number="001085029909")]).encode(), max_rows=3)
    assert error.code == "too_many_rows"


# --- rows -------------------------------------------------------------------------------------


def test_it_skips_blank_rows_but_counts_them_like_excel() -> None:
    text = csv_text([person(), ["", "", "", "", "", "", ""], person(id_number="123456789")])
    text += "\r\n\r\n,,,,,,\r\n"
    result = parse(text.encode())
    assert ([r.row for r in result.rows], result.errors) == ([2, 4], [])


def test_it_ignores_rows_filled_only_in_unknown_columns() -> None:
    header = ["STT", *HEADER]
    text = csv_text([["1", *person()], ["2", "", "", "", "", "", "", ""], ["3"]], header=header)
    assert [r.row for r in parse(text.encode()).rows] == [2]


def test_it_reports_every_bad_cell_sorted_by_row_then_column() -> None:
    result = parse_rows(
        person(phone="12345", full_name="Nguyễn 2", vehicle_plate="XYZ"),
        person(id_number="123456789"),
        person(id_number="123", date_of_birth="31/02/1990", job_title="=cmd|' /C calc'!A0"),
    )
    assert issues(result.errors) == [
        (2, "full_name", "bad_name"),
        (2, "phone", "bad_phone"),
        (2, "vehicle_plate", "bad_plate"),
        (4, "id_number", "short_id"),
        (4, "date_of_birth", "bad_date"),
        (4, "job_title", "formula"),
    ]
    assert [r.row for r in result.rows] == [3]


def test_it_refuses_both_rows_of_a_duplicate_id_even_when_padded_differently() -> None:
    result = parse_rows(
        person(),
        person(id_number="1085029902", full_name="Nguyễn Văn Bình"),  # the same CCCD, zeros lost
        person(id_number="123456789"),
    )
    assert issues(result.errors) == [(2, "id_number", "dup_id"), (3, "id_number", "dup_id")]
    assert "dòng 3" in result.errors[0].message and "dòng 2" in result.errors[1].message
    assert [r.row for r in result.rows] == [4]
    assert result.warnings == []  # the padding warning of a refused row is noise


def test_it_refuses_a_duplicate_whose_twin_has_another_error() -> None:
    result = parse_rows(person(), person(phone="12"))
    assert issues(result.errors) == [
        (2, "id_number", "dup_id"),
        (3, "id_number", "dup_id"),
        (3, "phone", "bad_phone"),
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("full_name", '=HYPERLINK("http://x.invalid","x")'),
        ("full_name", "@SUM(A1)"),
        ("id_number", "=001085029902"),
        ("date_of_birth", "=DATE(1985,5,15)"),
        ("phone", "-0912345678+1"),
        ("job_title", "+cmd"),
        ("home_address", "  =1+1"),
        ("vehicle_plate", "@29A12345"),
    ],
)
def test_it_refuses_a_formula_in_any_column(column: str, value: str) -> None:
    result = parse_rows(person(**{column: value}))
    assert issues(result.errors) == [(2, column, "formula")]


def test_it_does_not_take_an_international_phone_for_a_formula() -> None:
    assert parse_rows(person(phone="+84 912 345 678")).rows[0].phone == "0912345678"
    assert not looks_like_formula("+84 (0) 912.345.678")
    assert looks_like_formula("+84+cmd")


def test_it_writes_messages_in_vietnamese_with_the_value() -> None:
    result = parse_rows(person(phone="0212345678"))
    assert result.errors[0].message.startswith("Số điện thoại không hợp lệ: “0212345678”")


# --- fields through the parser ----------------------------------------------------------------


def test_it_stores_names_nfc_trimmed_with_single_spaces() -> None:
    nfd = unicodedata.normalize("NFD", "  Nguyễn   Thị\u00a0Thu  Hương ")
    result = parse_rows(person(full_name=nfd))
    assert result.rows[0].full_name == "Nguyễn Thị Thu Hương"
    assert unicodedata.is_normalized("NFC", result.rows[0].full_name)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("0912-345-678", "0912345678"),
        ("(+84) 912 345 678", "0912345678"),
        ("+84 (0) 912 345 678", "0912345678"),
        ("912345678", "0912345678"),  # Excel dropped the zero
        ("0356 123 456", "0356123456"),
    ],
)
def test_it_normalises_phones(typed: str, stored: str) -> None:
    assert parse_rows(person(phone=typed)).rows[0].phone == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("12345", "bad_phone"),
        ("0243 826 1234", "bad_phone"),  # a landline
        ("01912345678", "bad_phone"),  # the pre-2018 11-digit numbering
        ("091234567", "bad_phone"),
        ("091234567a", "bad_phone"),
        ("", "missing"),
    ],
)
def test_it_refuses_bad_phones(typed: str, code: str) -> None:
    assert issues(parse_rows(person(phone=typed)).errors) == [(2, "phone", code)]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("29A-123.45", "29A12345"),
        ("29A-1234", "29A1234"),
        ("29-B1 123.45", "29B112345"),
        ("29 b1 1234", "29B11234"),
        ("40e-130.55", "40E13055"),
        ("75C-111.22", "75C11122"),  # outside Hanoi is fine
        ("", ""),
        ("  ", ""),
        ("Không", ""),
        ("-", ""),
    ],
)
def test_it_normalises_plates(typed: str, stored: str) -> None:
    assert parse_rows(person(vehicle_plate=typed)).rows[0].vehicle_plate == stored


@pytest.mark.parametrize(
    "typed", ["XYZ", "29-12345", "2A-123.45", "29AB-123.45", "29A-123", "29A-123.4567"]
)
def test_it_refuses_bad_plates(typed: str) -> None:
    assert issues(parse_rows(person(vehicle_plate=typed)).errors) == [
        (2, "vehicle_plate", "bad_plate")
    ]


@pytest.mark.parametrize(
    ("id_number", "dob", "stored"),
    [
        ("001085029902", "15/05/1985", "001085029902"),
        ("001 085 029 902", "15/05/1985", "001085029902"),
        ("001185029902", "15/05/1985", "001185029902"),  # 1 = woman, 1900s
        ("001203029902", "01/01/2003", "001203029902"),  # 2 = man, 2000s
        ("079306029902", "01/01/2006", "079306029902"),  # 3 = woman, 2000s; Hồ Chí Minh City
        ("123456789", "15/05/1985", "123456789"),  # an old CMND
    ],
)
def test_it_accepts_cccds_and_cmnds(id_number: str, dob: str, stored: str) -> None:
    result = parse_rows(person(id_number=id_number, date_of_birth=dob))
    assert (result.errors, result.warnings, result.rows[0].id_number) == ([], [], stored)


@pytest.mark.parametrize(
    ("typed", "stored"), [("1085029902", "001085029902"), ("79084199126", "079084199126")]
)
def test_it_pads_a_cccd_that_lost_its_leading_zeros_and_warns(typed: str, stored: str) -> None:
    dob = "12/10/1984" if typed.startswith("79") else "15/05/1985"
    result = parse_rows(person(id_number=typed, date_of_birth=dob))
    assert result.rows[0].id_number == stored
    assert issues(result.warnings) == [(2, "id_number", "padded_id")]
    assert typed in result.warnings[0].message and stored in result.warnings[0].message


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("0010634", "short_id"),
        ("12345678", "short_id"),
        ("0010850299021", "long_id"),
        ("00108502990A", "bad_id"),
        ("003085029902", "bad_province"),  # 003 was never issued
        ("097085029902", "bad_province"),
        ("001485029902", "bad_century"),
        ("001285029902", "dob_mismatch"),  # says 2085
        ("001086029902", "dob_mismatch"),  # says 1986, born 1985
        ("", "missing"),
    ],
)
def test_it_refuses_bad_ids(typed: str, code: str) -> None:
    assert issues(parse_rows(person(id_number=typed)).errors) == [(2, "id_number", code)]


def test_it_checks_the_id_alone_when_the_date_is_bad() -> None:
    result = parse_rows(person(date_of_birth="15/05/2030"))  # the CCCD says 1985
    assert issues(result.errors) == [(2, "date_of_birth", "future_dob")]


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("15/05/1985", date(1985, 5, 15)),
        ("5/5/1985", date(1985, 5, 5)),
        ("1985-05-15", date(1985, 5, 15)),
        ("1985-05-15 00:00:00", date(1985, 5, 15)),
        ("15-05-1985", date(1985, 5, 15)),
        ("15.05.1985", date(1985, 5, 15)),
        (str((date(1985, 5, 15) - date(1899, 12, 30)).days), date(1985, 5, 15)),  # a serial
    ],
)
def test_it_reads_dates(typed: str, parsed: date) -> None:
    result = parse_rows(person(date_of_birth=typed))
    assert result.rows[0].date_of_birth == parsed


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("31/02/1990", "bad_date"),
        ("15/13/1985", "bad_date"),
        ("15/05/85", "bad_date"),
        ("May 15 1985", "bad_date"),
        ("", "missing"),
        ("16/09/2021", "future_dob"),
        ("16/09/2006", "too_young"),  # 15 tomorrow
        ("14/09/1940", "too_old"),  # 81 yesterday
    ],
)
def test_it_refuses_bad_dates_of_birth(typed: str, code: str) -> None:
    # A CMND has no birth year, so only the date rule speaks.
    result = parse_rows(person(id_number="123456789", date_of_birth=typed))
    assert issues(result.errors) == [(2, "date_of_birth", code)]


@pytest.mark.parametrize("typed", ["15/09/2006", "15/09/1941"])
def test_it_accepts_fifteen_and_eighty_year_olds(typed: str) -> None:
    assert parse_rows(person(id_number="123456789", date_of_birth=typed)).errors == []


def test_it_refuses_names_with_digits_or_symbols() -> None:
    result = parse_rows(
        person(full_name="Nguyễn Văn 2"), person(full_name="Trần_An", id_number="1")
    )
    assert issues(result.errors) == [
        (2, "full_name", "bad_name"),
        (3, "full_name", "bad_name"),
        (3, "id_number", "short_id"),
    ]


def test_it_refuses_text_longer_than_the_database_keeps() -> None:
    result = parse_rows(
        person(home_address="x" * 256, full_name="A" * 101, job_title="Lái xe " * 15),
        person(
            id_number="123456789", home_address="x" * 255, full_name="A" * 100, job_title="y" * 100
        ),
    )
    assert issues(result.errors) == [
        (2, "full_name", "too_long"),
        (2, "job_title", "too_long"),
        (2, "home_address", "too_long"),
    ]
    assert [r.row for r in result.rows] == [3]


# --- xlsx -------------------------------------------------------------------------------------


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_it_reads_an_xlsx_with_number_and_date_cells() -> None:
    serial = (date(1990, 3, 2) - date(1899, 12, 30)).days
    data = xlsx(
        [
            ["Họ và tên", "Số CCCD/CMND", "Ngày sinh", "Số điện thoại", "Biển số xe", "Ghi chú"],
            ["Nguyễn Văn An", 1085029902, datetime(1985, 5, 15), 912345678, "29A-123.45", 1],
            [None, None, None, None, None, "chỉ có ghi chú"],
            ["Trần Thị Bình", 1190123456.0, serial, "0987654321", None],  # a General-format date
            ["Lê Văn Cường", "079084199126", date(1984, 10, 12), "+84 988 588 401"],
        ]
    )
    result = parse(data, "danh-sach.xlsx")
    assert (result.errors, issues(result.warnings)) == (
        [],
        [(2, "id_number", "padded_id"), (4, "id_number", "padded_id")],
    )
    assert [
        (r.row, r.id_number, r.date_of_birth, r.phone, r.vehicle_plate) for r in result.rows
    ] == [
        (2, "001085029902", date(1985, 5, 15), "0912345678", "29A12345"),
        (4, "001190123456", date(1990, 3, 2), "0987654321", ""),
        (5, "079084199126", date(1984, 10, 12), "0988588401", ""),
    ]


def test_it_reports_bad_xlsx_cells_with_excel_row_numbers() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(person())
    sheet.cell(row=4, column=1, value="x")  # row 3 left out of the file entirely
    for column, value in enumerate(
        person(full_name="Cao Văn Dũng", id_number="123456789"), start=1
    ):
        sheet.cell(row=4, column=column, value=value)
    sheet.cell(row=4, column=5, value="=1+1").data_type = "s"  # text that looks like a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = parse(buffer.getvalue(), "staff.xlsx")
    assert issues(result.errors) == [(4, "job_title", "formula")]
    assert [r.row for r in result.rows] == [2]


def test_it_detects_an_xlsx_by_content_whatever_its_name() -> None:
    data = xlsx([HEADER, person()])
    assert parse(data, "staff.csv").rows[0].id_number == "001085029902"


def test_it_refuses_an_xlsx_with_only_a_header() -> None:
    assert refusal(xlsx([HEADER, [None] * 7]), "staff.xlsx").code == "no_rows"


def test_it_refuses_an_xlsx_over_the_row_limit() -> None:
    rows = [person(id_number=f"00108502990{i}") for i in range(4)]
    assert refusal(xlsx([HEADER, *rows]), "staff.xlsx", max_rows=3).code == "too_many_rows"


# --- the normalisers on their own (the staff edit form uses them) ----------------------------


def test_normalisers_raise_field_errors_with_a_code_and_a_message() -> None:
    with pytest.raises(FieldError) as caught:
        normalize_phone("12345")
    assert caught.value.code == "bad_phone" and "12345" in caught.value.message
    assert normalize_id_number("1085029902", None)[0] == "001085029902"
    assert normalize_id_number("001085029902", None) == ("001085029902", None)
    assert parse_date(datetime(1985, 5, 15, 0, 0)) == date(1985, 5, 15)
    assert parse_date(31182.0) == date(1985, 5, 15)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["+84", "84", "0"]),
    st.sampled_from("35789"),
    st.lists(st.integers(0, 9), min_size=8, max_size=8),
    st.sampled_from(["", " ", ".", "-"]),
)
def test_phone_normalisation_is_idempotent(
    prefix: str, second: str, rest: list[int], sep: str
) -> None:
    digits = "".join(map(str, rest))
    typed = prefix + second + sep + digits[:3] + sep + digits[3:]
    stored = normalize_phone(typed)
    assert stored == "0" + second + digits
    assert normalize_phone(stored) == stored


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="aăâbdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậềếểễệ ", max_size=40))
def test_name_normalisation_is_idempotent_and_nfc(raw: str) -> None:
    decomposed = unicodedata.normalize("NFD", raw)
    try:
        name = normalize_name(decomposed)
    except FieldError as e:
        assert e.code == "empty_name" and not raw.strip()
        return
    assert normalize_name(name) == name
    assert name == unicodedata.normalize("NFC", " ".join(raw.split()))
    assert normalize_plate("29A12345") == "29A12345"


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=600)
    | st.text(alphabet=',;\t\r\n"=+ -@aễ0123456789/', max_size=600).map(str.encode)
)
def test_any_upload_gives_a_result_or_one_clear_refusal(data: bytes) -> None:
    try:
        result = parse(b"full_name,id_number,date_of_birth,phone\r\n" + data)
    except StaffListInvalid as e:
        assert e.code and e.message
        return
    assert all(issue.column in FIELDS for issue in result.errors)


def test_the_parser_stays_free_of_the_orm() -> None:
    for module in ("staff_list.py", "normalize.py"):
        source = (Path(__file__).resolve().parents[2] / "permits" / module).read_text()
        imported = {
            node.module or ""
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom)
        } | {
            alias.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        django = {name for name in imported if name.startswith("django")}
        assert django <= {"django.utils.translation", "django.utils.functional"}, module
        assert not {name for name in imported if name.startswith(("orgs", "verification"))}
        assert "permits.models" not in imported


def test_it_refuses_an_xlsx_that_inflates_far_beyond_the_size_limit() -> None:
    buffer = io.BytesIO(xlsx([HEADER, person()]))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\x00" * 2_000_000)  # deflates to ~2 kB
    data = buffer.getvalue()
    assert refusal(data, "staff.xlsx", max_bytes=len(data)).code == "too_big"
