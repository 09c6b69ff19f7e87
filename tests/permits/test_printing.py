"""Printing a request's permits: immediate PDFs, print jobs with progress, access.

The permits come through the real path: staff import, request, both reviews, issuance.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from permits.models import Permit, PrintJob, PrintJobStatus
from permits.services.keys import signing_key_create
from permits.services.printing import print_job_create, print_job_run
from permits.services.requests import request_create, request_review, request_submit
from permits.services.staff import staff_import
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# Names in NFD, as a macOS export sends them: the PDF must carry them in NFC.
PEOPLE = [
    ("Nguyễn Thị Thu Hương", "001171492817", "30/05/1971", "0796667674", "29-B8 123.45"),
    ("Trần Văn Đức", "001090012345", "12/03/1990", "0912345678", ""),
    ("Lê Hoàng Yến", "001195004321", "01/01/1995", "0987654321", "29A-123.45"),
    ("Phạm Quốc Việt", "001088765432", "15/08/1988", "0388123456", ""),
    ("Đỗ Thị Ngọc Ánh", "001192111222", "20/11/1992", "0355111222", ""),
]


def _csv() -> bytes:
    lines = ["full_name,id_number,date_of_birth,phone,vehicle_plate"]
    for name, number, dob, phone, plate in PEOPLE:
        lines.append(f"{unicodedata.normalize('NFD', name)},{number},{dob},{phone},{plate}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def approved(alice, charlie, dave, viettel):
    signing_key_create(actor=None)
    staff_import(actor=alice, organization=viettel, data=_csv(), filename="staff.csv")
    today = timezone.localdate()
    req = request_create(
        actor=alice,
        organization=viettel,
        id_numbers=[p[1] for p in PEOPLE],
        valid_from=today,
        valid_to=today + timedelta(days=6),
        areas=["001", "004", "268"],
        reason="Ứng cứu thông tin",
    )
    request_submit(actor=alice, request=req)
    request_review(actor=charlie, request=req, decision="approve")
    request_review(actor=dave, request=req, decision="approve")
    assert req.permits.count() == len(PEOPLE)
    return req


def decode_all(pdf: bytes, dpi: int, jpeg_quality: int | None = None) -> list[str]:
    texts = []
    doc = pdfium.PdfDocument(pdf)
    for page in doc:
        image = page.render(scale=dpi / 72).to_pil().convert("L")
        if jpeg_quality:
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=jpeg_quality)
            image = Image.open(io.BytesIO(buf.getvalue()))
        texts += [r.text for r in zxingcpp.read_barcodes(image)]
    return texts


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "".join(page.get_textpage().get_text_range() for page in doc)


def test_the_request_pdf_carries_exactly_the_stored_qr_texts_at_150_dpi(alice, approved):
    response = client_for(alice).get(f"/api/v1/requests/{approved.pk}/permits.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    stored = set(Permit.objects.filter(request=approved).values_list("qr_text", flat=True))
    assert sorted(decode_all(response.content, 150)) == sorted(stored)
    text = pdf_text(response.content)
    for name, *_ in PEOPLE:
        assert unicodedata.normalize("NFC", name) in text
    assert approved.reference in text


def test_a_single_permit_survives_a_poor_phone_photo(alice, approved):
    permit = approved.permits.order_by("serial").first()
    response = client_for(alice).get(f"/api/v1/permits/{permit.serial}/pdf")
    assert response.status_code == 200
    assert decode_all(response.content, 100, jpeg_quality=70) == [permit.qr_text]


def test_a_print_job_renders_every_permit_and_reports_progress(
    alice, approved, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/requests/{approved.pk}/print/", {"layout": "a4x4"}, format="json"
        )
    assert response.status_code == 202
    job = api.get(f"/api/v1/print-jobs/{response.json()['job']}/").json()
    assert job["status"] == "done" and job["done"] == job["total"] == len(PEOPLE)
    pdf = api.get(job["download"])
    content = b"".join(pdf.streaming_content)
    assert sorted(decode_all(content, 150)) == sorted(
        approved.permits.values_list("qr_text", flat=True)
    )


def test_a_print_job_of_chosen_permits_prints_only_those(
    alice, approved, django_capture_on_commit_callbacks
):
    chosen = list(approved.permits.order_by("serial").values_list("serial", "qr_text")[:2])
    with django_capture_on_commit_callbacks(execute=True):
        job = print_job_create(
            actor=alice, request=approved, layout="a6", serials=[s for s, _ in chosen]
        )
    job.refresh_from_db()
    assert (job.status, job.total) == (PrintJobStatus.DONE, 2)
    assert sorted(decode_all(job.file.read(), 150)) == sorted(q for _, q in chosen)


def test_a_job_is_rendered_once_even_when_two_workers_pick_it_up(alice, approved):
    job = PrintJob.objects.create(request=approved, created_by=alice, total=len(PEOPLE))
    assert print_job_run(job_id=str(job.pk)) is not None
    assert print_job_run(job_id=str(job.pk)) is None  # already done: nothing printed twice
    job.refresh_from_db()
    assert job.status == PrintJobStatus.DONE


def test_another_enterprise_gets_404_for_the_pdfs_and_jobs(bob, alice, approved):
    job = PrintJob.objects.create(request=approved, created_by=alice, total=1)
    serial = approved.permits.first().serial
    api = APIClient()
    api.force_authenticate(bob)
    assert api.get(f"/api/v1/requests/{approved.pk}/permits.pdf").status_code == 404
    assert api.get(f"/api/v1/permits/{serial}/pdf").status_code == 404
    assert api.post(f"/api/v1/requests/{approved.pk}/print/").status_code == 404
    assert api.get(f"/api/v1/print-jobs/{job.pk}/").status_code == 404
    assert client_for(bob).get(f"/requests/{approved.pk}/print/").status_code == 404


def test_a_checkpoint_officer_may_not_print(erin, approved):
    api = APIClient()
    api.force_authenticate(erin)
    assert api.get(f"/api/v1/requests/{approved.pk}/permits.pdf").status_code == 403


def test_reviewers_may_print(charlie, approved):
    response = client_for(charlie).get(f"/api/v1/requests/{approved.pk}/permits.pdf")
    assert response.status_code == 200


def test_the_print_page_downloads_at_once_or_queues_a_job(
    alice, approved, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    page = client.get(f"/requests/{approved.pk}/print/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "In giấy đi đường" in html and approved.permits.first().serial in html
    now = client.post(
        f"/requests/{approved.pk}/print/", {"layout": "a6", "select": "all", "mode": "now"}
    )
    assert now["Content-Type"] == "application/pdf"
    assert len(pdfium.PdfDocument(now.content)) == len(PEOPLE)
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(
            f"/requests/{approved.pk}/print/", {"layout": "a4x4", "select": "all", "mode": "job"}
        )
    assert queued.status_code == 302
    html = client.get(f"/requests/{approved.pk}/print/").content.decode()
    assert "Tải xuống" in html and f"{len(PEOPLE)}/{len(PEOPLE)}" in html


def test_a_job_whose_worker_died_is_queued_again_and_finished(
    alice, approved, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from permits.services.printing import print_jobs_requeue_stale

    job = PrintJob.objects.create(
        request=approved,
        created_by=alice,
        total=len(PEOPLE),
        status=PrintJobStatus.RUNNING,
        attempts=1,
        done=2,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    fresh = PrintJob.objects.create(
        request=approved,
        created_by=alice,
        total=1,
        status=PrintJobStatus.RUNNING,
        attempts=1,
        heartbeat_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        requeued = print_jobs_requeue_stale(older_than=timedelta(minutes=1))
    assert [j.pk for j in requeued] == [job.pk]
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert (job.status, job.attempts, job.done) == (PrintJobStatus.DONE, 2, len(PEOPLE))
    assert fresh.status == PrintJobStatus.RUNNING  # still beating: left alone
    assert sorted(decode_all(job.file.read(), 150)) == sorted(
        approved.permits.values_list("qr_text", flat=True)
    )


def test_a_stalled_worker_that_wakes_up_late_writes_nothing(alice, approved):
    from permits.services.printing import _claim, _finish

    job = PrintJob.objects.create(request=approved, created_by=alice, total=1)
    zombie = _claim(str(job.pk))
    PrintJob.objects.filter(pk=job.pk).update(status=PrintJobStatus.QUEUED)
    owner = _claim(str(job.pk))
    assert owner is not None and owner.attempts == 2
    assert _finish(zombie, status=PrintJobStatus.DONE, done=1) is False
    assert _finish(owner, status=PrintJobStatus.DONE, done=1) is True


def test_an_immediate_pdf_too_large_asks_for_a_print_job(alice, approved, settings, monkeypatch):
    import permits.services.printing as printing

    monkeypatch.setattr(printing, "IMMEDIATE_LIMIT", 2)
    response = client_for(alice).get(f"/api/v1/requests/{approved.pk}/permits.pdf")
    assert response.status_code == 409
    assert "lệnh in" in response.json()["error"]["message"]
