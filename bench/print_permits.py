"""How fast permits print, and how well their QR codes survive low-resolution copies.

Prints 1,000 and 10,000 permits (A4 sheets of four) with each way of drawing the QR code
that permits/pdf.py offers, against a baseline in the same run: the same layout without QR
codes. Reports permits per second (wall and CPU, one process, one thread) and file size;
then renders the first pages of each 1,000-permit file at low resolutions, as a phone or a
cheap scanner would see a printed copy, and counts the QR codes that still decode.

    .venv/bin/python bench/print_permits.py                # the figures in ADR 0004
    .venv/bin/python bench/print_permits.py --counts 1000 --decode-pages 5

QR texts are random strings of 220-320 characters from the QR alphanumeric alphabet after
"TP1:", close to what permits/credential.py signs; the bench does not depend on it.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image, ImageFilter
from reportlab import rl_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from permits import pdf
from permits.pdf import PermitCard, render_sheets

QR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thu", "Quang", "Thanh", "Hữu", "Ngọc", "Xuân", ""]
GIVEN = ["Hương", "Tuấn", "Dũng", "Hằng", "Thảo", "Phương", "Hưng", "Trường", "Yến", "Cường"]
EMPLOYERS = [
    "Tổng công ty Bưu điện Việt Nam",
    "Tập đoàn Công nghiệp - Viễn thông Quân đội (Viettel)",
    "VNPT Hà Nội",
    "Tổng công ty Viễn thông MobiFone",
    "Công ty Cổ phần Giao hàng Tiết kiệm",
]
JOBS = ["Bưu tá", "Kỹ thuật viên trạm BTS", "Nhân viên giao hàng", "Lái xe", "Kỹ sư mạng lưới"]
DISTRICTS = ["Ba Đình", "Hoàn Kiếm", "Tây Hồ", "Long Biên", "Cầu Giấy", "Đống Đa"]
DISTRICTS += ["Hai Bà Trưng", "Hoàng Mai", "Thanh Xuân", "Nam Từ Liêm", "Hà Đông", "Gia Lâm"]


def make_cards(count: int, seed: int = 2021) -> list[PermitCard]:
    rnd = random.Random(seed)
    cards = []
    for i in range(count):
        given = [rnd.choice(MIDDLE), rnd.choice(GIVEN)]
        name = " ".join(part for part in [rnd.choice(SURNAMES), *given] if part)
        birth = date(1965, 1, 1) + timedelta(days=rnd.randrange(365 * 38))
        start = date(2021, 9, 6) + timedelta(days=rnd.randrange(14))
        plate = rnd.choice(["", f"29-B1 {rnd.randrange(100, 999)}.{rnd.randrange(10, 99)}"])
        areas = tuple(rnd.sample(DISTRICTS, rnd.choice([0, 1, 2, 3, 5])))
        qr_len = rnd.randint(220, 320)
        cards.append(
            PermitCard(
                serial=f"HN-2021-{i + 1:06d}",
                full_name=name,
                id_number=f"0010{birth.year % 100:02d}{rnd.randrange(10**6):06d}",
                date_of_birth=birth,
                organisation=rnd.choice(EMPLOYERS),
                job_title=rnd.choice(JOBS),
                vehicle_plate=plate,
                areas=areas,
                valid_from=start,
                valid_to=start + timedelta(days=13),
                qr_text="TP1:" + "".join(rnd.choices(QR_ALPHABET, k=qr_len)),
            )
        )
    return cards


def timed(cards: list[PermitCard], method: pdf.QrDrawing) -> tuple[bytes, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    data = render_sheets(cards, reference="BENCH-0001", qr_drawing=method)
    return data, time.perf_counter() - wall, time.process_time() - cpu


def render(page: pdfium.PdfPage, dpi: float) -> Image.Image:
    return page.render(scale=dpi / 72).to_pil().convert("L")


def jpeg(image: Image.Image, quality: int = 70) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def scan_like(page: pdfium.PdfPage, dpi: float) -> Image.Image:
    """A cheap scan of a print: sharp 300 dpi render, lens/toner blur, downsample, JPEG."""
    sharp = render(page, 300).filter(ImageFilter.GaussianBlur(1.5))
    small = sharp.resize((round(sharp.width * dpi / 300), round(sharp.height * dpi / 300)))
    return jpeg(small, 60)


CONDITIONS: dict[str, Callable[[pdfium.PdfPage], Image.Image]] = {
    "150 dpi": lambda p: render(p, 150),
    "100 dpi": lambda p: render(p, 100),
    "100 dpi JPEG q70": lambda p: jpeg(render(p, 100)),
    "100 dpi scan-like": lambda p: scan_like(p, 100),
    "85 dpi scan-like": lambda p: scan_like(p, 85),
    "75 dpi JPEG q70": lambda p: jpeg(render(p, 75)),
    "72 dpi": lambda p: render(p, 72),
    "60 dpi": lambda p: render(p, 60),
}


def decoded(data: bytes, cards: list[PermitCard], pages: int) -> dict[str, int]:
    doc = pdfium.PdfDocument(data)
    expected = {card.qr_text for card in cards[: pages * 4]}
    found = dict.fromkeys(CONDITIONS, 0)
    for index in range(min(pages, len(doc))):
        page = doc[index]
        for name, condition in CONDITIONS.items():
            texts = {b.text for b in zxingcpp.read_barcodes(condition(page))}
            found[name] += len(texts & expected)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--methods", nargs="+", default=["none", "vector", "image"])
    parser.add_argument("--decode-pages", type=int, default=25, help="0 skips decoding")
    parser.add_argument("--save", type=Path, help="folder to write the 1,000-permit PDFs to")
    args = parser.parse_args()

    started = time.perf_counter()
    render_sheets(make_cards(1), reference="warm-up")  # font registration: once per process
    print(f"first call (registers fonts): {time.perf_counter() - started:.2f} s")

    print(
        "\n| permits | QR drawing | permits/s (wall) | permits/s (CPU) | file size | per permit |"
    )
    print("|---:|---|---:|---:|---:|---:|")
    kept: dict[str, bytes] = {}
    small = make_cards(min(args.counts))
    for count in args.counts:
        cards = small if count == len(small) else make_cards(count)
        for method in args.methods:
            data, wall, cpu = timed(cards, method)
            if count == len(small):
                kept[method] = data
            label = "none (baseline)" if method == "none" else method
            print(
                f"| {count:,} | {label} | {count / wall:,.0f} | {count / cpu:,.0f} "
                f"| {len(data) / 1e6:.2f} MB | {len(data) / count / 1e3:.1f} kB |"
            )

    # The same vector file with reportlab's default ASCII85 stream encoding, for the ADR.
    rl_config.useA85 = 1
    try:
        data, wall, _ = timed(small, "vector")
    finally:
        rl_config.useA85 = 0
    print(
        f"| {len(small):,} | vector, ASCII85 on | {len(small) / wall:,.0f} | | "
        f"{len(data) / 1e6:.2f} MB | {len(data) / len(small) / 1e3:.1f} kB |"
    )

    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for method, data in kept.items():
            (args.save / f"permits-{len(small)}-{method}.pdf").write_bytes(data)

    if args.decode_pages:
        total = min(args.decode_pages * 4, len(small))
        print(
            f"\nQR codes decoded by zxing-cpp out of {total} (first {args.decode_pages} A4 pages):"
        )
        methods = [m for m in kept if m != "none"]
        print("\n| rendering | " + " | ".join(methods) + " |")
        print("|---|" + "---:|" * len(methods))
        results = {m: decoded(kept[m], small, args.decode_pages) for m in methods}
        for condition in CONDITIONS:
            print(
                f"| {condition} | " + " | ".join(str(results[m][condition]) for m in methods) + " |"
            )


if __name__ == "__main__":
    main()
