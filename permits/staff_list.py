"""Parse an uploaded staff list (CSV or XLSX) into rows and row errors (contract.md §5).

Pure: no ORM, no app imports; the clock comes in as `today`. A file that cannot be read as a
staff list at all raises `StaffListInvalid` with one message; otherwise every bad cell of every
row is reported as a `RowIssue`, so the clerk fixes the whole file in one pass instead of
uploading it again for each mistake. Row numbers are the ones Excel shows (header = row 1,
blank rows counted).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from permits.normalize import (
    EXCEL_EPOCH,
    FieldError,
    check_date_of_birth,
    fmt,
    looks_like_formula,
    normalize_id_number,
    normalize_job_title,
    normalize_name,
    normalize_phone,
    normalize_plate,
    normalize_text,
    parse_date,
    shown,
)

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000

FIELD_LABELS: dict[str, Promise] = {
    "full_name": _("Họ và tên"),
    "id_number": _("Số CCCD/CMND"),
    "date_of_birth": _("Ngày sinh"),
    "phone": _("Số điện thoại"),
    "job_title": _("Chức vụ"),
    "home_address": _("Địa chỉ nơi ở"),
    "vehicle_plate": _("Biển số xe"),
}
FIELDS = tuple(FIELD_LABELS)  # the English column names, in the order errors are sorted
REQUIRED_FIELDS = FIELDS[:4]
# Header spellings seen in HR files, "|"-separated, compared by `_header_key` (no case, accents,
# spaces or punctuation), so "Họ và tên (*)", "HO VA TEN" and "Full name" all mean full_name.
# Not "Tên" (files that split "Họ đệm" / "Tên") nor "ID" (often the employee number).
_HEADER_ALIASES = {
    "full_name": "full_name|name|Họ và tên|Họ tên|Họ và tên nhân viên",
    "id_number": (
        "id_number|Số CCCD/CMND|Số CMND/CCCD|CCCD/CMND|CMND/CCCD|CCCD|CMND|Số CCCD|Số CMND|"
        "Số căn cước|Số căn cước công dân|Số định danh"
    ),
    "date_of_birth": "date_of_birth|dob|birth_date|Ngày sinh|Ngày tháng năm sinh",
    "phone": "phone|phone_number|mobile|Số điện thoại|Điện thoại|SĐT|ĐT|Số di động|Di động",
    "job_title": "job_title|title|position|Chức vụ|Chức danh|Vị trí",
    "home_address": (
        "home_address|address|Địa chỉ nơi ở|Địa chỉ|Nơi ở|Nơi ở hiện tại|Địa chỉ nơi ở hiện tại|"
        "Chỗ ở hiện tại"
    ),
    "vehicle_plate": (
        "vehicle_plate|plate|license_plate|Biển số xe|Biển số|Biển kiểm soát|BKS|"
        "Biển số phương tiện"
    ),
}
_COLUMN_ORDER = {"": -1, **{name: i for i, name in enumerate(FIELDS)}}
# A title such as "DANH SÁCH NHÂN VIÊN" may sit above the header; look a few rows down for it.
_HEADER_SEARCH_ROWS = 10
# An .xlsx is compressed XML; refuse one that would inflate beyond this many times the size
# limit (a zip bomb, or a sheet with a million formatted empty rows) before openpyxl reads it.
_MAX_INFLATION = 10
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97–2003 .xls, or an .xlsx protected by a password
_FOREIGN_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",  # JPEG
    b"GIF8",
    b"%PDF",
    b"Rar!",
    b"7z\xbc\xaf",
    b"\x1f\x8b",  # gzip
)
_DELIMITERS = (",", ";", "\t")
_HEADER_HINT_RE = re.compile(r"\(.*?\)|\[.*?\]")


@dataclass(frozen=True)
class StaffRow:
    row: int
    full_name: str
    id_number: str
    date_of_birth: date
    phone: str
    job_title: str
    home_address: str
    vehicle_plate: str  # "" when the person has no vehicle


@dataclass(frozen=True)
class RowIssue:
    row: int
    column: str  # one of FIELDS, or "" for the whole row
    code: str  # stable English slug, e.g. "bad_phone"
    message: str  # translated when the file was parsed


@dataclass
class ParseResult:
    rows: list[StaffRow] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({issue.row for issue in self.errors})


class StaffListInvalid(Exception):
    """The file as a whole cannot be read as a staff list; `message` says why, in one sentence."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def parse_staff_file(
    data: bytes,
    filename: str,
    *,
    today: date,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> ParseResult:
    """Read a CSV or XLSX staff list. Raises StaffListInvalid for a file-level failure."""
    if len(data) > max_bytes:
        raise StaffListInvalid(
            fmt(
                _("Tệp lớn hơn giới hạn {limit} MB; hãy chia danh sách thành nhiều tệp."),
                limit=f"{max_bytes / (1024 * 1024):g}",
            ),
            code="too_big",
        )
    if not data.strip():
        raise _empty()
    if data.startswith(_ZIP_MAGIC):  # by content: a renamed .csv that is really .xlsx works too
        return _parse_xlsx(data, today=today, max_bytes=max_bytes, max_rows=max_rows)
    _refuse_foreign(data, filename)
    rows = _csv_rows(_decode(data))
    return _parse_table(rows, today=today, max_rows=max_rows, epoch=EXCEL_EPOCH)


