"""The English catalogue: complete, placeholder-safe, and what an English reader actually sees.

Source strings are Vietnamese (docs/decisions/0001); `locale/en` is the translation. A missing
or fuzzy entry silently shows Vietnamese to an English reader, and a placeholder lost in
translation raises KeyError/IndexError at run time (or drops a number from a message), so both
are checked on the .po file itself, with a small parser (polib is not a dependency).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from tests.conftest import client_for

EN_PO = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


# --- a minimal .po reader ---------------------------------------------------------------------


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # msgstr is index 0

    def __str__(self) -> str:
        return f"django.po:{self.line} {self.msgid!r}"


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _unquote(text: str) -> str:
    match = _STRING.fullmatch(text.strip())
    assert match, f"not a quoted .po string: {text!r}"
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), match.group(1))


def read_po(path: Path) -> list[Entry]:
    """Active entries: blocks separated by blank lines; obsolete `#~` blocks and the header
    (empty msgid) are left out."""
    entries: list[Entry] = []
    block: list[tuple[int, str]] = []
    lines = [*path.read_text(encoding="utf-8").splitlines(), ""]
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            block.append((number, raw.strip()))
            continue
        if block and not any(line.startswith("#~") for _, line in block):
            entries.extend(_parse_block(block))
        block = []
    return [e for e in entries if e.msgid or e.msgctxt]


def _parse_block(block: list[tuple[int, str]]) -> list[Entry]:
    """One block is normally one entry; a block that lacks the blank line between two entries
    (the first msgid after the header, in hand-edited files) yields both."""
    entry = Entry(line=block[0][0])
    entries = [entry]
    key: tuple[str, int] | None = None
    for number, line in block:
        if entry.msgstr and not line.startswith(('"', "msgstr")):
            entry = Entry(line=number)
            entries.append(entry)
        if line.startswith("#,"):
            entry.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert key is not None, f"stray string at line {number}"
            name, index = key
            if name == "msgstr":
                entry.msgstr[index] += _unquote(line)
            else:
                setattr(entry, name, getattr(entry, name) + _unquote(line))
        else:
            word, _, rest = line.partition(" ")
            plural = re.fullmatch(r"msgstr\[(\d+)\]", word)
            if plural or word == "msgstr":
                key = ("msgstr", int(plural.group(1)) if plural else 0)
                entry.msgstr[key[1]] = _unquote(rest)
            elif word in ("msgctxt", "msgid", "msgid_plural"):
                key = (word, 0)
                setattr(entry, word, _unquote(rest))
            else:
                raise AssertionError(f"unknown keyword {word!r} at line {number}")
    return entries


@pytest.fixture(scope="module")
def en_entries() -> list[Entry]:
    entries = read_po(EN_PO)
    assert len(entries) > 100, "the parser found suspiciously few entries"
    return entries


# --- (a) complete -----------------------------------------------------------------------------


def test_every_english_entry_is_translated_and_none_is_fuzzy(en_entries):
    fuzzy = [str(e) for e in en_entries if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy entries in locale/en (check and drop the flag):\n" + "\n".join(fuzzy)
    empty = [
        str(e)
        for e in en_entries
        if not e.msgstr or any(not text.strip() for text in e.msgstr.values())
    ]
    assert not empty, "untranslated entries in locale/en:\n" + "\n".join(empty)


def test_plural_entries_have_both_english_forms(en_entries):
    for entry in en_entries:
        if entry.msgid_plural is not None:
            assert sorted(entry.msgstr) == [0, 1], entry


# --- (b) placeholders -------------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")
_BRACE = re.compile(r"\{(\w*)\}")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def placeholders(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for match in _PERCENT.finditer(text):
        name, conversion = match.groups()
        found["%%" if conversion == "%" else f"%({name}){conversion}"] += 1
    for match in _BRACE.finditer(text):
        found["{" + match.group(1) + "}"] += 1
    for match in _TAG.finditer(text):
        found[match.group(0)] += 1
    return found


def test_placeholder_parser_sees_what_it_should():
    assert placeholders("Tối đa %(n)d ngày, 90%% · {value} <strong>%(x)s</strong>") == Counter(
        {"%(n)d": 1, "%%": 1, "{value}": 1, "<strong>": 1, "%(x)s": 1, "</strong>": 1}
    )
    assert placeholders("Mỗi lượt quét là một đối tượng {qr, at}.") == Counter()


def test_placeholders_and_tags_survive_translation(en_entries):
    broken = []
    for entry in en_entries:
        if entry.msgid_plural is None:
            pairs = [(entry.msgid, entry.msgstr.get(0, ""))]
        else:
            pairs = [
                (entry.msgid, entry.msgstr.get(0, "")),
                (entry.msgid_plural, entry.msgstr.get(1, "")),
            ]
        for source, translated in pairs:
            if translated and placeholders(source) != placeholders(translated):
                broken.append(
                    f"{entry}: {dict(placeholders(source))} ≠ {dict(placeholders(translated))}"
                )
    assert not broken, "placeholders differ:\n" + "\n".join(broken)


def test_the_compiled_catalogue_is_used_for_english():
    with translation.override("en"):
        assert translation.gettext("Đăng nhập") == "Sign in"
        assert translation.gettext("Giấy đi đường") == "Travel permits"
        assert translation.ngettext("%(n)s người", "%(n)s người", 1) % {"n": 1} == "1 person"
        assert translation.ngettext("%(n)s người", "%(n)s người", 3) % {"n": 3} == "3 people"
    with translation.override("vi"):
        assert translation.gettext("Đăng nhập") == "Đăng nhập"


# --- the English staff-list template can be imported again -----------------------------------


def test_english_column_headings_are_recognised_by_the_staff_import():
    """An English-speaking clerk downloads the template with English headings and fills it in;
    the importer must map those headings back to the fields."""
    from permits.staff_list import FIELD_LABELS, FIELDS, parse_staff_file

    with translation.override("en"):
        header = [str(FIELD_LABELS[name]) for name in FIELDS]
        assert "Full name" in header and "ID number" in header
        row = [
            "Nguyen Van An",
            "001090000001",
            "15/03/1990",
            "0912345678",
            "Technician",
            "1 Lang Ha",
            "",
        ]
        data = ("\n".join([",".join(header), ",".join(row)]) + "\n").encode()
        result = parse_staff_file(data, "staff.csv", today=date(2021, 9, 1))
    assert not result.errors, result.errors
    assert [r.id_number for r in result.rows] == ["001090000001"]


# --- (c) pages in English ---------------------------------------------------------------------

# Vietnamese interface words that must not survive on an English page. Data (people's and
# organisations' names, districts, a checkpoint called "Chốt cầu …") legitimately stays
# Vietnamese, so these are phrases that only the interface uses.
VIETNAMESE_UI = (
    "Đăng nhập",
    "Đăng xuất",
    "Mật khẩu",
    "Tên đăng nhập",
    "Nhân sự",
    "nhân sự",
    "Đề nghị",
    "đề nghị",
    "Trạng thái",
    "Giấy đi đường",
    "giấy đi đường",
    "Trang chủ",
    "Quét mã",
    "Chốt kiểm soát",
    "Thống kê",
    "Bỏ qua, đến nội dung chính",
)


def english_page(client: Any, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, (url, response.status_code)
    page = response.content.decode()
    assert 'lang="en"' in page, url
    return page


def assert_english(page: str, *expected: str) -> None:
    for phrase in expected:
        assert phrase in page, f"missing English text {phrase!r}"
    left = [word for word in VIETNAMESE_UI if word in page]
    assert not left, f"Vietnamese interface text on an English page: {left}"


@pytest.mark.django_db
def test_the_login_page_in_english(client):
    page = english_page(client, "/login/")
    assert_english(page, "Sign in", "Username", "Password")


@pytest.mark.django_db
def test_the_language_switch_keeps_english_for_the_session(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert 'lang="en"' in page
    assert_english(page, "Sign in")


@pytest.mark.django_db
def test_the_staff_import_page_in_english(alice):
    page = english_page(client_for(alice), "/staff/import/")
    assert_english(page, "Import staff list", "Step 1: choose a file", "Check", "Sign out")


@pytest.mark.django_db
def test_the_request_list_in_english(alice, viettel):
    from permits.services.requests import request_submit
    from tests.permits.test_request_services import import_staff, new_request, people

    staff = import_staff(alice, viettel, people(2))
    submitted = request_submit(actor=alice, request=new_request(alice, viettel, staff))
    page = english_page(client_for(alice), "/requests/")
    assert submitted.reference in page
    assert_english(page, "Travel permit requests", "Awaiting Department review", "New request")


@pytest.mark.django_db
def test_the_scanner_in_english(erin):
    page = english_page(client_for(erin), "/verify/")
    assert_english(page, "Scan travel permits", "Checkpoint", "Online")


@pytest.mark.django_db
def test_the_request_form_in_english(alice, viettel):
    from tests.permits.test_request_services import import_staff, people

    import_staff(alice, viettel, people(1))
    page = english_page(client_for(alice), "/requests/new/")
    assert_english(page, "New travel permit request", "Valid from", "Save draft")
    assert "Tối đa" not in page and "At most" in page
