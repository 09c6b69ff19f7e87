"""The scan log: every verification at a checkpoint, online or uploaded after offline use."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orgs.models import Checkpoint


class ScanResult(models.TextChoices):
    VALID = "valid", _("Hợp lệ")
    EXPIRED = "expired", _("Hết hạn")
    NOT_YET_VALID = "not_yet_valid", _("Chưa đến ngày hiệu lực")
    REVOKED = "revoked", _("Đã bị thu hồi")
    INVALID_SIGNATURE = "invalid_signature", _("Chữ ký không hợp lệ (giả mạo)")
    UNKNOWN_KEY = "unknown_key", _("Khóa ký không xác định")
    MALFORMED = "malformed", _("Mã không đọc được")
    WRONG_AREA = "wrong_area", _("Không có hiệu lực tại địa bàn này")


class Scan(models.Model):
    at = models.DateTimeField()
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )
    district_code = models.CharField(max_length=3, blank=True)
    serial = models.CharField(max_length=20, blank=True)
    result = models.CharField(max_length=24, choices=ScanResult.choices)
    suspected_copy = models.BooleanField(default=False)
    source = models.CharField(max_length=16, default="online")  # online | image | offline
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            # Copy detection: the same serial seen recently elsewhere.
            models.Index(fields=["serial", "at"], name="scan_serial_at_idx"),
            # The reviewers' chart: scans by checkpoint over time.
            models.Index(fields=["checkpoint", "at"], name="scan_checkpoint_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.serial or '?'} {self.result} @ {self.at:%Y-%m-%d %H:%M}"
