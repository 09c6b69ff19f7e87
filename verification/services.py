"""Checking permits at a checkpoint: verify a QR text, log the scan, flag suspected copies.

`verify_scan` is the one entry point for the API, the scanner page and the offline upload.
It never raises for any QR text: an officer in the rain must always get an answer, so
junk answers "malformed" like a torn QR code does. It writes one Scan row per call.

`decode_qr_image` reads the QR text out of a photo or a scan (zxing-cpp on Pillow).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from config.routers import replica_reads
from orgs.errors import InvalidInput
from orgs.models import Area, Checkpoint, Profile
from permits import credential
from permits.credential import Claims, Outcome
from permits.models import Permit, PermitStatus
from verification.models import Scan, ScanResult

logger = logging.getLogger(__name__)

# Results that come from a signature that checked out: only these carry a trustworthy serial
# for copy detection (a forger can write any serial into a text we cannot verify).
AUTHENTIC = frozenset(
    {
        ScanResult.VALID,
        ScanResult.EXPIRED,
        ScanResult.NOT_YET_VALID,
        ScanResult.REVOKED,
        ScanResult.WRONG_AREA,
    }
)
SOURCES = frozenset({"online", "image", "offline"})
OFFLINE_BATCH_MAX = 500
# A device's clock may run a little fast; a scan "from the future" beyond this is clamped.
CLOCK_SKEW = timedelta(minutes=5)


class AreaAnswer(TypedDict):
    code: str
    name: str


class PermitAnswer(TypedDict):
    serial: str
    full_name: str
    id_last4: str
    date_of_birth: str
    organization: str
    valid_from: str
    valid_to: str
    areas: list[AreaAnswer]
    vehicle_plate: str | None


class ScanAnswer(TypedDict):
    result: str
    permit: PermitAnswer | None
    reason: str
    suspected_copy: bool


class ImageAnswer(ScanAnswer):
    qr_found: bool


User = AbstractBaseUser | AnonymousUser


# --- keys ------------------------------------------------------------------------------


_KEYS_TTL = 30.0  # seconds a process trusts its copy of the key set
_keys_cache: tuple[float, dict[bytes, Any]] | None = None


def _trusted_keys(*, fresh: bool = False) -> dict[bytes, Any]:
    """The keys permits may be signed with (active and retired), by kid.

    Each process keeps the set for _KEYS_TTL seconds (one query less per scan); a kid it
    does not know makes the caller ask again with fresh=True, so a new key works at once.
    A key withdrawn as compromised is trusted at most _KEYS_TTL seconds longer.
    """
    global _keys_cache
    from permits.services.keys import verification_keys

    now = time.monotonic()
    if fresh or _keys_cache is None or now - _keys_cache[0] > _KEYS_TTL:
        _keys_cache = (now, dict(verification_keys()))
    return _keys_cache[1]


_AREAS_TTL = 300.0
_areas_cache: tuple[float, dict[str, str]] | None = None


def _all_area_names() -> dict[str, str]:
    """District names, reference data loaded by a migration: read once per process."""
    global _areas_cache
    now = time.monotonic()
    if _areas_cache is None or now - _areas_cache[0] > _AREAS_TTL or not _areas_cache[1]:
        _areas_cache = (now, dict(Area.objects.values_list("code", "name")))
    return _areas_cache[1]


# --- the answer ------------------------------------------------------------------------


def _dmy(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _area_names(codes: Iterable[str]) -> dict[str, str]:
    codes = list(codes)
    if not codes:
        return {}
    names = _all_area_names()
    return {c: names[c] for c in codes if c in names}


def _permit_answer(claims: Claims, names: dict[str, str]) -> PermitAnswer:
    return {
        "serial": claims.serial,
        "full_name": claims.full_name,
        "id_last4": claims.id_last4,
        "date_of_birth": claims.date_of_birth.isoformat(),
        "organization": claims.org_short_name,
        "valid_from": claims.valid_from.isoformat(),
        "valid_to": claims.valid_to.isoformat(),
        "areas": [{"code": c, "name": names.get(c, c)} for c in claims.areas],
        "vehicle_plate": claims.vehicle_plate,
    }


def _reason(result: str, claims: Claims | None, *, names: dict[str, str], district: str) -> str:
    if result == ScanResult.VALID and claims is not None:
        where = ", ".join(names.get(c, c) for c in claims.areas) or _("toàn thành phố")
        return _("Giấy hợp lệ đến hết ngày %(to)s, tại %(where)s.") % {
            "to": _dmy(claims.valid_to),
            "where": where,
        }
    if result == ScanResult.EXPIRED and claims is not None:
        return _("Giấy đã hết hạn (hiệu lực đến hết ngày %(to)s).") % {"to": _dmy(claims.valid_to)}
    if result == ScanResult.NOT_YET_VALID and claims is not None:
        return _("Giấy chưa có hiệu lực (hiệu lực từ ngày %(from)s).") % {
            "from": _dmy(claims.valid_from)
        }
    if result == ScanResult.WRONG_AREA and claims is not None:
        return _("Giấy không có hiệu lực tại %(here)s; chỉ có hiệu lực tại: %(areas)s.") % {
            "here": names.get(district, district),
            "areas": ", ".join(names.get(c, c) for c in claims.areas),
        }
    messages = {
        ScanResult.REVOKED: _("Giấy đã bị thu hồi. Không cho qua chốt."),
        ScanResult.INVALID_SIGNATURE: _(
            "Chữ ký số không đúng: mã đã bị sửa hoặc giả mạo. Không cho qua chốt."
        ),
        ScanResult.UNKNOWN_KEY: _(
            "Mã được ký bằng khóa không do cơ quan cấp giấy công bố. Không cho qua chốt."
        ),
        ScanResult.MALFORMED: _("Không phải mã QR của giấy đi đường, hoặc mã bị hỏng."),
    }
    return str(messages.get(ScanResult(result), _("Không đọc được mã.")))


# --- the checkpoint ------------------------------------------------------------------


def checkpoint_for(*, officer: Any, code: str | None) -> Checkpoint | None:
    """The checkpoint a scan happens at: the one named in the request, else the officer's.

    An unknown code is a caller's error (InvalidInput), not a permit's: guessing a district
    would make "wrong_area" answers meaningless.
    """
    code = (code or "").strip()
    if code:
        checkpoint = (
            Checkpoint.objects.select_related("district").filter(code=code, is_active=True).first()
        )
        if checkpoint is None:
            raise InvalidInput(_("Không có chốt kiểm soát mã %(code)s.") % {"code": code[:32]})
        return checkpoint
    if officer is None or not getattr(officer, "is_authenticated", False):
        return None
    profile = (
        Profile.objects.select_related("checkpoint__district")
        .filter(user_id=officer.pk, checkpoint__is_active=True)
        .first()
    )
    return profile.checkpoint if profile is not None else None


@dataclass(frozen=True)
class OfficerPlace:
    """Where a scan happens, as much of it as the log and the area check need."""

    checkpoint_id: int | None
    district: str


NOWHERE = OfficerPlace(None, "")
# verification.authentication.CachedTokenAuthentication puts the officer's own place on the
# request's user under this name, so that a scan from a phone needs no lookup for it.
OFFICER_PLACE_ATTR = "_verify_place"


def officer_place(officer: Any) -> OfficerPlace:
    """The officer's own active checkpoint (one query), NOWHERE if none."""
    if officer is None or not getattr(officer, "is_authenticated", False):
        return NOWHERE
    row = (
        Profile.objects.filter(user_id=officer.pk, checkpoint__is_active=True)
        .values_list("checkpoint_id", "checkpoint__district_id")
        .first()
    )
    return OfficerPlace(row[0], row[1]) if row is not None else NOWHERE


