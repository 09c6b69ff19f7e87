"""permits/pdf.py: what a printed permit shows, and that its QR code still decodes from a
low-resolution copy. Plain unit tests: no database, no Django."""

import ast
import io
import unicodedata
from dataclasses import replace
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from reportlab.lib.units import mm

from permits import pdf
from permits.pdf import WHOLE_CITY, PermitCard, render_sheets

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
QR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def qr_text(seed: int, length: int = 300) -> str:
    # Deterministic and as long as a signed credential (220-320 characters).
    chars = [
        QR_ALPHABET[(seed * 7919 + i * 104729 + i * i) % len(QR_ALPHABET)] for i in range(length)
    ]
    return "TP1:" + "".join(chars)


def card(index: int = 1, **changes) -> PermitCard:
    base = PermitCard(
        serial=f"HN-2021-{index:06d}",
        full_name="Nguyễn Văn An",
        id_number="001085012345",
        date_of_birth=date(1985, 3, 7),
        organisation="Tổng công ty Bưu điện Việt Nam",
        job_title="Bưu tá",
        vehicle_plate="29-B1 123.45",
        areas=("Ba Đình", "Hoàn Kiếm"),
        valid_from=date(2021, 9, 15),
        valid_to=date(2021, 9, 30),
        qr_text=qr_text(index),
    )
    return replace(base, **changes)


# NFD on purpose: macOS and some Excel exports send names decomposed.
NAMES = [
    nfd("Nguyễn Thị Thu Hương"),
    nfd("Trần Đức Thắng"),
    nfd("Lê Hoàng Yến"),
    nfd("Phạm Quốc Việt"),
    nfd("Đỗ Thị Ánh Tuyết"),
    nfd("Bùi Ngọc Trường"),
]


def render(data: bytes, dpi: float) -> list[Image.Image]:
    doc = pdfium.PdfDocument(data)
    return [page.render(scale=dpi / 72).to_pil() for page in doc]