# --- reading the file -------------------------------------------------------------------------

Cells = Sequence[object]


def _empty() -> StaffListInvalid:
    return StaffListInvalid(str(_("Tệp rỗng, không có dữ liệu.")), code="empty")


def _save_as_hint() -> str:
    return str(_("Trong Excel, chọn Lưu thành “Excel Workbook (.xlsx)” hoặc “CSV UTF-8”."))


def _refuse_foreign(data: bytes, filename: str) -> None:
    """Name the usual wrong uploads (a photo or scan of the list, an old .xls) plainly."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data.startswith(_OLE2_MAGIC):
        raise StaffListInvalid(
            fmt(
                _("Tệp là Excel 97–2003 (.xls) hoặc có đặt mật khẩu, không đọc được. {hint}"),
                hint=_save_as_hint(),
            ),
            code="unsupported_type",
        )
    if data.startswith(_FOREIGN_MAGIC) or ext in ("xlsx", "xlsm", "xls"):
        raise StaffListInvalid(
            fmt(
                _("Tệp “{name}” không phải danh sách dạng CSV hay Excel (.xlsx). {hint}"),
                name=filename,
                hint=_save_as_hint(),
            ),
            code="unsupported_type",
        )


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 (Excel's "Unicode text")."""
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # the codec reads the BOM and drops it
    elif b"\x00" in data[:4096]:
        # UTF-16 without a BOM puts a zero byte next to every ASCII character.
        sample = data[:4096]
        if sample[1::2].count(0) > len(sample) // 4:
            encoding = "utf-16-le"
        elif sample[0::2].count(0) > len(sample) // 4:
            encoding = "utf-16-be"
        else:
            raise _not_text()
    else:
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise _not_text() from None
    if "\x00" in text:
        raise _not_text()
    if not text.strip():
        raise _empty()
    return text


def _not_text() -> StaffListInvalid:
    return StaffListInvalid(
        fmt(
            _("Không đọc được tệp: đây không phải tệp CSV mã UTF-8 hay UTF-16. {hint}"),
            hint=_save_as_hint(),
        ),
        code="not_text",
    )


def _csv_rows(text: str) -> Iterator[tuple[int, Cells]]:
    first_line, _sep, rest = text.partition("\n")
    if first_line.strip().lower().startswith("sep=") and len(first_line.strip()) == 5:
        # Excel's own "sep=;" hint line: it names the delimiter and Excel does not show it.
        delimiter, text = first_line.strip()[4], rest
    else:
        delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    row_number = 0
    try:
        for row_number, cells in enumerate(reader, start=1):
            yield row_number, cells
    except csv.Error as e:
        raise StaffListInvalid(
            fmt(_("Không đọc được dòng {row} của tệp CSV ({error})."), row=row_number + 1, error=e),
            code="bad_csv",
        ) from None


def _sniff_delimiter(text: str) -> str:
    """The delimiter that occurs most often in the first line that has any of them."""
    for line in text[:65536].splitlines():
        counts = {d: line.count(d) for d in _DELIMITERS}
        best = max(_DELIMITERS, key=counts.__getitem__)
        if counts[best]:
            return best
    return ","


