"""Render permit sheets ("giấy đi đường") as PDF from plain data.

Pure: plain data in, PDF bytes out. No Django, no ORM (a test checks the imports), so a
print job, a management command and the tests all call the same function.

The layout is a fixed form, like a pre-printed one: every label sits at the same place on
every card, and a value that is too long shrinks (then wraps) inside its
own slot instead of pushing the rest down. That lets the static part of a card (frame,
authorities, title, labels) be drawn once per document as a form XObject and stamped on
each card, which keeps both the file and the rendering time small for thousands of cards.
QR codes are drawn as raw PDF operators (docs/decisions/0004-qr-drawing-in-pdf.md).
"""

from __future__ import annotations

import functools
import importlib.resources
import io
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import zxingcpp
from reportlab import rl_config
from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

# ASCII85 makes every stream 25 % bigger so that the PDF survives 7-bit channels we do not
# use; without it 1,000 permits take 20 % less space and print 35 % faster (ADR 0004).
# reportlab reads this process-wide setting when it writes a stream; nothing else in this
# project writes PDFs.
rl_config.useA85 = 0

DEFAULT_ISSUERS: tuple[str, ...] = (
    "Sở Thông tin và Truyền thông Hà Nội",
    "Công an thành phố Hà Nội",
)
WHOLE_CITY = "Toàn thành phố"
REVOKED = "revoked"

Layout = Literal["a4x4", "a6"]
# "image" and "none" exist for bench/print_permits.py: the ADR compares them with "vector".
QrDrawing = Literal["vector", "image", "none"]

REGULAR = "PermitSans"
BOLD = "PermitSans-Bold"


@dataclass(frozen=True)
class PermitCard:
    serial: str
    full_name: str
    id_number: str
    date_of_birth: date
    organisation: str
    job_title: str
    vehicle_plate: str
    areas: tuple[str, ...]  # district names, already resolved; () means the whole city
    valid_from: date
    valid_to: date
    qr_text: str
    status: str = "active"  # "revoked" prints a large "ĐÃ THU HỒI / REVOKED" mark


# --- Geometry (millimetres, measured down from the top-left corner of a card's frame) ----
CARD_W, CARD_H = 91.0, 134.0  # the frame; an A6 page (105 x 148) leaves 7 mm around it
PAD = 4.0
LABEL_X = PAD
VALUE_X = 31.0
VALUE_W = CARD_W - VALUE_X - PAD
QR_BOX = 40.0  # with the 4-module quiet zone; >= 35 mm keeps modules >= 0.45 mm at v13
QR_QUIET = 4
QR_X = CARD_W - 2.5 - QR_BOX
QR_TOP = 88.5
ASCENT, DESCENT, LEADING = 0.80, 0.22, 1.18  # in em; Be Vietnam Pro, stacked diacritics
INK, LABEL_GREY, EN_GREY, RULE_GREY = 0.0, 0.22, 0.42, 0.65


@dataclass(frozen=True)
class _Row:
    key: str
    vi: str
    en: str
    top: float
    height: float
    font: str
    size: float
    min_size: float


ROWS: tuple[_Row, ...] = (
    _Row("full_name", "Họ và tên", "Full name", 31.0, 10.0, BOLD, 10.5, 6.5),
    _Row("id_number", "Số CCCD/CMND", "ID number", 41.0, 6.2, BOLD, 9.0, 6.0),
    _Row("date_of_birth", "Ngày sinh", "Date of birth", 47.2, 6.2, REGULAR, 9.0, 6.0),
    _Row("organisation", "Đơn vị công tác", "Employer", 53.4, 8.6, REGULAR, 9.0, 5.5),
    _Row("job_title", "Chức vụ", "Job title", 62.0, 6.2, REGULAR, 9.0, 5.5),
    _Row("vehicle_plate", "Biển số xe", "Vehicle plate", 68.2, 6.2, BOLD, 9.0, 6.0),
    _Row("areas", "Phạm vi", "Valid in", 74.4, 12.6, BOLD, 9.0, 4.5),
)
FIELDS_BOTTOM = 87.0


def _nfc(text: str) -> str:
    # Names arrive NFD from macOS/Excel; the font has only precomposed Vietnamese glyphs.
    return unicodedata.normalize("NFC", text)


