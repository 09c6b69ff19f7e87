"""Writes for staff lists: import a file, edit one person, remove one person.

Every write locks the organisation row (imports of one enterprise run one at a time, so two
clerks uploading at once cannot both insert the same ID number) and records one audit event
without personal data. The pure parsing lives in permits/staff_list.py and the per-field rules
in permits/normalize.py; this module adds the database: upsert on (organization, id_number),
all or nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orgs.audit import audit_record
from orgs.errors import DomainError
from orgs.models import Organization
from permits.models import Staff
from permits.normalize import (
    FieldError,
    check_date_of_birth,
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
from permits.services.issuance import permits_reissue_for_staff
from permits.staff_list import FIELDS, RowIssue, StaffListInvalid, StaffRow, parse_staff_file

# The columns an import compares to decide "updated" or "unchanged".
DATA_FIELDS = ("full_name", "date_of_birth", "phone", "job_title", "home_address", "vehicle_plate")
_BATCH_SIZE = 1000


class StaffListRejected(DomainError):
    """Some rows of an uploaded list are invalid; `details` lists every bad cell."""

    code = "invalid_rows"


class StaffFileInvalid(DomainError):
    """The uploaded file cannot be read as a staff list at all (one message)."""

    code = "invalid_file"

    def __init__(self, message: Any, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # the parser's slug: too_big, no_header, missing_columns…


class StaffInvalid(DomainError):
    """One person's data, as typed in a form or sent to the API, breaks a rule.

    `details` = [{"column", "message"}], one per bad field.
    """

    code = "invalid_staff"


@dataclass
class ImportReport:
    rows: int
    created: int
    updated: int
    unchanged: int
    warnings: list[RowIssue] = field(default_factory=list)
    dry_run: bool = False


# --- search and sort keys ---------------------------------------------------------------------

_TONE_MARKS = {  # dictionary order: ngang, huyền, hỏi, ngã, sắc, nặng
    "\u0300": "2",  # huyền
    "\u0309": "3",  # hỏi
    "\u0303": "4",  # ngã
    "\u0301": "5",  # sắc
    "\u0323": "6",  # nặng
}
_NO_TONE = "1"
_VI_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"  # one precomposed character each
# Key symbols: lower-case ASCII letters and digits only, so PostgreSQL's locale collations
# (en_US.UTF-8, which ignores punctuation and case at first) order keys exactly as bytes do.
# "0" ends a word and sorts before every letter: "An" < "Anh".
_SYMBOLS = "123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {letter: _SYMBOLS[i] for i, letter in enumerate(_VI_ALPHABET)}
_UNKNOWN = _SYMBOLS[-1]  # anything else (digits, other scripts) after every letter
_SORT_KEY_LENGTH = 255


def _letters(word: str) -> list[tuple[str, str]]:
    """(base letter with its vowel marks, tone digit) for each character of a word."""
    out: list[tuple[str, str]] = []
    for char in unicodedata.normalize("NFD", word.casefold()):
        if unicodedata.combining(char):
            if char in _TONE_MARKS and out:
                out[-1] = (out[-1][0], _TONE_MARKS[char])
            elif out:  # breve, circumflex, horn: part of the letter (ă, â, ê, ô, ơ, ư)
                out[-1] = (unicodedata.normalize("NFC", out[-1][0] + char), out[-1][1])
            continue
        out.append((char, _NO_TONE))
    return out


def _collate(words: list[str]) -> str:
    """Letters first (tones ignored), then tones: "Án" sorts with "An", before "Anh"."""
    primary, tones = [], []
    for word in words:
        for letter, tone in _letters(word):
            primary.append(_PRIMARY.get(letter, _UNKNOWN))
            tones.append(tone)
        primary.append("0")
    return "".join(primary) + "0" + "".join(tones)


def staff_sort_key(full_name: str) -> str:
    """Vietnamese office order: the given name (last word), then the surname and middle names.

    "Nguyễn Văn An" < "Lê Thị Bình" (An < Bình); "Dũng" < "Đức" (d < đ); a < ă < â; a toneless
    letter before its toned forms in the order ngang, huyền, hỏi, ngã, sắc, nặng.
    """
    words = full_name.split()
    if not words:
        return ""
    key = _collate(words[-1:]) + "0" + _collate(words[:-1])
    return key[:_SORT_KEY_LENGTH]


def staff_search_key(text: str) -> str:
    """Lower case, no accents, đ → d, single spaces: "Nguyễn  Văn Ân" → "nguyen van an"."""
    decomposed = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.split())


def _search_text(full_name: str) -> str:
    return staff_search_key(full_name)[:255]


# --- one person -------------------------------------------------------------------------------

_TEXT_FIELDS: dict[str, Callable[[str], str]] = {
    "full_name": normalize_name,
    "phone": normalize_phone,
    "job_title": normalize_job_title,
    "home_address": normalize_text,
    "vehicle_plate": normalize_plate,
}


def staff_clean(data: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Normalise one person's fields by the import's rules; raise StaffInvalid listing each bad one.

    `data` holds the seven columns as typed (strings; the date may also be a `date`).
    """
    errors: dict[str, str] = {}
    for name in FIELDS:
        value = data.get(name)
        if isinstance(value, str) and looks_like_formula(value):
            errors[name] = _(
                "Ô bắt đầu bằng ký tự công thức (= + - @), không được nhận: “{value}”."
            ).format(value=shown(value.strip()))
    cleaned: dict[str, Any] = {}
    for name, normalize in _TEXT_FIELDS.items():
        if name in errors:
            continue
        try:
            cleaned[name] = normalize(str(data.get(name) or ""))
        except FieldError as e:
            errors[name] = e.message
    dob: date | None = None
    if "date_of_birth" not in errors:
        try:
            dob = parse_date(data.get("date_of_birth"))
            check_date_of_birth(dob, today=today)
        except FieldError as e:
            errors["date_of_birth"] = e.message
            dob = None
    if "id_number" not in errors:
        try:
            cleaned["id_number"], _warning = normalize_id_number(
                str(data.get("id_number") or ""), dob
            )
        except FieldError as e:
            errors["id_number"] = e.message
    if errors:
        raise StaffInvalid(
            _("Thông tin nhân sự chưa hợp lệ."),
            details=[
                {"column": name, "message": errors[name]} for name in FIELDS if name in errors
            ],
        )
    cleaned["date_of_birth"] = dob
    return cleaned


