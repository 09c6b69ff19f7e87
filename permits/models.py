"""Staff lists, permit requests and their review, signing keys, permits and print jobs.

Models hold data and invariants only; every write goes through permits/services.py.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orgs.models import Area, Organization


class Staff(models.Model):
    """A person an enterprise may ask a permit for. Upserted on (organization, id_number)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="staff", verbose_name=_("doanh nghiệp")
    )
    id_number = models.CharField(_("số CCCD/CMND"), max_length=12)
    full_name = models.CharField(_("họ và tên"), max_length=100)
    date_of_birth = models.DateField(_("ngày sinh"))
    phone = models.CharField(_("số điện thoại"), max_length=10)
    job_title = models.CharField(_("chức vụ"), max_length=100, blank=True)
    home_address = models.CharField(_("địa chỉ nơi ở"), max_length=255, blank=True)
    vehicle_plate = models.CharField(_("biển số xe"), max_length=12, blank=True)
    # Lower-case, accent-free "nguyen van an": accent-insensitive search on any database.
    search_text = models.CharField(max_length=255, editable=False, default="")
    # Vietnamese office order: given name (last word), then the rest, accent-aware collation key.
    sort_key = models.CharField(max_length=255, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_key", "id_number"]
        verbose_name = _("nhân sự")
        verbose_name_plural = _("nhân sự")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "id_number"], name="staff_unique_id_number_per_org"
            ),
        ]
        indexes = [
            # The staff list page: one organisation, Vietnamese order.
            models.Index(fields=["organization", "sort_key"], name="staff_org_sort_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.id_number})"


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("Nháp")
    SUBMITTED = "submitted", _("Chờ Sở TT&TT thẩm định")
    DEPARTMENT_APPROVED = "department_approved", _("Chờ Công an TP phê duyệt")
    APPROVED = "approved", _("Đã phê duyệt")
    REJECTED = "rejected", _("Bị từ chối")
    RETURNED = "returned", _("Trả lại để bổ sung")


class PermitRequest(models.Model):
    """An enterprise's request for permits for some of its staff, dates and districts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="requests",
        verbose_name=_("doanh nghiệp"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("trạng thái"), max_length=24, choices=RequestStatus.choices, default=RequestStatus.DRAFT
    )
    valid_from = models.DateField(_("hiệu lực từ ngày"))
    valid_to = models.DateField(_("đến hết ngày"))
    areas = models.ManyToManyField(Area, blank=True, related_name="+", verbose_name=_("địa bàn"))
    whole_city = models.BooleanField(_("toàn thành phố"), default=False)
    reason = models.TextField(_("lý do"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    department_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department_approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("đề nghị cấp giấy")
        verbose_name_plural = _("đề nghị cấp giấy")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__gte=models.F("valid_from")), name="request_dates_ordered"
            ),
            # Separation of duties, also as a database invariant.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | ~Q(approved_by=models.F("department_approved_by")),
                name="request_two_different_approvers",
            ),
        ]
        indexes = [
            # Reviewer queues: one status, oldest submission first.
            models.Index(fields=["status", "submitted_at"], name="request_queue_idx"),
            # HR's list: own organisation, newest first.
            models.Index(fields=["organization", "-created_at"], name="request_org_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return "YC-" + self.id.hex[:8].upper()


class EntryDecision(models.TextChoices):
    PENDING = "pending", _("Chờ xét")
    ACCEPTED = "accepted", _("Chấp thuận")
    REJECTED = "rejected", _("Từ chối")


class RequestEntry(models.Model):
    """One person in a request: a snapshot of the staff data as submitted.

    Later edits to the staff list do not change what reviewers saw and approved.
    """

    request = models.ForeignKey(PermitRequest, on_delete=models.CASCADE, related_name="entries")
    staff = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    id_number = models.CharField(max_length=12)
    full_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=10, blank=True)
    job_title = models.CharField(max_length=100, blank=True)
    vehicle_plate = models.CharField(max_length=12, blank=True)
    decision = models.CharField(
        max_length=16, choices=EntryDecision.choices, default=EntryDecision.PENDING
    )
    reason = models.CharField(max_length=255, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["full_name", "id_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "id_number"], name="entry_unique_person_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.id_number})"


class RequestHistory(models.Model):
    """A row per transition: who moved the request from which status to which, and why."""

    request = models.ForeignKey(PermitRequest, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32)
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status}→{self.to_status}"


class KeyStatus(models.TextChoices):
    ACTIVE = "active", _("Đang ký")
    RETIRED = "retired", _("Ngừng ký, vẫn xác minh")
    COMPROMISED = "compromised", _("Bị lộ, không xác minh")


class SigningKey(models.Model):
    """An ES256 key pair. The private half is encrypted at rest (PERMIT_KEY_ENCRYPTION_KEY)."""

    kid = models.CharField(max_length=16, unique=True)  # unpadded base64url of 8 bytes
    public_key_pem = models.TextField()
    private_key_encrypted = models.BinaryField()
    status = models.CharField(max_length=16, choices=KeyStatus.choices, default=KeyStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    compromised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="signing_key_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class SerialCounter(models.Model):
    """Hands out permit serial numbers; the row is locked while a block is reserved."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class PermitStatus(models.TextChoices):
    ACTIVE = "active", _("Còn hiệu lực")
    REVOKED = "revoked", _("Đã thu hồi")


class Permit(models.Model):
    """A signed travel permit, issued for one accepted request entry."""

    serial = models.CharField(_("số giấy"), max_length=20, unique=True)
    entry = models.ForeignKey(RequestEntry, on_delete=models.PROTECT, related_name="permits")
    request = models.ForeignKey(PermitRequest, on_delete=models.PROTECT, related_name="permits")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="permits")
    id_number = models.CharField(max_length=12)
    full_name = models.CharField(max_length=100)
    valid_from = models.DateField()
    valid_to = models.DateField()
    area_codes = models.JSONField(default=list, blank=True)  # [] = whole city
    vehicle_plate = models.CharField(max_length=12, blank=True)
    kid = models.CharField(max_length=16)
    qr_text = models.TextField()
    status = models.CharField(
        max_length=16, choices=PermitStatus.choices, default=PermitStatus.ACTIVE
    )
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = models.CharField(max_length=255, blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta:
        ordering = ["serial"]
        verbose_name = _("giấy đi đường")
        verbose_name_plural = _("giấy đi đường")
        constraints = [
            # Issuing is idempotent: an entry has at most one live permit.
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status="active"), name="permit_one_active_per_entry"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__gte=models.F("valid_from")), name="permit_dates_ordered"
            ),
        ]
        indexes = [
            # Overlap flags for reviewers: "does this person hold a live permit on these dates?"
            models.Index(fields=["id_number", "valid_to"], name="permit_person_validity_idx"),
            # The signed revocation list for offline checkpoints.
            models.Index(fields=["status", "valid_to"], name="permit_status_idx"),
        ]

    def __str__(self) -> str:
        return self.serial


class PrintJobStatus(models.TextChoices):
    QUEUED = "queued", _("Đang chờ")
    RUNNING = "running", _("Đang in")
    DONE = "done", _("Hoàn tất")
    FAILED = "failed", _("Lỗi")


class PrintJob(models.Model):
    """A PDF of many permits, rendered by the task worker with progress reporting."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(PermitRequest, on_delete=models.CASCADE, related_name="print_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    layout = models.CharField(max_length=8, default="a4x4")
    serials = models.JSONField(default=list, blank=True)  # [] = every permit of the request
    status = models.CharField(
        max_length=16, choices=PrintJobStatus.choices, default=PrintJobStatus.QUEUED
    )
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="print-jobs/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with each progress step: a running job whose heartbeat stops was orphaned by a
    # worker that died, and is queued again (permits.services.printing.print_jobs_requeue_stale).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The requeue sweep: running jobs by heartbeat.
            models.Index(fields=["status", "heartbeat_at"], name="printjob_status_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return f"print {self.id} ({self.status} {self.done}/{self.total})"