def _dmy(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


@functools.cache
def _register_fonts() -> None:
    """Register Be Vietnam Pro (regular, bold) once per process; reportlab keeps a global
    registry and re-parsing the TTF for every document would cost ~20 ms."""
    root = importlib.resources.files("fontpkg_be_vietnam_pro")
    meta = json.loads((root / "metadata.json").read_text(encoding="utf-8"))
    by_weight = {
        f["weight"]: f["path"]
        for f in meta["files"]
        if f["style"] == "normal" and not f.get("variable")
    }
    for name, weight in ((REGULAR, 400), (BOLD, 700)):
        # Bytes, not a path: works however the package is installed (zip, wheel dir).
        data = (root / by_weight[weight]).read_bytes()
        pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))


# --- Text fitting -----------------------------------------------------------------------


def _block_height(lines: int, size: float) -> float:
    return size * (ASCENT + DESCENT + LEADING * (lines - 1))


def _wrap(words: list[str], widths: list[float], space: float, limit: float) -> list[str] | None:
    """Greedy word wrap at font size 1; None when one word alone is wider than the slot."""
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word, w in zip(words, widths, strict=True):
        if w > limit:
            return None
        if current and used + space + w > limit:
            lines.append(" ".join(current))
            current, used = [], 0.0
        used = used + space + w if current else w
        current.append(word)
    lines.append(" ".join(current))
    return lines