@transaction.atomic
def staff_update(*, actor: Any, staff: Staff, data: Mapping[str, Any]) -> Staff:
    """Edit one person with the import's rules. Writes Staff and an audit event.

    The ID number may be corrected, but not to one another person of the enterprise holds.
    """
    cleaned = staff_clean(data, today=timezone.localdate())
    Organization.objects.select_for_update().only("pk").get(pk=staff.organization_id)
    locked = Staff.objects.select_for_update().get(pk=staff.pk)
    clash = (
        Staff.objects.filter(organization_id=locked.organization_id, id_number=cleaned["id_number"])
        .exclude(pk=locked.pk)
        .exists()
    )
    if clash:
        raise StaffInvalid(
            _("Thông tin nhân sự chưa hợp lệ."),
            details=[
                {
                    "column": "id_number",
                    "message": _("Số CCCD/CMND {value} đã có trong danh sách nhân sự.").format(
                        value=cleaned["id_number"]
                    ),
                }
            ],
        )
    changed = [
        name for name in ("id_number", *DATA_FIELDS) if getattr(locked, name) != cleaned[name]
    ]
    if changed:
        for name in changed:
            setattr(locked, name, cleaned[name])
        locked.search_text = _search_text(locked.full_name)
        locked.sort_key = staff_sort_key(locked.full_name)
        locked.save()
        permits_reissue_for_staff(actor=actor, staff=locked)
    # Field names only: the audit chain keeps no personal data.
    audit_record(
        actor=actor,
        action="staff.update",
        object_type="staff",
        object_id=locked.pk,
        details={"organization": locked.organization_id, "fields": changed},
    )
    return locked


@transaction.atomic
def staff_delete(*, actor: Any, staff: Staff) -> None:
    """Remove one person from the list. Deletes Staff; writes an audit event.

    Requests already submitted keep their own copy of the person (RequestEntry snapshots).
    """
    Organization.objects.select_for_update().only("pk").get(pk=staff.organization_id)
    pk, organization_id = staff.pk, staff.organization_id
    Staff.objects.filter(pk=pk).delete()
    audit_record(
        actor=actor,
        action="staff.delete",
        object_type="staff",
        object_id=pk,
        details={"organization": organization_id},
    )


