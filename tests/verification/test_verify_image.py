"""POST /api/v1/verify/image/: a photo of a printed permit, however it was taken.

The permit is rendered by permits.pdf exactly as it is printed, rasterised with pdfium,
then turned, shrunk and JPEG-compressed the way a phone camera or a cheap scanner would.
"""

# ruff: noqa: F401, F811  (fixtures imported from test_verify_api)

from __future__ import annotations

import io
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image

from permits.credential import Claims
from permits.pdf import PermitCard, render_sheets
from tests.verification.test_verify_api import claims_for, officer, sign, signing_key
from verification.models import Scan
from verification.services import decode_qr_image

URL = "/api/v1/verify/image/"


def permit_card(claims: Claims, qr: str) -> PermitCard:
    return PermitCard(
        serial=claims.serial,
        full_name=claims.full_name,
        id_number="001190002817",
        date_of_birth=claims.date_of_birth,
        organisation="Tập đoàn Bưu chính Viễn thông Việt Nam",
        job_title="Kỹ thuật viên trạm BTS",
        vehicle_plate=claims.vehicle_plate or "",
        areas=("Long Biên", "Cầu Giấy"),
        valid_from=claims.valid_from,
        valid_to=claims.valid_to,
        qr_text=qr,
    )


def render_permit(claims: Claims, qr: str, *, scale: float = 200 / 72) -> Image.Image:
    """The printed A6 permit as an RGB image (200 dpi by default)."""
    pdf = render_sheets([permit_card(claims, qr)], reference="YC-TEST", layout="a6")
    document = pdfium.PdfDocument(pdf)
    try:
        return document[0].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def jpeg(image: Image.Image, quality: int = 60) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def photographed(image: Image.Image, *, angle: float, scale: float) -> bytes:
    turned = image.rotate(angle, expand=True, fillcolor=(235, 232, 225), resample=Image.BICUBIC)
    size = (round(turned.width * scale), round(turned.height * scale))
    return jpeg(turned.resize(size, Image.LANCZOS), quality=60)


def upload(client: Any, data: bytes, name: str = "permit.jpg", **extra: Any) -> Any:
    return client.post(URL, {"image": _named(data, name), **extra})


def _named(data: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def printed(signing_key: Any) -> tuple[Claims, str, Image.Image]:
    claims = claims_for()
    qr = sign(claims)
    return claims, qr, render_permit(claims, qr)


@pytest.mark.parametrize("angle", [0, 90, 180, 37])
def test_a_turned_half_size_jpeg_photo_of_the_printed_permit_is_valid(officer, printed, angle):
    claims, _qr, image = printed
    response = upload(officer, photographed(image, angle=angle, scale=0.5))
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == "valid", body
    assert body["qr_found"] is True
    assert body["permit"]["full_name"] == claims.full_name
    scan = Scan.objects.get()
    assert scan.source == "image" and scan.serial == claims.serial


def test_a_low_resolution_scan_still_decodes(printed):
    _claims, qr, image = printed
    small = image.resize((image.width // 3, image.height // 3), Image.LANCZOS)  # ~67 dpi
    assert decode_qr_image(jpeg(small, quality=60)) == qr


def test_the_exif_orientation_of_a_phone_photo_is_honoured(printed):
    _claims, qr, image = printed
    turned = image.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = io.BytesIO()
    turned.save(out, "JPEG", quality=70, exif=exif)
    assert decode_qr_image(out.getvalue()) == qr


def test_a_png_works_too(printed):
    _claims, qr, image = printed
    out = io.BytesIO()
    image.convert("L").save(out, "PNG")
    assert decode_qr_image(out.getvalue()) == qr


def test_an_image_without_a_qr_is_malformed_and_logged(officer):
    blank = Image.new("RGB", (640, 480), (200, 200, 200))
    body = upload(officer, jpeg(blank)).json()
    assert body["result"] == "malformed"
    assert body["qr_found"] is False
    assert body["permit"] is None
    assert "QR" in body["reason"]
    assert Scan.objects.get().result == "malformed"


def test_a_camera_frame_without_a_qr_is_not_a_scan(officer):
    blank = Image.new("RGB", (640, 480), (90, 90, 90))
    body = upload(officer, jpeg(blank), frame="true").json()
    assert body["result"] == "malformed" and body["qr_found"] is False
    assert not Scan.objects.exists()


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.4 not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a" + b"\xff" * 30],
)
def test_a_non_image_upload_is_malformed(officer, data):
    response = upload(officer, data, name="permit.pdf")
    assert response.status_code == 200
    assert response.json()["result"] == "malformed"


def test_a_missing_image_is_a_400(officer):
    response = officer.post(URL, {})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "image"


def test_other_roles_are_refused(alice):
    from tests.conftest import client_for

    assert upload(client_for(alice), b"x").status_code == 403
