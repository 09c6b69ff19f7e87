"""Hostile spreadsheets are refused with one clear error and bounded memory."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from datetime import date

import pytest
from openpyxl import Workbook

from permits.staff_list import StaffListInvalid, parse_staff_file

TODAY = date(2021, 9, 15)
HEADER = ["full_name", "id_number", "date_of_birth", "phone"]
ROW = ["Nguyễn Văn An", "001090012345", "12/03/1990", "0912345678"]


def _workbook() -> zipfile.ZipFile:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(ROW)
    buf = io.BytesIO()
    wb.save(buf)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


def _rewrite(replace: dict[str, bytes]) -> bytes:
    src = _workbook()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            z.writestr(item, replace.get(item.filename, src.read(item.filename)))
        for name, data in replace.items():
            if name not in src.namelist():
                z.writestr(name, data)
    return out.getvalue()


def _billion_laughs() -> bytes:
    entities = "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">' for i in range(1, 10)
    )
    sheet = re.sub(rb"^<\?xml[^>]*\?>", b"", _workbook().read("xl/worksheets/sheet1.xml"))
    doctype = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]>'.encode()
    return _rewrite(
        {"xl/worksheets/sheet1.xml": doctype + sheet.replace(b"Nguy", b"&lol9;Nguy", 1)}
    )


def _peak_bytes(data: bytes, name: str) -> tuple[str, int]:
    tracemalloc.start()
    try:
        with pytest.raises(StaffListInvalid) as refused:
            parse_staff_file(data, name, today=TODAY)
        return refused.value.code, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_xml_entity_bomb_is_refused_without_expanding_it():
    code, peak = _peak_bytes(_billion_laughs(), "bomb.xlsx")
    assert code == "bad_xlsx"
    assert peak < 20 * 1024 * 1024  # expanded, it would be 3 GB


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    huge = b"<x>" + b" " * (200 * 1024 * 1024) + b"</x>"  # 200 MB of spaces, ~200 KB zipped
    data = _rewrite({"xl/padding.xml": huge})
    assert len(data) < 1024 * 1024
    code, peak = _peak_bytes(data, "bomb.xlsx")
    assert code == "too_big"
    assert peak < 50 * 1024 * 1024


def test_an_ordinary_workbook_still_parses():
    result = parse_staff_file(_rewrite({}), "ok.xlsx", today=TODAY)
    assert [r.full_name for r in result.rows] == ["Nguyễn Văn An"] and result.errors == []
