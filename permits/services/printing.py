"""Printing permits: PDFs of a request's permits, at once or through a print job.

Small prints are rendered in the request; large ones become a PrintJob rendered by the task
worker (django-tasks, database backend), which reports done/total for the progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orgs.audit import audit_record
from orgs.errors import Conflict, InvalidInput
from orgs.models import Area
from permits.models import Permit, PermitRequest, PrintJob, PrintJobStatus
from permits.pdf import PermitCard, render_sheets

logger = logging.getLogger(__name__)

LAYOUTS = ("a4x4", "a6")
# Above this many permits the page offers a print job instead of an immediate download.
INLINE_MAX = getattr(settings, "PRINT_INLINE_MAX", 40)
# The most an immediate PDF may hold (about 1.5 s of rendering); beyond it, a print job.
IMMEDIATE_LIMIT = getattr(settings, "PRINT_IMMEDIATE_LIMIT", 500)
# Progress is written every this many permits: often enough for a smooth bar, rarely
# enough that the writes cost nothing next to the rendering.
PROGRESS_EVERY = 20
# A running job whose heartbeat is older than this lost its worker.
STALE_AFTER = timedelta(seconds=getattr(settings, "PRINT_JOB_STALE_SECONDS", 60))
MAX_ATTEMPTS = 3


def permit_cards(permits: Iterable[Permit]) -> list[PermitCard]:
    """Plain data for permits.pdf from permits with their entry and organisation loaded."""
    names = dict(Area.objects.values_list("code", "name"))
    cards = []
    for p in permits:
        entry = p.entry
        cards.append(
            PermitCard(
                serial=p.serial,
                full_name=p.full_name,
                id_number=p.id_number,
                date_of_birth=entry.date_of_birth,
                organisation=p.organization.name,
                job_title=entry.job_title,
                vehicle_plate=p.vehicle_plate,
                areas=tuple(names.get(code, code) for code in p.area_codes),
                valid_from=p.valid_from,
                valid_to=p.valid_to,
                qr_text=p.qr_text,
                status=p.status,
            )
        )
    return cards


def _permits_to_print(request: PermitRequest, serials: Sequence[str]) -> list[Permit]:
    # Permits whose personal data was purged (retention) have no QR text left to print.
    qs = (
        request.permits.select_related("entry", "organization")
        .exclude(qr_text="")
        .order_by("serial")
    )
    if serials:
        qs = qs.filter(serial__in=serials)
    found = list(qs)
    if serials and len(found) != len(set(serials)):
        raise InvalidInput(_("Có số giấy không thuộc đề nghị này."))
    if not found:
        raise InvalidInput(_("Đề nghị này chưa có giấy đi đường nào để in."))
    return found


def permits_pdf(
    *, request: PermitRequest, layout: str = "a4x4", serials: Sequence[str] = ()
) -> bytes:
    """PDF bytes of the request's permits (all, or the chosen serials)."""
    if layout not in LAYOUTS:
        raise InvalidInput(_("Khổ in không hợp lệ."))
    permits = _permits_to_print(request, serials)
    if len(permits) > IMMEDIATE_LIMIT:
        raise Conflict(
            _("%(n)d giấy là quá nhiều để tải ngay; hãy tạo lệnh in (POST …/print/).")
            % {"n": len(permits)}
        )
    return render_sheets(permit_cards(permits), reference=request.reference, layout=layout)  # type: ignore[arg-type]


def permit_pdf(*, permit: Permit) -> bytes:
    """One permit on an A6 page."""
    return render_sheets(permit_cards([permit]), reference=permit.request.reference, layout="a6")


@transaction.atomic
def print_job_create(
    *, actor: Any, request: PermitRequest, layout: str = "a4x4", serials: Sequence[str] = ()
) -> PrintJob:
    """Queue a print job. Writes PrintJob and an audit event; enqueues the task on commit."""
    if layout not in LAYOUTS:
        raise InvalidInput(_("Khổ in không hợp lệ."))
    permits = _permits_to_print(request, serials)
    job = PrintJob.objects.create(
        request=request,
        created_by=actor,
        layout=layout,
        serials=sorted(serials),
        total=len(permits),
    )
    audit_record(
        actor=actor,
        action="print_job.create",
        object_type="print_job",
        object_id=str(job.pk),
        details={"request": str(request.pk), "total": job.total, "layout": layout},
    )

    transaction.on_commit(lambda: _enqueue(str(job.pk)))
    return job