def _parse_xlsx(data: bytes, *, today: date, max_bytes: int, max_rows: int) -> ParseResult:
    from openpyxl import load_workbook  # openpyxl is slow to import; CSV uploads never need it

    bad_xlsx = StaffListInvalid(
        fmt(_("Tệp không phải sổ tính Excel (.xlsx) hợp lệ. {hint}"), hint=_save_as_hint()),
        code="bad_xlsx",
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise bad_xlsx from None
    if inflated > _MAX_INFLATION * max_bytes:
        raise StaffListInvalid(
            str(_("Tệp Excel quá lớn khi giải nén; hãy xoá các dòng trống thừa hoặc chia tệp.")),
            code="too_big",
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises KeyError, ValueError, lxml errors… on a foreign zip
        raise bad_xlsx from None
    try:
        if not workbook.worksheets:
            raise bad_xlsx
        sheet = workbook.worksheets[0]
        # Files written by other tools often declare wrong dimensions; read every row instead.
        reset = getattr(sheet, "reset_dimensions", None)
        if reset is not None:
            reset()
        epoch = workbook.epoch
        return _parse_table(
            _xlsx_rows(sheet.iter_rows(values_only=True), bad_xlsx),
            today=today,
            max_rows=max_rows,
            epoch=epoch.date() if isinstance(epoch, datetime) else EXCEL_EPOCH,
        )
    finally:
        workbook.close()


def _xlsx_rows(
    rows: Iterable[Sequence[object]], bad_xlsx: StaffListInvalid
) -> Iterator[tuple[int, Cells]]:
    try:
        # openpyxl's read-only reader yields an empty tuple for rows absent from the XML, so
        # counting from 1 gives Excel's row numbers.
        yield from enumerate(rows, start=1)
    except Exception:  # a corrupt sheet is found only while streaming it
        raise bad_xlsx from None


# --- turning cells into rows ------------------------------------------------------------------


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header_key(value: object) -> str:
    """Lower case, no accents (đ → d), letters and digits only: 'Số CCCD/CMND' → 'socccdcmnd'.

    Templates add hints in brackets ("Ngày sinh (dd/mm/yyyy)"); they are dropped too.
    """
    text = _HEADER_HINT_RE.sub("", str(value))
    decomposed = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum() and ch.isascii())


_HEADER_INDEX = {
    _header_key(alias): name
    for name, aliases in _HEADER_ALIASES.items()
    for alias in aliases.split("|")
}


def _map_header(cells: Cells) -> dict[str, int]:
    """Field name → column index for the cells of one row; unknown columns are left out."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _HEADER_INDEX.get(_header_key(cell)) if not _is_blank(cell) else None
        if name is None:
            continue
        if name in found:
            raise StaffListInvalid(
                fmt(
                    _("Cột “{label}” xuất hiện hai lần ở dòng tiêu đề; hãy giữ lại một cột."),
                    label=FIELD_LABELS[name],
                ),
                code="duplicate_column",
            )
        found[name] = index
    return found


def _find_header(rows: Iterator[tuple[int, Cells]]) -> dict[str, int]:
    best: dict[str, int] = {}
    looked_at = 0
    for _row_number, cells in rows:
        if all(_is_blank(cell) for cell in cells):
            continue
        columns = _map_header(cells)
        if all(name in columns for name in REQUIRED_FIELDS):
            return columns
        if len(columns) > len(best):
            best = columns
        looked_at += 1
        if looked_at >= _HEADER_SEARCH_ROWS:
            break
    if not looked_at:
        raise _empty()
    if not best:
        raise StaffListInvalid(
            fmt(
                _("Không tìm thấy dòng tiêu đề. Dòng đầu tiên phải có các cột: {columns}."),
                columns=", ".join(str(FIELD_LABELS[name]) for name in FIELDS),
            ),
            code="no_header",
        )
    missing = [str(FIELD_LABELS[name]) for name in REQUIRED_FIELDS if name not in best]
    raise StaffListInvalid(
        fmt(_("Thiếu cột bắt buộc: {columns}."), columns=", ".join(missing)),
        code="missing_columns",
    )


def _text(value: object) -> str:
    """A cell as text. Excel gives numbers for ID and phone cells: 1300672092.0 → '1300672092'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_table(
    rows: Iterator[tuple[int, Cells]], *, today: date, max_rows: int, epoch: date
) -> ParseResult:
    columns = _find_header(rows)
    # Position i holds the column index of FIELDS[i], or -1 when the optional column is absent.
    indexes = [columns.get(name, -1) for name in FIELDS]
    result = ParseResult()
    accepted: list[StaffRow] = []
    pending_warnings: list[RowIssue] = []
    rows_by_id: dict[str, list[int]] = {}
    count = 0
    for row_number, cells in rows:
        width = len(cells)
        values = [cells[i] if 0 <= i < width else None for i in indexes]
        # Blank means blank in every column we read: templates often pre-number an "STT" column.
        if all(_is_blank(value) for value in values):
            continue
        count += 1
        if count > max_rows:
            raise StaffListInvalid(
                fmt(
                    _("Tệp có hơn {limit} dòng nhân viên; hãy chia thành nhiều tệp."),
                    limit=f"{max_rows:,}".replace(",", "."),
                ),
                code="too_many_rows",
            )
        row, id_number, errors, warning = _build_row(row_number, values, today=today, epoch=epoch)
        result.errors.extend(errors)
        if id_number:
            # Recorded even for a refused row: its twin must be refused too.
            rows_by_id.setdefault(id_number, []).append(row_number)
        if row is not None:
            accepted.append(row)
        if warning is not None:
            pending_warnings.append(warning)
    if not count:
        raise StaffListInvalid(str(_("Tệp không có dòng nhân viên nào.")), code="no_rows")
    result.errors.extend(_duplicates(rows_by_id))
    refused = {issue.row for issue in result.errors}
    result.rows = [row for row in accepted if row.row not in refused]
    # A warning only matters for a row that will be imported.
    result.warnings = [w for w in pending_warnings if w.row not in refused]
    result.errors.sort(key=lambda issue: (issue.row, _COLUMN_ORDER[issue.column]))
    return result


# Fields whose cell alone decides the stored value; the date and the ID are checked together.
_PLAIN_FIELDS: dict[str, Callable[[str], str]] = {
    "full_name": normalize_name,
    "phone": normalize_phone,
    "job_title": normalize_job_title,
    "home_address": normalize_text,
    "vehicle_plate": normalize_plate,
}


def _build_row(
    row_number: int, values: list[object], *, today: date, epoch: date
) -> tuple[StaffRow | None, str, list[RowIssue], RowIssue | None]:
    """One data row → (row or None, normalised ID or "", its errors, its warning or None)."""
    errors: list[RowIssue] = []

    def refuse(column: str, error: FieldError) -> None:
        errors.append(RowIssue(row_number, column, error.code, error.message))

    raw = dict(zip(FIELDS, values, strict=True))
    # A formula-looking cell is refused as it is: stored, it would run when the list is
    # exported to a spreadsheet again (CSV injection).
    for name, value in raw.items():
        if isinstance(value, str) and looks_like_formula(value):
            message = fmt(
                _("Ô bắt đầu bằng ký tự công thức (= + - @), không được nhận: “{value}”."),
                value=shown(value.strip()),
            )
            refuse(name, FieldError(message, code="formula"))
    formulas = {issue.column for issue in errors}

    dob: date | None = None
    if "date_of_birth" not in formulas:
        try:
            parsed = parse_date(raw["date_of_birth"], epoch=epoch)
            check_date_of_birth(parsed, today=today)
        except FieldError as e:
            refuse("date_of_birth", e)
        else:
            dob = parsed

    id_number, id_warning = "", None
    if "id_number" not in formulas:
        try:
            # With a bad date the ID is checked alone, so the row gets one error, not two.
            id_number, id_warning = normalize_id_number(_text(raw["id_number"]), dob)
        except FieldError as e:
            refuse("id_number", e)

    cleaned = dict.fromkeys(_PLAIN_FIELDS, "")
    for name, normalize in _PLAIN_FIELDS.items():
        if name not in formulas:
            try:
                cleaned[name] = normalize(_text(raw[name]))
            except FieldError as e:
                refuse(name, e)

    warning = None
    if id_warning is not None:
        warning = RowIssue(row_number, "id_number", "padded_id", id_warning)
    if errors or dob is None:
        return None, id_number, errors, warning
    row = StaffRow(row=row_number, id_number=id_number, date_of_birth=dob, **cleaned)
    return row, id_number, errors, warning


def _duplicates(rows_by_id: dict[str, list[int]]) -> Iterator[RowIssue]:
    """An ID met on several rows is an error on each of them, naming the others."""
    for id_number, row_numbers in rows_by_id.items():
        if len(row_numbers) < 2:
            continue
        for row_number in row_numbers:
            others = ", ".join(str(n) for n in row_numbers if n != row_number)
            message = fmt(
                _("Số CCCD/CMND {value} bị trùng với dòng {rows}."), value=id_number, rows=others
            )
            yield RowIssue(row_number, "id_number", "dup_id", message)
