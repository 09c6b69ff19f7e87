"""Normalise and check one staff member's fields (domain.md: identity numbers, phones, plates,
names, dates).

Shared by the staff-list import (`staff_list.py`) and the forms that edit one person, so that a
value typed in a form and the same value in an uploaded file end up identical. No ORM, no app
imports: every function takes plain values (and the clock as `today`) and either returns the
stored form or raises `FieldError` with a stable `code` and a user-facing, translated message.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

PROVINCE_CODES_FILE = Path(__file__).resolve().parent / "data" / "cccd-province-codes.csv"

MIN_AGE = 15
MAX_AGE = 80
# The Staff model's CharField lengths, so an over-long cell is a row error, not a DataError.
MAX_NAME_LENGTH = 100
MAX_JOB_TITLE_LENGTH = 100
MAX_TEXT_LENGTH = 255

# Excel counts days from 1899-12-30 (the 1900 leap-year bug folded in); Mac workbooks may use
# 1904-01-01, so the XLSX reader passes the workbook's own epoch.
EXCEL_EPOCH = date(1899, 12, 30)
_MAX_EXCEL_SERIAL = 2_958_465  # 9999-12-31

_VI_LOWER = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệfghiìíỉĩịjklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvwxyỳýỷỹỵz"
)
# Letters of the Vietnamese alphabet (plus f, j, w, z found in ethnic-minority names) and spaces;
# a character class rather than str.isalpha() so that digits' look-alikes or other scripts fail.
_NAME_RE = re.compile(f"[{_VI_LOWER}{_VI_LOWER.upper()} ]+")
_PHONE_RE = re.compile(r"0[35789][0-9]{8}")
# After removing separators: 2 province digits, a series letter, then 4–5 digits (cars, 29A12345)
# or a series digit and 4–5 digits (motorbikes, 29B112345); both fold into 4–6 digits.
_PLATE_RE = re.compile(r"[0-9]{2}[A-Z][0-9]{4,6}")
_DMY_RE = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})")
# pandas and some HR systems write ISO dates with a midnight time part.
_YMD_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00)?)?")
_SERIAL_RE = re.compile(r"[0-9]{5}(?:\.0+)?")
# "+84 912 345 678" or "-5" is a number, not a formula, even though it starts with + or -.
_SIGNED_NUMBER_RE = re.compile(r"[+\-][0-9 .()\-]*")

_FORMULA_STARTS = ("=", "+", "-", "@")
_ID_SEPARATORS = str.maketrans("", "", " .-\u00a0")
_PHONE_SEPARATORS = str.maketrans("", "", " .-()\u00a0")
_PLATE_SEPARATORS = str.maketrans("", "", " .-\u00a0")
_MAX_SHOWN = 60
# What clerks write in the plate column for "no vehicle" (they walk or are driven).
_NO_PLATE = frozenset({"không", "không có", "khong", "khong co", "ko", "k", "x", "0", "none"})


class FieldError(ValueError):
    """A value that cannot be stored. `message` is already translated and formatted."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fmt(message: str | Promise, **params: object) -> str:
    """Translate a lazy message now (in the request's language), then fill its {placeholders}."""
    return str(message).format(**params)