# --- a whole list -----------------------------------------------------------------------------


def _row_values(row: StaffRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in DATA_FIELDS)


def _staff_values(staff: Staff) -> tuple[Any, ...]:
    return tuple(getattr(staff, name) for name in DATA_FIELDS)


def _rejected(errors: list[RowIssue]) -> StaffListRejected:
    rows = len({issue.row for issue in errors})
    message = _(
        "Danh sách có {rows} dòng lỗi nên chưa lưu dòng nào. "
        "Hãy sửa các ô được liệt kê trong tệp rồi tải lên lại."
    ).format(rows=rows)
    details = [
        {"row": issue.row, "column": issue.column, "code": issue.code, "message": issue.message}
        for issue in errors
    ]
    return StaffListRejected(message, details=details)


def staff_import(
    *,
    actor: Any,
    organization: Organization,
    data: bytes,
    filename: str,
    dry_run: bool = False,
) -> ImportReport:
    """Upsert an uploaded staff list into an organisation's staff, all or nothing.

    Rows are matched on id_number: new ones are created, changed ones updated, identical ones
    left alone; people missing from the file stay. Any bad row refuses the whole file
    (StaffListRejected, every bad cell in `details`); an unreadable file raises
    StaffFileInvalid. Writes Staff rows and one audit event with counts only. `dry_run`
    reports the same counts and writes nothing.
    """
    try:
        parsed = parse_staff_file(data, filename, today=timezone.localdate())
    except StaffListInvalid as e:
        raise StaffFileInvalid(e.message, reason=e.code) from None
    if parsed.errors:
        raise _rejected(parsed.errors)
    if dry_run:
        return _plan(organization, parsed.rows, parsed.warnings, dry_run=True)[0]
    with transaction.atomic():
        # One import per organisation at a time: the second waits, then sees the first's rows.
        Organization.objects.select_for_update().only("pk").get(pk=organization.pk)
        report, to_create, to_update = _plan(organization, parsed.rows, parsed.warnings)
        Staff.objects.bulk_create(to_create, batch_size=_BATCH_SIZE)
        Staff.objects.bulk_update(
            to_update,
            [*DATA_FIELDS, "search_text", "sort_key", "updated_at"],
            batch_size=_BATCH_SIZE,
        )
        # Corrected data must reach the paper: live permits of changed people are re-issued.
        if to_update:
            permits_reissue_for_staff(actor=actor, staff=to_update)
        audit_record(
            actor=actor,
            action="staff.import",
            object_type="organization",
            object_id=organization.pk,
            details={
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "warnings": len(report.warnings),
            },
        )
    return report


def _plan(
    organization: Organization,
    rows: list[StaffRow],
    warnings: list[RowIssue],
    *,
    dry_run: bool = False,
) -> tuple[ImportReport, list[Staff], list[Staff]]:
    """Compare the file with the stored staff (one query) and say what to create and update."""
    existing = {
        staff.id_number: staff
        for staff in Staff.objects.filter(organization=organization).only(
            "pk", "id_number", *DATA_FIELDS, "search_text", "sort_key", "updated_at"
        )
    }
    now = timezone.now()
    to_create: list[Staff] = []
    to_update: list[Staff] = []
    updated = unchanged = 0
    for row in rows:
        search_text = _search_text(row.full_name)
        sort_key = staff_sort_key(row.full_name)
        staff = existing.get(row.id_number)
        if staff is None:
            to_create.append(
                Staff(
                    organization=organization,
                    id_number=row.id_number,
                    **{name: getattr(row, name) for name in DATA_FIELDS},
                    search_text=search_text,
                    sort_key=sort_key,
                )
            )
            continue
        if _staff_values(staff) == _row_values(row):
            unchanged += 1
            if staff.search_text == search_text and staff.sort_key == sort_key:
                continue  # nothing to write at all
            # Only the keys' computation changed since the last import: refresh them quietly.
        else:
            updated += 1
            for name in DATA_FIELDS:
                setattr(staff, name, getattr(row, name))
            staff.updated_at = now  # bulk_update does not apply auto_now
        staff.search_text, staff.sort_key = search_text, sort_key
        to_update.append(staff)
    report = ImportReport(
        rows=len(rows),
        created=len(to_create),
        updated=updated,
        unchanged=unchanged,
        warnings=list(warnings),
        dry_run=dry_run,
    )
    return report, to_create, to_update
