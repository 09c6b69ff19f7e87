"""Organisations, checkpoints, districts, user profiles and the audit chain."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orgs.validators import validate_tax_code


class Sector(models.TextChoices):
    POSTAL = "postal", _("Bưu chính")
    TELECOM = "telecom", _("Viễn thông")


class Area(models.Model):
    """A district-level unit of Hanoi: reference data loaded from orgs/data/*.csv.

    The code is the official one (e.g. "005" Cầu Giấy); QR codes carry it as an integer.
    """

    code = models.CharField(_("mã"), max_length=3, primary_key=True)
    name = models.CharField(_("tên"), max_length=100)
    kind = models.CharField(_("loại"), max_length=20)
    is_active = models.BooleanField(_("đang dùng"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("quận/huyện")
        verbose_name_plural = _("quận/huyện")

    def __str__(self) -> str:
        return self.name


class Organization(models.Model):
    """An enterprise of the postal or telecom sector.

    HR clerks reach an organisation through object permissions on it (django-guardian);
    orgs.services.hr_grant_organization is the one place that grants them.
    """

    tax_code = models.CharField(
        _("mã số thuế"), max_length=14, unique=True, validators=[validate_tax_code]
    )
    name = models.CharField(_("tên doanh nghiệp"), max_length=255)
    short_name = models.CharField(_("tên viết tắt"), max_length=32, unique=True)
    sector = models.CharField(_("lĩnh vực"), max_length=16, choices=Sector.choices)
    address = models.CharField(_("địa chỉ"), max_length=255, blank=True)
    is_active = models.BooleanField(_("đang hoạt động"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("doanh nghiệp")
        verbose_name_plural = _("doanh nghiệp")
        permissions = [
            ("manage_staff", _("Quản lý danh sách nhân sự")),
            ("submit_request", _("Lập và gửi đề nghị cấp giấy")),
            ("revoke_permit", _("Thu hồi giấy đi đường của doanh nghiệp")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sector__in=["postal", "telecom"]), name="org_sector_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.short_name} — {self.name}"


class Checkpoint(models.Model):
    code = models.CharField(_("mã chốt"), max_length=16, unique=True)
    name = models.CharField(_("tên chốt"), max_length=255)
    district = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="checkpoints", verbose_name=_("quận/huyện")
    )
    is_active = models.BooleanField(_("đang hoạt động"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("chốt kiểm soát")
        verbose_name_plural = _("chốt kiểm soát")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Profile(models.Model):
    """What a user needs beyond auth.User: the checkpoint an officer stands at, if any.

    Roles are auth groups (orgs.access.Role); the organisation of an HR clerk is an object
    permission, not a field, so that one clerk may serve several enterprises.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="officers"
    )

    def __str__(self) -> str:
        return str(self.user)


class AuditEvent(models.Model):
    """Append-only record of every decision, chained by SHA-256.

    Each row stores the hash of the previous row, so editing or deleting any row breaks the
    chain (`manage.py audit_verify`). Rows hold references (ids, serials, codes), never
    personal data, so that purging personal data keeps the chain verifiable.
    Written only by orgs.audit.audit_record.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("nhật ký kiểm toán")
        verbose_name_plural = _("nhật ký kiểm toán")
        indexes = [
            # The history of one object: "what happened to request 42".
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """A single row locked by every append, so that two writers never fork the chain.

    It also remembers the last sequence number and hash, so deleting the newest rows is
    detected too.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single")]

    def __str__(self) -> str:
        return f"head #{self.seq}"