def shown(value: object) -> str:
    """A cell value as quoted back to the user: short, so a 100 kB cell cannot flood a page."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def clean_text(raw: str) -> str:
    """NFC, trimmed, inner runs of whitespace (tabs, NBSP, Alt+Enter newlines) made one space."""
    text = unicodedata.normalize("NFC", raw) if not raw.isascii() else raw
    return " ".join(text.split())


def looks_like_formula(text: str) -> bool:
    """A cell that a spreadsheet would run as a formula when this data is exported again."""
    text = text.strip()
    if not text.startswith(_FORMULA_STARTS):
        return False
    return not _SIGNED_NUMBER_RE.fullmatch(text)


def normalize_name(raw: str) -> str:
    name = clean_text(raw)
    if not name:
        raise FieldError(str(_("Họ và tên đang để trống.")), code="empty_name")
    if len(name) > MAX_NAME_LENGTH:
        raise FieldError(
            fmt(_("Họ và tên dài quá {max} ký tự."), max=MAX_NAME_LENGTH), code="too_long"
        )
    if not _NAME_RE.fullmatch(name):
        raise FieldError(
            fmt(_("Họ và tên chỉ được gồm chữ cái và dấu cách: “{value}”."), value=shown(name)),
            code="bad_name",
        )
    return name


def normalize_text(raw: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Optional free text (job title, address): cleaned, may be empty."""
    text = clean_text(raw)
    if len(text) > max_length:
        raise FieldError(fmt(_("Nội dung dài quá {max} ký tự."), max=max_length), code="too_long")
    return text


def normalize_job_title(raw: str) -> str:
    return normalize_text(raw, max_length=MAX_JOB_TITLE_LENGTH)


def normalize_phone(raw: str) -> str:
    """A Vietnamese mobile number stored as 0xxxxxxxxx."""
    if not raw.strip():
        raise FieldError(str(_("Số điện thoại đang để trống.")), code="missing")
    digits = raw.strip().translate(_PHONE_SEPARATORS)
    if digits.startswith("+84") or digits.startswith("0084"):
        rest = digits[3:] if digits[0] == "+" else digits[4:]
        # "+84 (0)912…" keeps its trunk zero; "+84 912…" gets one.
        digits = rest if rest.startswith("0") else "0" + rest
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits[0] in "35789":
        # Excel stores a typed 0912345678 as the number 912345678.
        digits = "0" + digits
    if not _PHONE_RE.fullmatch(digits):
        raise FieldError(
            fmt(
                _(
                    "Số điện thoại không hợp lệ: “{value}” (cần số di động 10 chữ số, "
                    "bắt đầu bằng 03, 05, 07, 08 hoặc 09)."
                ),
                value=shown(raw.strip()),
            ),
            code="bad_phone",
        )
    return digits


def normalize_plate(raw: str) -> str:
    """A plate without spaces, dots and dashes, upper-cased; "" when there is none."""
    if clean_text(raw).casefold() in _NO_PLATE:
        return ""
    plate = "".join(raw.split()).translate(_PLATE_SEPARATORS).upper()
    if not plate:
        return ""
    if not _PLATE_RE.fullmatch(plate):
        raise FieldError(
            fmt(
                _("Biển số xe không hợp lệ: “{value}” (ví dụ 29A-123.45 hoặc 29-B1 123.45)."),
                value=shown(raw.strip()),
            ),
            code="bad_plate",
        )
    return plate


@cache
def province_codes() -> frozenset[str]:
    """The 63 codes that open a CCCD, read once from the reference file."""
    with PROVINCE_CODES_FILE.open(encoding="utf-8", newline="") as f:
        return frozenset(row["code"].strip() for row in csv.DictReader(f))


