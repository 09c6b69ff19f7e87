"""Pages of the checkpoint: the scanner (officers), the scan report (reviewers), and the
service worker that lets the scanner load without a network.

No inline script or style anywhere (a strict CSP comes later): the pages pass what the
scripts need through data-* attributes, and the chart's bar widths are SVG attributes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from orgs.access import PUBLIC, REVIEWERS, Role, allow
from orgs.models import Area, Checkpoint
from orgs.views import register_home_section
from verification.models import Scan, ScanResult
from verification.services import checkpoint_for

SCANNER_ASSETS = (
    "css/app.css",
    "verification/scanner.css",
    "verification/tp1.js",
    "verification/scanner.js",
)
SW_SOURCE = Path(settings.BASE_DIR) / "static" / "verification" / "sw.js"
TRUST_MAX_AGE_HOURS = 12
REPORT_DAYS = 7

# The colour an officer sees for each result (and the report's bars).
TONE = {
    ScanResult.VALID: "ok",
    ScanResult.EXPIRED: "warn",
    ScanResult.NOT_YET_VALID: "warn",
    ScanResult.WRONG_AREA: "warn",
    ScanResult.REVOKED: "bad",
    ScanResult.INVALID_SIGNATURE: "bad",
    ScanResult.UNKNOWN_KEY: "bad",
    ScanResult.MALFORMED: "bad",
}


def _texts() -> dict[str, Any]:
    """Everything the scanner script says, in the page's language (offline too)."""
    return {
        "verdict": {
            "valid": _("HỢP LỆ"),
            "expired": _("HẾT HẠN"),
            "not_yet_valid": _("CHƯA CÓ HIỆU LỰC"),
            "wrong_area": _("SAI ĐỊA BÀN"),
            "revoked": _("ĐÃ THU HỒI"),
            "invalid_signature": _("GIẢ MẠO"),
            "unknown_key": _("KHÓA KHÔNG XÁC ĐỊNH"),
            "malformed": _("MÃ KHÔNG HỢP LỆ"),
        },
        "reason": {
            "valid": _("Giấy hợp lệ đến hết ngày {to}, tại {where}."),
            "expired": _("Giấy đã hết hạn (hiệu lực đến hết ngày {to})."),
            "not_yet_valid": _("Giấy chưa có hiệu lực (hiệu lực từ ngày {from})."),
            "wrong_area": _("Giấy không có hiệu lực tại {here}; chỉ có hiệu lực tại: {areas}."),
            "revoked": _("Giấy đã bị thu hồi. Không cho qua chốt."),
            "invalid_signature": _(
                "Chữ ký số không đúng: mã đã bị sửa hoặc giả mạo. Không cho qua chốt."
            ),
            "unknown_key": _(
                "Mã được ký bằng khóa không do cơ quan cấp giấy công bố. Không cho qua chốt."
            ),
            "malformed": _("Không phải mã QR của giấy đi đường, hoặc mã bị hỏng."),
            "no_keys": _("Chưa có dữ liệu khóa trên máy: cần kết nối mạng một lần để tải."),
            "serial_offline": _("Ngoại tuyến: không tra được số giấy. Hãy quét mã QR."),
        },
        "whole_city": _("toàn thành phố"),
        "online": _("Trực tuyến"),
        "offline": _("Ngoại tuyến"),
        "checked_offline": _("Kiểm tra ngoại tuyến trên máy (chưa đối chiếu máy chủ)"),
        "trust_age": _("Dữ liệu khóa cập nhật lúc {time} ({ago})"),
        "trust_none": _("Chưa có dữ liệu khóa trên máy — cần mạng để tải lần đầu."),
        "trust_old": _("Dữ liệu khóa đã cũ hơn {hours} giờ: kết nối mạng để cập nhật."),
        "revocations_bad": _("Danh sách thu hồi không xác thực được chữ ký — không dùng."),
        "minutes_ago": _("{n} phút trước"),
        "hours_ago": _("{n} giờ trước"),
        "just_now": _("vừa xong"),
        "queued": _("{n} lượt quét ngoại tuyến chờ gửi"),
        "uploaded": _("Đã gửi {n} lượt quét ngoại tuyến"),
        "camera_off": _("Chưa bật camera"),
        "camera_error": _("Không mở được camera. Dùng ô nhập mã bên dưới."),
        "camera_looking": _("Đưa mã QR vào khung hình"),
        "camera_offline": _("Ngoại tuyến: máy này không tự đọc được mã từ camera. Dùng ô nhập mã."),
        "network_error": _("Lỗi mạng — đã kiểm tra trên máy."),
        "error": _("Có lỗi, vui lòng thử lại."),
        "throttled": _("Quá nhiều lượt kiểm tra, chờ một chút."),
    }