def _scan_place(*, officer: Any, code: str | None) -> OfficerPlace:
    """As checkpoint_for, without building model instances, and without a query at all for
    the officer's own checkpoint when the authentication already knows it."""
    code = (code or "").strip()
    if code:
        row = (
            Checkpoint.objects.filter(code=code, is_active=True)
            .values_list("pk", "district_id")
            .first()
        )
        if row is None:
            raise InvalidInput(_("Không có chốt kiểm soát mã %(code)s.") % {"code": code[:32]})
        return OfficerPlace(row[0], row[1])
    known: OfficerPlace | None = getattr(officer, OFFICER_PLACE_ATTR, None)
    return known if known is not None else officer_place(officer)


# --- verification --------------------------------------------------------------------


def is_revoked(serial: str) -> bool:
    """The stored permit with this serial has been revoked."""
    return Permit.objects.filter(serial=serial, status=PermitStatus.REVOKED).exists()


_AUTHENTIC_SORTED = tuple(sorted(str(r) for r in AUTHENTIC))


@cache
def _check_sql(alias: str) -> tuple[str, str]:
    """`EXISTS (...)` for "revoked?" and for "seen elsewhere?", built once per database.

    Written out rather than built by the ORM per scan (which took longer than running
    them). Revoked: the stored permit with this serial is revoked (unique index on serial).
    Seen elsewhere: the same authentic serial scanned at a checkpoint of another district
    within the copy window, looking both ways because offline devices upload their scans
    late (index scan_serial_at_idx). Parameters: see _check_params.
    """
    q = connections[alias].ops.quote_name

    def column(model: Any, name: str) -> str:
        return q(model._meta.get_field(name).column)

    revoked = (
        f"EXISTS (SELECT 1 FROM {q(Permit._meta.db_table)} "  # noqa: S608 - names, not values
        f"WHERE {column(Permit, 'serial')} = %s AND {column(Permit, 'status')} = %s)"
    )
    district = column(Scan, "district_code")
    elsewhere = (
        f"EXISTS (SELECT 1 FROM {q(Scan._meta.db_table)} "  # noqa: S608 - names, not values
        f"WHERE {column(Scan, 'serial')} = %s "
        f"AND {column(Scan, 'at')} >= %s AND {column(Scan, 'at')} <= %s "
        f"AND {column(Scan, 'result')} IN ({', '.join(['%s'] * len(AUTHENTIC))}) "
        f"AND {district} <> '' AND {district} <> %s)"
    )
    return revoked, elsewhere