def page_texts(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    return [page.get_textpage().get_text_range() for page in doc]


def flat(text: str) -> str:
    # pdfium separates wrapped lines with CR/LF; compare words, not line breaks.
    return " ".join(text.split())


@pytest.fixture(scope="module")
def six_on_a4() -> tuple[list[PermitCard], bytes]:
    cards = [card(i + 1, full_name=name) for i, name in enumerate(NAMES)]
    return cards, render_sheets(cards, reference="YC-2021-0915-007")


def test_it_prints_six_permits_on_two_a4_sheets_whose_qr_codes_all_decode(six_on_a4):
    cards, data = six_on_a4
    images = render(data, 150)
    assert len(images) == 2
    ARTIFACTS.mkdir(exist_ok=True)
    images[0].save(ARTIFACTS / "permits-a4x4-page1.png")

    found = [b for image in images for b in zxingcpp.read_barcodes(image)]

    assert sorted(b.text for b in found) == sorted(c.qr_text for c in cards)
    assert {b.ec_level for b in found} == {"Q"}


def test_it_puts_every_holders_name_in_the_text_layer_in_nfc(six_on_a4):
    _, data = six_on_a4
    text = flat(" ".join(page_texts(data)))

    for name in NAMES:
        assert unicodedata.normalize("NFC", name) in text
        assert name not in text  # the decomposed form would mean un-normalised drawing


def test_it_keeps_a_quiet_zone_and_at_least_35_mm_around_each_qr(six_on_a4):
    _, data = six_on_a4
    dpi = 150
    image = render(data, dpi)[0].convert("L")
    pixels = image.load()

    for barcode in zxingcpp.read_barcodes(image):
        modules = 17 + 4 * int(barcode.extra["Version"])
        left, top = barcode.position.top_left.x, barcode.position.top_left.y
        right, bottom = barcode.position.bottom_right.x, barcode.position.bottom_right.y
        module = (right - left) / modules
        quiet = 4 * module
        assert (right - left + 2 * quiet) / dpi * 25.4 >= 35
        # Sample a ring inside the quiet zone, clear of the anti-aliased edge of the symbol.
        for t in range(0, 101, 5):
            x = left + (right - left) * t / 100
            y = top + (bottom - top) * t / 100
            for px, py in (
                (x, top - quiet + 2),
                (x, bottom + quiet - 2),
                (left - quiet + 2, y),
                (right + quiet - 2, y),
            ):
                assert pixels[round(px), round(py)] > 230


def test_it_prints_one_a6_permit_whose_qr_survives_a_100_dpi_jpeg():
    permit = card(7, qr_text=qr_text(7, length=320))
    data = render_sheets([permit], reference="YC-2021-0915-008", layout="a6")

    doc = pdfium.PdfDocument(data)
    assert len(doc) == 1
    width, height = doc[0].get_size()
    assert (round(width / mm), round(height / mm)) == (105, 148)
    ARTIFACTS.mkdir(exist_ok=True)
    render(data, 200)[0].save(ARTIFACTS / "permits-a6-page1.png")

    photo = io.BytesIO()
    render(data, 100)[0].convert("RGB").save(photo, "JPEG", quality=70)
    reopened = Image.open(io.BytesIO(photo.getvalue()))

    assert [b.text for b in zxingcpp.read_barcodes(reopened)] == [permit.qr_text]


def test_it_also_decodes_qr_codes_drawn_as_images():
    # The bench compares both ways of drawing; keep the slower-to-read one honest too.
    permits = [card(i) for i in range(1, 5)]
    data = render_sheets(permits, reference="R", qr_drawing="image")

    found = {b.text for b in zxingcpp.read_barcodes(render(data, 150)[0])}

    assert found == {p.qr_text for p in permits}


def chars_outside_frames(data: bytes, frames: list[tuple[float, float, float, float]]) -> str:
    """Characters not inside any card frame (x0, y0, x1, y1 in points), footer excluded."""
    textpage = pdfium.PdfDocument(data)[0].get_textpage()
    outside = []
    for i in range(textpage.count_chars()):
        char = textpage.get_text_range(i, 1)
        if not char.strip():
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        if top < 7 * mm:  # the footer line below the frames
            continue
        if not any(
            x0 <= left and right <= x1 and y0 <= bottom and top <= y1 for x0, y0, x1, y1 in frames
        ):
            outside.append(char)
    return "".join(outside)


def inner_frames(layout: str) -> list[tuple[float, float, float, float]]:
    inner = 1.2 * mm  # inside the double border
    w, h = pdf.CARD_W * mm, pdf.CARD_H * mm
    origins = [(7 * mm, 7 * mm)]
    if layout == "a4x4":
        origins = [(7 * mm + dx, 7.25 * mm + dy) for dy in (0, 148.5 * mm) for dx in (0, 105 * mm)]
    return [(x + inner, y + inner, x + w - inner, y + h - inner) for x, y in origins]


def test_it_fits_a_31_character_name_three_areas_and_a_plate():
    name = "Tôn Nữ Hoàng Phương Thảo Nguyên"
    assert len(name) == 31
    permit = card(
        full_name=name,
        areas=("Hai Bà Trưng", "Nam Từ Liêm", "Bắc Từ Liêm"),
        vehicle_plate="29A-123.45",
        organisation="Tập đoàn Công nghiệp - Viễn thông Quân đội (Viettel)",
        job_title="Nhân viên kỹ thuật ứng cứu thông tin trạm BTS",
    )
    data = render_sheets([permit], reference="R", layout="a6")

    text = flat(page_texts(data)[0])
    assert name in text
    assert "Hai Bà Trưng, Nam Từ Liêm, Bắc Từ Liêm" in text
    assert "29A-123.45" in text
    assert chars_outside_frames(data, inner_frames("a6")) == ""


def test_it_never_lets_an_absurdly_long_value_run_off_the_card():
    permit = card(
        full_name="Nguyễn " * 20 + "Văn",
        organisation="Công ty " * 60,
        job_title="X" * 200,  # one unbreakable word
        areas=tuple(f"Quận số {i} mở rộng" for i in range(40)),
    )
    data = render_sheets([permit] * 4, reference="R")

    assert chars_outside_frames(data, inner_frames("a4x4")) == ""


def test_it_prints_the_whole_city_when_no_area_is_given():
    data = render_sheets([card(areas=())], reference="R", layout="a6")

    assert WHOLE_CITY in page_texts(data)[0]


def test_it_shows_dates_as_dd_mm_yyyy():
    permit = card(
        date_of_birth=date(1985, 3, 7), valid_from=date(2021, 9, 5), valid_to=date(2021, 9, 19)
    )
    text = page_texts(render_sheets([permit], reference="R", layout="a6"))[0]

    for shown in ("07/03/1985", "05/09/2021", "19/09/2021"):
        assert shown in text
    assert "2021-09-05" not in text


def test_it_shows_the_authorities_serial_and_how_to_check():
    text = flat(page_texts(render_sheets([card(42)], reference="R", layout="a6"))[0])

    for shown in (
        "GIẤY ĐI ĐƯỜNG",
        "SỞ THÔNG TIN VÀ TRUYỀN THÔNG HÀ NỘI",
        "CÔNG AN THÀNH PHỐ HÀ NỘI",
        "Họ và tên",
        "Full name",
        "Số CCCD/CMND",
        "Biển số xe",
        "Phạm vi",
        "Quét mã QR để kiểm tra tại chốt",
        "Scan the QR to verify",
    ):
        assert shown in text
    assert text.count("HN-2021-000042") == 2  # in the header and under the QR


def test_it_numbers_the_pages_and_repeats_the_request_reference(six_on_a4):
    _, data = six_on_a4
    first, second = page_texts(data)

    assert "Trang 1/2" in first and "Trang 2/2" in second
    assert "YC-2021-0915-007" in first and "YC-2021-0915-007" in second


def test_it_marks_only_a_revoked_permit():
    data = render_sheets([card(1), card(2, status="revoked")], reference="R", layout="a6")
    active, revoked = page_texts(data)

    assert "ĐÃ THU HỒI" in revoked and "REVOKED" in revoked
    assert "ĐÃ THU HỒI" not in active


def test_it_reports_progress_up_to_the_total():
    calls = []
    render_sheets(
        [card(i) for i in range(1, 10)], reference="R", progress=lambda d, t: calls.append((d, t))
    )

    assert calls == [(4, 9), (8, 9), (9, 9)]


def test_it_prints_the_same_bytes_for_the_same_input():
    permits = [card(1), card(2)]

    assert render_sheets(permits, reference="R") == render_sheets(permits, reference="R")


def test_it_refuses_nothing_to_print_and_inverted_validity():
    with pytest.raises(ValueError):
        render_sheets([], reference="R")
    with pytest.raises(ValueError):
        render_sheets(
            [card(valid_from=date(2021, 9, 30), valid_to=date(2021, 9, 1))], reference="R"
        )


def test_it_imports_nothing_from_django_or_the_apps():
    tree = ast.parse((ROOT / "permits" / "pdf.py").read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add("." * node.level + (node.module or ""))

    forbidden = ("django", "rest_framework", "guardian", "orgs", "verification", "permits", ".")
    assert [m for m in modules if m.split(".")[0] in forbidden or m.startswith(".")] == []