def _claim(job_id: str) -> PrintJob | None:
    """Take the job for this worker: only a queued job is claimed, under a row lock."""
    with transaction.atomic():
        job = (
            PrintJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, status=PrintJobStatus.QUEUED)
            .first()
        )
        if job is None:
            return None
        job.status = PrintJobStatus.RUNNING
        job.started_at = job.heartbeat_at = timezone.now()
        job.attempts += 1
        job.done = 0
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", "done"])
        return job


def _finish(job: PrintJob, **fields: Any) -> bool:
    """Write the outcome only if this worker still owns the job (a job requeued after a stall
    belongs to the worker that claimed it again): no PDF is ever written twice."""
    with transaction.atomic():
        current = PrintJob.objects.select_for_update().get(pk=job.pk)
        if current.status != PrintJobStatus.RUNNING or current.attempts != job.attempts:
            return False
        for name, value in fields.items():
            setattr(current, name, value)
        current.finished_at = timezone.now()
        current.save(update_fields=[*fields, "finished_at"])
        return True


def print_job_run(*, job_id: str) -> PrintJob | None:
    """Render a queued job (called by the task worker). Writes progress, the file and status."""
    job = _claim(job_id)
    if job is None:
        return None
    try:
        permits = _permits_to_print(job.request, job.serials)
        written = 0

        def progress(done: int, total: int) -> None:
            nonlocal written
            if done == total or done - written >= PROGRESS_EVERY:
                written = done
                PrintJob.objects.filter(pk=job.pk, attempts=job.attempts).update(
                    done=done, heartbeat_at=timezone.now()
                )

        pdf = render_sheets(
            permit_cards(permits),
            reference=job.request.reference,
            layout=job.layout,  # type: ignore[arg-type]
            progress=progress,
        )
        name = f"{job.request.reference}-{job.pk.hex[:8]}-{job.attempts}.pdf"
        stored = default_storage.save(f"print-jobs/{name}", ContentFile(pdf))
        if not _finish(
            job, file=stored, done=len(permits), total=len(permits), status=PrintJobStatus.DONE
        ):
            default_storage.delete(stored)  # another worker owns the job now
    except Exception as exc:
        logger.exception("print job %s failed", job.pk)
        _finish(job, status=PrintJobStatus.FAILED, error=str(exc)[:500])
    job.refresh_from_db()
    return job


@transaction.atomic
def print_jobs_requeue_stale(*, older_than: timedelta = STALE_AFTER) -> list[PrintJob]:
    """Queue again the running jobs whose worker stopped beating (killed, machine lost).

    Run by `manage.py requeue_print_jobs`: a timer beside the workers (docs/deploy.md), and
    `make run` at start.
    Writes the jobs back to queued and enqueues them on commit; a job is retried at most
    MAX_ATTEMPTS times, then marked failed.
    """
    cutoff = timezone.now() - older_than
    stale = list(
        PrintJob.objects.select_for_update(skip_locked=True).filter(
            status=PrintJobStatus.RUNNING, heartbeat_at__lt=cutoff
        )
    )
    for job in stale:
        if job.attempts >= MAX_ATTEMPTS:
            job.status = PrintJobStatus.FAILED
            job.error = "worker stopped responding"
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "finished_at"])
            continue
        job.status = PrintJobStatus.QUEUED
        job.save(update_fields=["status"])
        audit_record(
            actor=None,
            action="print_job.requeue",
            object_type="print_job",
            object_id=str(job.pk),
            details={"attempts": job.attempts},
        )
        transaction.on_commit(partial(_enqueue, str(job.pk)))
    return [job for job in stale if job.status == PrintJobStatus.QUEUED]


def _enqueue(job_id: str) -> None:
    from permits.tasks import render_print_job

    render_print_job.enqueue(job_id=job_id)