def _url(name: str, fallback: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@never_cache
@allow(Role.CHECKPOINT_OFFICER)
def scanner(request: HttpRequest) -> HttpResponse:
    """The scanner: camera, manual entry, full-screen answer; works offline (sw.js)."""
    mine = checkpoint_for(officer=request.user, code=None)
    checkpoints = list(
        Checkpoint.objects.filter(is_active=True).select_related("district").order_by("code")
    )
    areas = dict(Area.objects.values_list("code", "name"))
    config = {
        "verify": reverse("api-verify"),
        "image": reverse("api-verify-image"),
        "serial": reverse("api-verify-serial"),
        "offline": reverse("api-scans-offline"),
        "jwks": _url("permit-keys", "/.well-known/permit-keys.json"),
        "revocations": _url("api-revocations", "/api/v1/revocations/"),
        "sw": reverse("scanner-sw"),
        "scope": reverse("scanner"),
        "trustMaxAgeHours": TRUST_MAX_AGE_HOURS,
    }
    context = {
        "mine": mine,
        "checkpoints": checkpoints,
        "config_json": _dumps(config),
        "texts_json": _dumps(_texts()),
        "areas_json": _dumps(areas),
        "results": ScanResult,
    }
    return render(request, "verification/scanner.html", context)


@cache
def _sw_body() -> tuple[str, str]:
    assets = [static(a) for a in SCANNER_ASSETS]
    source = SW_SOURCE.read_text(encoding="utf-8")
    version = hashlib.sha256((source + "\n".join(assets)).encode()).hexdigest()[:12]
    head = f"self.SCANNER_CACHE = {json.dumps('scanner-' + version)};\n"
    head += f"self.SCANNER_ASSETS = {json.dumps(assets)};\n"
    return head + source, version


@allow(PUBLIC)
def service_worker(request: HttpRequest) -> HttpResponse:
    """The scanner's service worker (code only, no data: public).

    Served from /verify/sw.js so that its default scope is /verify/; the list of assets to
    cache is written in front of static/verification/sw.js with their (hashed) static URLs,
    so each deployment gets a new cache name.
    """
    body, version = _sw_body() if not settings.DEBUG else _sw_body.__wrapped__()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("scanner")
    response["Cache-Control"] = "no-cache"
    response["ETag"] = f'"{version}"'
    return response


# --- the reviewers' report -------------------------------------------------------------


@dataclass
class _Bar:
    code: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    y: int = 0
    segments_end: float = 0.0


CHART_WIDTH, BAR_HEIGHT, BAR_GAP = 640, 28, 30


def _revoke_url(serial: str) -> str | None:
    try:
        return reverse("permit-revoke", kwargs={"serial": serial})
    except NoReverseMatch:
        return None


@allow(*REVIEWERS)
def scan_report(request: HttpRequest) -> HttpResponse:
    """Scans by checkpoint and result over the last 7 days, and the suspected copies."""
    since = timezone.now() - timedelta(days=REPORT_DAYS)
    rows = (
        Scan.objects.filter(at__gte=since)
        .values("checkpoint__code", "checkpoint__name", "result")
        .annotate(n=Count("id"))
        .order_by("checkpoint__code")
    )
    bars: dict[str, _Bar] = {}
    for row in rows:
        code = row["checkpoint__code"] or ""
        bar = bars.setdefault(code, _Bar(code, row["checkpoint__name"] or _("(không rõ chốt)")))
        bar.counts[row["result"]] = bar.counts.get(row["result"], 0) + row["n"]
        bar.total += row["n"]
    largest = max((b.total for b in bars.values()), default=0)
    order = list(ScanResult.values)
    for index, bar in enumerate(bars.values()):
        x = 0.0
        y = index * (BAR_HEIGHT + BAR_GAP) + 22
        for result in order:
            n = bar.counts.get(result, 0)
            if not n:
                continue
            width = CHART_WIDTH * n / largest
            bar.segments.append(
                {
                    "x": round(x, 1),
                    "y": y,
                    "width": round(width, 1),
                    "tone": TONE[ScanResult(result)],
                    "result": result,
                    "label": ScanResult(result).label,
                    "n": n,
                }
            )
            x += width
        bar.segments_end, bar.y = round(x, 1), y
        bar.cells = [bar.counts.get(r, 0) for r in order]
    copies = list(
        Scan.objects.filter(at__gte=since, suspected_copy=True)
        .select_related("checkpoint", "checkpoint__district", "officer")
        .order_by("-at")[:200]
    )
    for scan in copies:
        scan.revoke_url = _revoke_url(scan.serial) if scan.serial else None  # type: ignore[attr-defined]
    context = {
        "bars": list(bars.values()),
        "chart_height": max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP) + 10,
        "chart_width": CHART_WIDTH,
        "bar_height": BAR_HEIGHT,
        "results": [(r, ScanResult(r).label, TONE[ScanResult(r)]) for r in order],
        "total": sum(b.total for b in bars.values()),
        "copies": copies,
        "days": REPORT_DAYS,
        "since": since,
    }
    return render(request, "verification/report.html", context)


@register_home_section
def _officer_home(request: HttpRequest, roles: frozenset[str]) -> dict[str, Any]:
    """The officer's card on the home page links to the scanner."""
    if Role.CHECKPOINT_OFFICER not in roles:
        return {}
    return {"officer_links": [{"url": reverse("scanner"), "label": _("Mở trang quét mã")}]}