def _check_params(
    alias: str, *, serial: str, district: str, at: datetime
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    window = timedelta(minutes=settings.COPY_WINDOW_MINUTES)
    adapt = connections[alias].ops.adapt_datetimefield_value
    revoked = (serial, str(PermitStatus.REVOKED))
    elsewhere = (serial, adapt(at - window), adapt(at + window), *_AUTHENTIC_SORTED, district)
    return revoked, elsewhere


def _select(alias: str, sql: str, params: tuple[Any, ...]) -> tuple[bool, ...]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(bool(value) for value in cursor.fetchone())


def _revoked_and_seen_elsewhere(*, serial: str, district: str, at: datetime) -> tuple[bool, bool]:
    """(the permit is revoked, it was scanned in another district within the copy window).

    One round trip, `SELECT EXISTS (...), EXISTS (...)`, when permits and the scan log are
    read from the same database; two when permits are read from a replica (the scan log is
    always read where it is written, on the primary). Without a district there is nothing
    to call a copy, and only revocation is looked up. Call inside replica_reads().
    """
    if not district:
        return is_revoked(serial), False
    permits_db, scans_db = router.db_for_read(Permit), router.db_for_read(Scan)
    revoked_params, elsewhere_params = _check_params(
        scans_db, serial=serial, district=district, at=at
    )
    if permits_db == scans_db:
        revoked_sql, elsewhere_sql = _check_sql(scans_db)
        revoked, elsewhere = _select(
            scans_db,
            f"SELECT {revoked_sql}, {elsewhere_sql}",
            (*revoked_params, *elsewhere_params),
        )
        return revoked, elsewhere
    (revoked,) = _select(permits_db, f"SELECT {_check_sql(permits_db)[0]}", revoked_params)
    (elsewhere,) = _select(scans_db, f"SELECT {_check_sql(scans_db)[1]}", elsewhere_params)
    return revoked, elsewhere


def _serial_of_unverified(text: str) -> str:
    """The serial a text claims, for the log only (forgery attempts name their target)."""
    try:
        return credential.decode(text)[1].serial
    except Exception:
        return ""


def verify_scan(
    *,
    officer: Any,
    qr: str,
    checkpoint_code: str | None,
    source: str = "online",
    at: datetime | None = None,
    purged_serial: str = "",
) -> ScanAnswer:
    """Verify one scanned QR text at a checkpoint. Writes one Scan row, whatever the text.

    `purged_serial`: a stored permit whose personal data was purged (verify_serial); it is
    logged and answered as expired.

    Order: the TP1 checks of credential.verify on the local date of the scan; then
    "revoked" for any authentic permit whose serial is revoked; then "wrong_area" for a
    valid permit whose areas do not include the checkpoint's district (no areas = the whole
    city). Independently, "suspected_copy" when the same authentic serial was scanned at a
    checkpoint of another district within COPY_WINDOW_MINUTES.
    Raises InvalidInput only for an unknown checkpoint code or source, never for the text.

    Queries: at most two. One that answers both "revoked?" and "seen elsewhere?" (for an
    authentic permit at a known checkpoint), and the Scan insert; the officer's checkpoint
    is one more unless the authentication brought it (verification.authentication), and a
    checkpoint named in the request one more. Keys and district names are cached per
    process. Reads go through replica_reads() (config.routers); the insert to the primary.
    """
    if source not in SOURCES:
        raise InvalidInput(_("Nguồn quét không hợp lệ."))
    at = at or timezone.now()
    text = qr if isinstance(qr, str) else ""
    today = timezone.localdate(at)
    with replica_reads():
        place = _scan_place(officer=officer, code=checkpoint_code)
        district = place.district
        try:
            verification = credential.verify(text, _trusted_keys(), today=today)
            if verification.outcome == Outcome.UNKNOWN_KEY:  # a key newer than our copy?
                verification = credential.verify(text, _trusted_keys(fresh=True), today=today)
        except Exception:  # the core promises not to raise for a str; a checkpoint never 500s
            logger.exception("credential.verify raised")
            verification = credential.Verification(Outcome.MALFORMED, None, None, "verifier error")

        claims = verification.claims
        result = str(verification.outcome)
        if claims is not None:
            serial = claims.serial
            revoked, suspected = _revoked_and_seen_elsewhere(
                serial=serial, district=district, at=at
            )
            if revoked:
                result = ScanResult.REVOKED
            elif result == ScanResult.VALID and claims.areas and district not in claims.areas:
                # No checkpoint known (district ""): nothing to compare with, so it stays valid.
                result = ScanResult.WRONG_AREA if district else result
        else:
            serial = _serial_of_unverified(text) if result != ScanResult.MALFORMED else ""
            suspected = False
            if purged_serial:
                serial, result = purged_serial, ScanResult.EXPIRED

        names = _area_names({*(claims.areas if claims else ()), *([district] if district else [])})
    Scan.objects.create(
        at=at,
        officer_id=officer.pk if getattr(officer, "is_authenticated", False) else None,
        checkpoint_id=place.checkpoint_id,
        district_code=district,
        serial=serial,
        result=result,
        suspected_copy=suspected,
        source=source,
    )
    return {
        "result": str(result),
        "permit": _permit_answer(claims, names) if claims is not None else None,
        "reason": _reason(result, claims, names=names, district=district),
        "suspected_copy": suspected,
    }


def verify_serial(*, officer: Any, serial: str, checkpoint_code: str | None) -> ScanAnswer:
    """Manual entry when a QR will not scan: verify the stored permit with that serial.

    The stored QR text goes through verify_scan, so the answer (and the log) is exactly
    what scanning the printed code would give. An unknown serial answers "malformed".
    """
    serial = (serial or "").strip()[:20]
    permit = None
    if serial:
        with replica_reads():
            permit = (
                Permit.objects.filter(serial=serial).only("qr_text").first()
                or Permit.objects.filter(serial=serial.upper()).only("qr_text").first()
            )
    if permit is not None and permit.qr_text:
        return verify_scan(officer=officer, qr=permit.qr_text, checkpoint_code=checkpoint_code)
    if permit is not None:
        # purge_expired blanked the QR of a permit that ended long ago: it is expired, not junk.
        answer = verify_scan(
            officer=officer, qr="", checkpoint_code=checkpoint_code, purged_serial=permit.serial
        )
        answer["reason"] = _(
            "Giấy %(serial)s đã hết hạn từ lâu; dữ liệu cá nhân đã được xoá theo quy định."
        ) % {"serial": permit.serial}
        return answer
    answer = verify_scan(officer=officer, qr="", checkpoint_code=checkpoint_code)
    answer["reason"] = _("Không tìm thấy giấy đi đường số %(serial)s.") % {"serial": serial}
    return answer


def _client_time(value: object, *, now: datetime) -> datetime:
    """The time an offline device says it scanned; unparsable or future → now."""
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None:
        return now
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return now if parsed > now + CLOCK_SKEW else parsed


def scans_upload_offline(*, officer: Any, scans: list[dict[str, Any]]) -> list[ScanAnswer]:
    """Record scans an officer's device made without a network, re-verified on the server.

    Each item is {"qr", "at" (ISO 8601, the device's time), "checkpoint" (optional code)}.
    Verified as of the scan's own time, so a permit that expired since is not reported
    "expired" for a passage that happened while it was valid. Writes one Scan per item
    (source "offline"); an item already uploaded (same officer, time and serial) is skipped,
    so a device may retry an upload that lost its answer.
    """
    if not isinstance(scans, list) or len(scans) > OFFLINE_BATCH_MAX:
        raise InvalidInput(
            _("Gửi tối đa %(n)d lượt quét mỗi lần.") % {"n": OFFLINE_BATCH_MAX},
        )
    now = timezone.now()
    answers: list[ScanAnswer] = []
    for item in scans:
        if not isinstance(item, dict):
            raise InvalidInput(_("Mỗi lượt quét là một đối tượng {qr, at}."))
    for item in scans:
        qr = item.get("qr")
        qr = qr if isinstance(qr, str) else ""
        at = _client_time(item.get("at"), now=now)
        code = item.get("checkpoint")
        code = code if isinstance(code, str) else None
        serial = _serial_of_unverified(qr)
        if (
            serial
            and Scan.objects.filter(
                officer_id=officer.pk, at=at, serial=serial, source="offline"
            ).exists()
        ):
            continue
        answers.append(
            verify_scan(officer=officer, qr=qr, checkpoint_code=code, source="offline", at=at)
        )
    return answers


# --- images --------------------------------------------------------------------------

_MAX_SIDE = 2400  # a phone photo is 4000 px wide; the QR needs far fewer pixels to decode


def _read(image: Any) -> str | None:
    import zxingcpp

    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    results = zxingcpp.read_barcodes(image, formats=qr_only)
    texts = [r.text for r in results if r.valid and r.text]
    for text in texts:
        if text.startswith(credential.PREFIX):
            return text
    return texts[0] if texts else None


def decode_qr_image(data: bytes) -> str | None:
    """The text of the QR code in a photo or scan, or None if none can be read.

    Tries the image as it is (after EXIF rotation), then grey, then smaller, then
    thresholded: each rescues a kind of picture the others miss (colour noise, huge photos,
    uneven light). zxing-cpp itself finds codes at any rotation. Never raises.
    """
    try:
        from PIL import Image, ImageFilter, ImageOps

        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        if max(image.size) > _MAX_SIDE:
            image.thumbnail((_MAX_SIDE, _MAX_SIDE))
        text = _read(image)
        if text:
            return text
        grey = ImageOps.autocontrast(image.convert("L"))
        candidates = [grey]
        for side in (1200, 800):
            if max(grey.size) > side:
                small = grey.copy()
                small.thumbnail((side, side))
                candidates.append(small)
        if min(grey.size) < 400:  # low resolution: enlarge so modules span whole pixels
            factor = max(2, 800 // max(1, min(grey.size)))
            candidates.append(grey.resize((grey.width * factor, grey.height * factor)))
        blurred = grey.filter(ImageFilter.MedianFilter(3))
        candidates.append(blurred.point(lambda p: 255 if p > 128 else 0))
        candidates.append(ImageOps.equalize(grey))
        for candidate in candidates:
            text = _read(candidate)
            if text:
                return text
    except Exception:  # any upload: not an image, truncated, a decompression bomb…
        logger.info("no QR read from an upload", exc_info=True)
    return None


def verify_image(
    *, officer: Any, data: bytes, checkpoint_code: str | None, log_empty: bool = True
) -> ImageAnswer:
    """Decode the QR in an image and verify it; "malformed" when no QR is found.

    A camera frame without a QR (``log_empty=False``) is not a scan: it answers
    "malformed" with qr_found=False and writes no log row. Otherwise as verify_scan.
    """
    text = decode_qr_image(data)
    if text is None and not log_empty:
        with replica_reads():
            _scan_place(officer=officer, code=checkpoint_code)  # still refuse a bad code
        return {
            "result": str(ScanResult.MALFORMED),
            "permit": None,
            "reason": _("Chưa thấy mã QR."),
            "suspected_copy": False,
            "qr_found": False,
        }
    answer = verify_scan(
        officer=officer, qr=text or "", checkpoint_code=checkpoint_code, source="image"
    )
    if text is None:
        answer["reason"] = _("Không tìm thấy mã QR trong ảnh. Chụp lại gần hơn, đủ sáng.")
    return {**answer, "qr_found": text is not None}