def _fit(
    words: Sequence[str], font: str, width: float, height: float, size: float, min_size: float
) -> tuple[float, list[str]]:
    """Font size and lines for a value in its slot (points). `words` are the units a line
    may break between (a district name is one unit). Prefers one line at up to 20 % smaller,
    then wraps at the largest size that fits; below `min_size` it breaks inside words and,
    as a last resort, cuts with an ellipsis: a value must never run over the card or into
    another field."""
    sw = pdfmetrics.stringWidth
    words = [w for w in words if w]
    if not words:
        return size, [""]
    widths = [sw(w, font, 1) for w in words]
    space = sw(" ", font, 1)
    single = min(size, width / (sum(widths) + space * (len(words) - 1)))
    single = int(single * 4) / 4  # quarter points keep the stream tidy
    if single >= max(min_size, 0.8 * size) and _block_height(1, single) <= height:
        return single, [" ".join(words)]
    while True:
        lines = _wrap(words, widths, space, width / size)
        if lines is not None and _block_height(len(lines), size) <= height:
            return size, lines
        if size <= min_size:
            break
        size = max(min_size, size - 0.5)
    limit = width / size
    pieces: list[str] = []
    for word, w in zip(words, widths, strict=True):
        if w <= limit:
            pieces.append(word)
            continue
        chunk = ""  # an unbreakable word wider than the slot: break it where it must
        for ch in word:
            if chunk and sw(chunk + ch, font, 1) > limit:
                pieces.append(chunk)
                chunk = ""
            chunk += ch
        pieces.append(chunk)
    lines = _wrap(pieces, [sw(p, font, 1) for p in pieces], space, limit) or [""]
    max_lines = max(1, int((height / size - ASCENT - DESCENT) / LEADING) + 1)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and sw(last + "…", font, size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip(" ,") + "…"
    return size, lines


# --- QR codes ---------------------------------------------------------------------------

_DARK_RUN = re.compile(rb"\x00+")
_TO_BITS = bytes.maketrans(b"\x00\xff", b"01")


def _qr_matrix(text: str) -> tuple[int, bytes]:
    """Module matrix (row-major, 0 = dark, 255 = light) of `text` at EC level Q."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
    if code.ec_level != "Q":  # create_barcode ignores keywords it does not know
        raise RuntimeError(f"zxing-cpp encoded at level {code.ec_level!r}, not Q")
    image = code.to_image(scale=1, add_quiet_zones=False)
    # zxingcpp.Image exports the buffer protocol; its stub does not declare it.
    return image.shape[1], bytes(memoryview(image))  # type: ignore[arg-type]


def _qr_vector(n: int, data: bytes, x: float, y: float, size: float) -> str:
    """One path of `re` operators, one per horizontal run of dark modules, in module units
    (short integers). Filled by a single `f`, so touching rows leave no anti-aliasing seam."""
    unit = size / (n + 2 * QR_QUIET)
    x0, y0 = x + QR_QUIET * unit, y + QR_QUIET * unit
    ops = [f"q 0 g {unit:.5f} 0 0 {unit:.5f} {x0:.3f} {y0:.3f} cm"]
    append = ops.append
    for r in range(n):
        row_y = n - 1 - r  # PDF y grows upwards, the matrix is stored top row first
        for m in _DARK_RUN.finditer(data, r * n, r * n + n):
            start, end = m.span()
            append(f"{start - r * n} {row_y} {end - start} 1 re")
    append("f Q")
    return "\n".join(ops)


def _qr_image(n: int, data: bytes, x: float, y: float, size: float) -> str:
    """A 1-bit inline image, one pixel per module, scaled up without interpolation."""
    unit = size / (n + 2 * QR_QUIET)
    pad = "1" * (-n % 8)  # rows are padded to whole bytes; 1 = white in DeviceGray
    rows = [
        int(data[r * n : r * n + n].translate(_TO_BITS).decode() + pad, 2).to_bytes((n + 7) // 8)
        for r in range(n)
    ]
    side = n * unit
    return (
        f"q {side:.4f} 0 0 {side:.4f} {x + QR_QUIET * unit:.3f} {y + QR_QUIET * unit:.3f} cm "
        f"BI /W {n} /H {n} /BPC 1 /CS /G /I false /F /AHx ID {b''.join(rows).hex()}> EI Q"
    )


# --- Drawing ------------------------------------------------------------------------------


def _draw_lines(
    c: Canvas, lines: list[str], x: float, top: float, font: str, size: float, centre_w: float = 0
) -> None:
    """Draw lines of a block whose top edge is at height `top` (points)."""
    c.setFont(font, size)
    baseline = top - ASCENT * size
    for line in lines:
        if centre_w:
            c.drawCentredString(x + centre_w / 2, baseline, line)
        else:
            c.drawString(x, baseline, line)
        baseline -= LEADING * size


def _y(top_mm: float) -> float:
    """Card coordinates: millimetres from the frame's top -> points from its bottom."""
    return (CARD_H - top_mm) * mm


def _label(c: Canvas, vi: str, en: str, x: float, top_mm: float) -> None:
    c.setFillGray(LABEL_GREY)
    c.setFont(REGULAR, 7)
    c.drawString(x * mm, _y(top_mm + 2.9), vi)
    c.setFillGray(EN_GREY)
    c.setFont(REGULAR, 5.3)
    c.drawString(x * mm, _y(top_mm + 5.1), en)


def _draw_card_form(c: Canvas, issuers: Sequence[str]) -> None:
    """The part of a card that is the same on every card of the document."""
    c.beginForm("card", 0, 0, CARD_W * mm, CARD_H * mm)
    c.setLineWidth(0.9)
    c.setStrokeGray(INK)
    c.rect(0, 0, CARD_W * mm, CARD_H * mm)
    c.setLineWidth(0.3)
    c.rect(1.2 * mm, 1.2 * mm, (CARD_W - 2.4) * mm, (CARD_H - 2.4) * mm)

    # One authority per line, all at the size at which the longest fits the width.
    names = [_nfc(line).upper() for line in issuers] or [""]
    width = (CARD_W - 2 * PAD) * mm
    size = min(6.8, 8.0 * mm / (ASCENT + DESCENT + LEADING * (len(names) - 1)))
    for name in names:
        size = min(size, width / max(1.0, pdfmetrics.stringWidth(name, BOLD, 1)))
    c.setFillGray(INK)
    _draw_lines(c, names, PAD * mm, _y(3.4), BOLD, size, centre_w=width)
    c.setLineWidth(0.6)
    c.line((CARD_W / 2 - 12) * mm, _y(11.6), (CARD_W / 2 + 12) * mm, _y(11.6))

    c.setFont(BOLD, 17)
    c.drawCentredString(CARD_W / 2 * mm, _y(19.4), "GIẤY ĐI ĐƯỜNG")
    c.setFillGray(EN_GREY)
    c.setFont(REGULAR, 6.3)
    c.drawCentredString(CARD_W / 2 * mm, _y(22.6), "TRAVEL PERMIT")

    c.setStrokeGray(RULE_GREY)
    c.setLineWidth(0.35)
    c.line(PAD * mm, _y(ROWS[0].top - 0.6), (CARD_W - PAD) * mm, _y(ROWS[0].top - 0.6))
    c.setLineWidth(0.2)
    c.setDash(0.6, 1.2)
    for row in ROWS:
        _label(c, row.vi, row.en, LABEL_X, row.top)
        bottom = row.top + row.height
        if row is not ROWS[-1]:
            c.line(VALUE_X * mm, _y(bottom - 0.5), (CARD_W - PAD) * mm, _y(bottom - 0.5))
    c.setDash()
    c.setLineWidth(0.35)
    c.line(PAD * mm, _y(FIELDS_BOTTOM), (CARD_W - PAD) * mm, _y(FIELDS_BOTTOM))

    _label(c, "Hiệu lực từ ngày", "Valid from", PAD, 90.0)
    _label(c, "đến hết ngày", "Valid until (inclusive)", PAD, 104.0)
    c.setFillGray(LABEL_GREY)
    c.setFont(BOLD, 6.6)
    c.drawString(PAD * mm, _y(123.8), "Quét mã QR để kiểm tra tại chốt")
    c.setFillGray(EN_GREY)
    c.setFont(REGULAR, 5.3)
    c.drawString(PAD * mm, _y(126.4), "Scan the QR to verify")
    c.endForm()


def _draw_card(c: Canvas, card: PermitCard, qr_drawing: QrDrawing) -> None:
    """Variable part of a card; the origin is the bottom-left corner of its frame."""
    c.doForm("card")
    c.setFillGray(INK)
    serial = _nfc(card.serial)
    c.setFont(REGULAR, 7.5)
    label = "Số / No.: "
    width = pdfmetrics.stringWidth(label, REGULAR, 7.5) + pdfmetrics.stringWidth(serial, BOLD, 9)
    x = (CARD_W * mm - width) / 2
    c.drawString(x, _y(27.4), label)
    c.setFont(BOLD, 9)
    c.drawString(x + pdfmetrics.stringWidth(label, REGULAR, 7.5), _y(27.4), serial)

    areas = [_nfc(area) for area in card.areas]
    words = {
        "full_name": card.full_name.split(),
        "id_number": card.id_number.split(),
        "date_of_birth": [_dmy(card.date_of_birth)],
        "organisation": card.organisation.split(),
        "job_title": card.job_title.split(),
        "vehicle_plate": card.vehicle_plate.split() or ["—"],
        # Lines break between districts, never inside "Hai Bà Trưng".
        "areas": [f"{a}," for a in areas[:-1]] + areas[-1:] if areas else WHOLE_CITY.split(),
    }
    for row in ROWS:
        size, lines = _fit(
            [_nfc(word) for word in words[row.key]],
            row.font,
            VALUE_W * mm,
            (row.height - 0.9) * mm,
            row.size,
            row.min_size,
        )
        if len(lines) == 1:  # level with the Vietnamese label, as on a printed form
            top = min(_y(row.top + 2.9) + ASCENT * size, _y(row.top + 0.3))
        else:
            top = _y(row.top + 0.4)
        _draw_lines(c, lines, VALUE_X * mm, top, row.font, size)

    c.setFont(BOLD, 13)
    c.drawString(PAD * mm, _y(100.6), _dmy(card.valid_from))
    c.drawString(PAD * mm, _y(114.6), _dmy(card.valid_to))

    qr_x, qr_y = QR_X * mm, _y(QR_TOP + QR_BOX)
    if qr_drawing != "none":
        n, data = _qr_matrix(card.qr_text)
        draw = _qr_vector if qr_drawing == "vector" else _qr_image
        c.addLiteral(draw(n, data, qr_x, qr_y, QR_BOX * mm))
    c.setFillGray(INK)
    c.setFont(BOLD, 7)
    c.drawCentredString(qr_x + QR_BOX * mm / 2, _y(QR_TOP + QR_BOX + 2.6), serial)

    if card.status == REVOKED:
        _draw_revoked(c)


def _draw_revoked(c: Canvas) -> None:
    c.saveState()
    c.setFillColorRGB(0.8, 0.05, 0.05, alpha=0.8)
    c.setStrokeColorRGB(0.8, 0.05, 0.05, alpha=0.8)
    c.translate(CARD_W / 2 * mm, _y(58))
    c.rotate(32)
    c.setLineWidth(2.5)
    c.roundRect(-38 * mm, -12 * mm, 76 * mm, 24 * mm, 3 * mm)
    c.setFont(BOLD, 26)
    c.drawCentredString(0, 0.5 * mm, "ĐÃ THU HỒI")
    c.setFont(BOLD, 14)
    c.drawCentredString(0, -7.5 * mm, "REVOKED")
    c.restoreState()


def _draw_cut_marks(c: Canvas) -> None:
    """Ticks at the page edges and a cross in the middle, where the guillotine cuts, plus a
    light dashed guide through the gutters for cutting with scissors."""
    w, h = A4
    cx, cy = w / 2, h / 2
    c.setStrokeGray(0.75)
    c.setLineWidth(0.2)
    c.setDash(2, 2)
    c.line(cx, 0, cx, h)
    c.line(0, cy, w, cy)
    c.setDash()
    c.setStrokeGray(INK)
    c.setLineWidth(0.4)
    tick = 5 * mm
    for x0, y0, x1, y1 in (
        (cx, h, cx, h - tick),
        (cx, 0, cx, tick),
        (0, cy, tick, cy),
        (w, cy, w - tick, cy),
        (cx - tick, cy, cx + tick, cy),
        (cx, cy - tick, cx, cy + tick),
    ):
        c.line(x0, y0, x1, y1)


def _draw_footer(c: Canvas, page_w: float, page: int, pages: int, reference: str) -> None:
    c.setFillGray(EN_GREY)
    c.setFont(REGULAR, 6)
    baseline = 3.6 * mm
    margin = 7 * mm
    c.drawString(margin, baseline, f"Yêu cầu / Request: {reference}")
    c.drawRightString(page_w - margin, baseline, f"Trang {page}/{pages}")


def render_sheets(
    cards: Sequence[PermitCard],
    *,
    reference: str,
    layout: Layout = "a4x4",
    issuer_lines: Sequence[str] = DEFAULT_ISSUERS,
    progress: Callable[[int, int], None] | None = None,
    qr_drawing: QrDrawing = "vector",
) -> bytes:
    """PDF bytes: A4 sheets of four A6 permits with cutting marks ("a4x4"), or one permit
    per A6 page ("a6"). `progress(done, total)` is called after each page; the final
    assembly of the file (font subsetting, compression) comes after the last call. The
    same input gives the same bytes (reportlab's invariant mode: fixed dates and ids)."""
    if not cards:
        raise ValueError("no permits to print")
    if layout not in ("a4x4", "a6"):
        raise ValueError(f"unknown layout {layout!r}")
    if qr_drawing not in ("vector", "image", "none"):
        raise ValueError(f"unknown QR drawing {qr_drawing!r}")
    for card in cards:
        if card.valid_to < card.valid_from:
            raise ValueError(f"permit {card.serial}: valid_to is before valid_from")
    _register_fonts()

    per_page = 4 if layout == "a4x4" else 1
    page_size = A4 if layout == "a4x4" else A6
    page_w, page_h = page_size
    margin_x = (page_w / (2 if per_page == 4 else 1) - CARD_W * mm) / 2
    cell_h = page_h / (2 if per_page == 4 else 1)
    margin_y = (cell_h - CARD_H * mm) / 2
    # Reading order on the sheet: top-left, top-right, bottom-left, bottom-right.
    origins = [(margin_x, cell_h + margin_y), (page_w / 2 + margin_x, cell_h + margin_y)]
    origins += [(margin_x, margin_y), (page_w / 2 + margin_x, margin_y)]
    if per_page == 1:
        origins = [(margin_x, margin_y)]

    reference = _nfc(reference)
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=page_size, pageCompression=1, invariant=1)
    c.setTitle(f"Giấy đi đường - {reference}")
    c.setAuthor(" / ".join(_nfc(line) for line in issuer_lines))
    c.setCreator("giaydiduong permits.pdf")
    _draw_card_form(c, issuer_lines)

    total = len(cards)
    pages = -(-total // per_page)
    for page in range(pages):
        chunk = cards[page * per_page : (page + 1) * per_page]
        if per_page == 4:
            _draw_cut_marks(c)
        for card, (x, y) in zip(chunk, origins, strict=False):
            c.saveState()
            c.translate(x, y)
            _draw_card(c, card, qr_drawing)
            c.restoreState()
        _draw_footer(c, page_w, page + 1, pages, reference)
        c.showPage()
        if progress is not None:
            progress(min(total, (page + 1) * per_page), total)
    c.save()
    return buffer.getvalue()