def normalize_id_number(raw: str, date_of_birth: date | None) -> tuple[str, str | None]:
    """Check a 12-digit CCCD or a 9-digit CMND and return (stored value, warning or None).

    A 10–11-digit value is a CCCD whose leading zeros Excel dropped: it is padded back and the
    warning says so. Pass `date_of_birth=None` when the date is unknown or invalid; the CCCD's
    birth year and century are then not compared.
    """
    raw = raw.strip()
    value = raw.translate(_ID_SEPARATORS)
    if not value:
        raise FieldError(str(_("Số CCCD/CMND đang để trống.")), code="missing")
    if not (value.isascii() and value.isdigit()):
        raise FieldError(
            fmt(_("Số CCCD/CMND chỉ được gồm chữ số: “{value}”."), value=shown(raw)),
            code="bad_id",
        )
    length = len(value)
    if length == 9:
        return value, None  # CMND: no inner structure to check.
    if length < 9 or length > 12:
        raise FieldError(
            fmt(
                _("Số CCCD/CMND “{value}” có {n} chữ số; CCCD có 12 chữ số, CMND có 9 chữ số."),
                value=shown(raw),
                n=length,
            ),
            code="short_id" if length < 9 else "long_id",
        )
    warning = None
    if length < 12:
        value = value.zfill(12)
        warning = fmt(
            _("Số CCCD “{raw}” bị mất số 0 ở đầu (thường do Excel), đã sửa thành {value}."),
            raw=raw,
            value=value,
        )
    if value[:3] not in province_codes():
        raise FieldError(
            fmt(
                _("Số CCCD {value} bắt đầu bằng mã tỉnh {code} không tồn tại."),
                value=value,
                code=value[:3],
            ),
            code="bad_province",
        )
    century_gender = int(value[3])
    if century_gender > 3:
        raise FieldError(
            fmt(
                _(
                    "Chữ số thứ 4 của số CCCD {value} phải là 0–3 "
                    "(thế kỷ sinh và giới tính), không phải {digit}."
                ),
                value=value,
                digit=century_gender,
            ),
            code="bad_century",
        )
    if date_of_birth is not None:
        year = (1900 if century_gender < 2 else 2000) + int(value[4:6])
        if year != date_of_birth.year:
            raise FieldError(
                fmt(
                    _("Số CCCD {value} ghi năm sinh {year}, không khớp với ngày sinh {dob}."),
                    value=value,
                    year=year,
                    dob=_dmy(date_of_birth),
                ),
                code="dob_mismatch",
            )
    return value, warning


def _bad_date(raw: object) -> FieldError:
    return FieldError(
        fmt(_("Ngày sinh không hợp lệ: “{value}” (dùng dạng dd/mm/yyyy)."), value=shown(raw)),
        code="bad_date",
    )


def _from_serial(serial: float, epoch: date) -> date:
    if not 1 <= serial <= _MAX_EXCEL_SERIAL:
        raise _bad_date(serial)
    return epoch + timedelta(days=int(serial))


def parse_date(raw: object, *, epoch: date = EXCEL_EPOCH) -> date:
    """dd/mm/yyyy (also d/m/yyyy, with - or .), yyyy-mm-dd, a date cell or an Excel serial."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return _from_serial(raw, epoch)
    text = str(raw or "").strip()
    if not text:
        raise FieldError(str(_("Ngày sinh đang để trống.")), code="missing")
    try:
        if m := _DMY_RE.fullmatch(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if m := _YMD_RE.fullmatch(text):
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:  # 31/02/1990 and the like
        raise _bad_date(text) from None
    if _SERIAL_RE.fullmatch(text):
        # A date column formatted "General" in Excel is saved to CSV as its serial number.
        return _from_serial(float(text), epoch)
    raise _bad_date(text)


def check_date_of_birth(dob: date, *, today: date) -> None:
    """In the past, and 15–80 years old on `today`."""
    if dob > today:
        raise FieldError(
            fmt(_("Ngày sinh {dob} ở trong tương lai."), dob=_dmy(dob)), code="future_dob"
        )
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    if age < MIN_AGE:
        raise FieldError(
            fmt(_("Người sinh ngày {dob} chưa đủ {min} tuổi."), dob=_dmy(dob), min=MIN_AGE),
            code="too_young",
        )
    if age > MAX_AGE:
        raise FieldError(
            fmt(_("Người sinh ngày {dob} đã quá {max} tuổi."), dob=_dmy(dob), max=MAX_AGE),
            code="too_old",
        )


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def normalize_date_of_birth(raw: object, *, today: date, epoch: date = EXCEL_EPOCH) -> date:
    dob = parse_date(raw, epoch=epoch)
    check_date_of_birth(dob, today=today)
    return dob
