"""Purging the personal data of people whose permits ended long ago
(permits/services/retention.py and `manage.py purge_expired`).

The data come through the real services (staff import, requests, both reviews, issuance);
then the test moves some requests' and permits' dates into the past to simulate time.
Decision documented in the service: staff never named in any request are kept (they are the
enterprise's own list).
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orgs.errors import Forbidden, InvalidInput
from orgs.models import AuditEvent
from permits.models import (
    Permit,
    PermitRequest,
    PrintJobStatus,
    RequestEntry,
    RequestStatus,
    Staff,
)
from permits.services.keys import signing_key_ensure
from permits.services.printing import print_job_create
from permits.services.requests import request_review, request_submit
from permits.services.retention import PURGED_DATE_OF_BIRTH, personal_data_purge
from permits.services.staff import staff_delete, staff_update
from permits.stats_selectors import default_period, statistics_for
from tests.conftest import client_for
from tests.permits.test_request_services import import_staff, new_request, people
from verification.models import Scan
from verification.services import verify_serial

pytestmark = pytest.mark.django_db

LONG_AGO = 60  # days since the old requests ended
DAYS = 30  # retention in the tests


def move_back(request: PermitRequest, *, ended_days_ago: int = LONG_AGO) -> None:
    """Simulate time: the request and its permits ended `ended_days_ago` days ago."""
    valid_to = timezone.localdate() - timedelta(days=ended_days_ago)
    valid_from = valid_to - timedelta(days=6)
    PermitRequest.objects.filter(pk=request.pk).update(valid_from=valid_from, valid_to=valid_to)
    Permit.objects.filter(request=request).update(valid_from=valid_from, valid_to=valid_to)


def approve(request: PermitRequest, hr: Any, department: Any, police: Any) -> PermitRequest:
    request_submit(actor=hr, request=request)
    request_review(actor=department, request=request, decision="approve")
    return request_review(actor=police, request=request, decision="approve")


def snapshot() -> dict[str, Any]:
    """Everything a purge may touch, to prove that a run changed nothing."""
    return {
        "staff": sorted(Staff.objects.values_list("pk", "id_number", "full_name")),
        "entries": sorted(
            RequestEntry.objects.values_list(
                "pk", "id_number", "full_name", "date_of_birth", "phone", "staff_id"
            )
        ),
        "permits": sorted(Permit.objects.values_list("pk", "id_number", "full_name", "qr_text")),
        "audit": AuditEvent.objects.count(),
    }


def stats_tables(user: Any) -> list[str]:
    """The tables of the statistics page (the page also holds a fresh CSRF token)."""
    html = client_for(user).get("/stats/").content.decode()
    return re.findall(r"<table id=\"stats-.*?</table>|<dl[^>]*id=\"stats-.*?</dl>", html, re.S)


@pytest.fixture
def world(alice, bob, charlie, dave, viettel, vnpt) -> dict[str, Any]:
    """Viettel: A, B ended long ago; C ended long ago but holds a live permit too; D live;
    E in a request still in review (dates long gone); H only in a rejected request long ago;
    F never named in a request. VNPT: G ended long ago, with the same ID number as C."""
    signing_key_ensure()
    rows = people(7)
    import_staff(alice, viettel, rows)
    staff = {s.id_number: s for s in Staff.objects.filter(organization=viettel)}
    a, b, c, d, e, f, h = (staff[r[1]] for r in rows)
    old = approve(new_request(alice, viettel, [a, b, c]), alice, charlie, dave)
    live = approve(new_request(alice, viettel, [c, d]), alice, charlie, dave)
    in_review = request_submit(actor=alice, request=new_request(alice, viettel, [e]))
    rejected = request_submit(actor=alice, request=new_request(alice, viettel, [h]))
    request_review(actor=charlie, request=rejected, decision="reject", note="Không đủ điều kiện")
    (g,) = import_staff(bob, vnpt, [("Trần Thị Giang", c.id_number, "15/03/1990", "0911111111")])
    vnpt_old = approve(new_request(bob, vnpt, [g]), bob, charlie, dave)
    for request in (old, in_review, rejected, vnpt_old):
        move_back(request)
    return {
        "people": {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "H": h, "G": g},
        "old": old,
        "live": live,
        "in_review": in_review,
        "rejected": rejected,
        "vnpt_old": vnpt_old,
    }


def staff_left() -> set[tuple[str, str]]:
    return set(Staff.objects.values_list("organization__short_name", "full_name"))


# --- who is purged -----------------------------------------------------------------------------


def test_it_purges_exactly_the_people_whose_permits_all_ended_long_ago(world):
    p = world["people"]
    report = personal_data_purge(days=DAYS)
    # A, B (Viettel), H (rejected, Viettel), G (VNPT).
    assert (report.people, report.staff_deleted) == (4, 4)
    assert (report.entries_anonymised, report.permits_anonymised) == (4, 3)
    assert report.cutoff == timezone.localdate() - timedelta(days=DAYS)
    kept = {("VIETTEL", p[k].full_name) for k in "CDEF"}
    assert staff_left() == kept


def test_the_purged_entries_and_permits_keep_no_personal_data(world):
    p = world["people"]
    personal_data_purge(days=DAYS)
    entries = RequestEntry.objects.filter(request__in=[world["old"], world["vnpt_old"]])
    gone = entries.exclude(pk__in=entries.filter(id_number=p["C"].id_number, request=world["old"]))
    assert gone.count() == 3
    for entry in gone:
        assert entry.id_number == f"~{entry.pk}" and len(entry.id_number) <= 12
        assert (entry.full_name, entry.phone, entry.job_title, entry.vehicle_plate) == ("",) * 4
        assert entry.date_of_birth == PURGED_DATE_OF_BIRTH
        assert entry.staff_id is None
    permits = Permit.objects.filter(entry__in=gone)
    assert permits.count() == 3
    for permit in permits:
        assert permit.id_number == f"~{permit.entry_id}"
        assert (permit.full_name, permit.vehicle_plate, permit.qr_text) == ("", "", "")
        # What anonymous counts need stays.
        assert permit.serial.startswith("HN") and permit.organization_id and permit.area_codes
        assert permit.valid_to < timezone.localdate() and permit.issued_at
    rejected = world["rejected"].entries.get()
    assert (rejected.full_name, rejected.id_number) == ("", f"~{rejected.pk}")
    # The names are nowhere in the purged rows.
    for key in "ABGH":
        name = p[key].full_name
        assert not RequestEntry.objects.filter(full_name=name).exists()
        assert not Permit.objects.filter(full_name=name).exists()


def test_a_person_with_one_permit_still_valid_is_untouched_even_in_old_requests(world):
    c = world["people"]["C"]
    personal_data_purge(days=DAYS)
    old_entry = world["old"].entries.get(id_number=c.id_number)
    assert (old_entry.full_name, old_entry.date_of_birth) == (c.full_name, c.date_of_birth)
    assert old_entry.staff_id == c.pk
    old_permit = Permit.objects.get(entry=old_entry)
    assert old_permit.full_name == c.full_name and old_permit.qr_text
    assert Staff.objects.filter(pk=c.pk).exists()


def test_the_same_id_number_in_another_enterprise_is_another_person(world):
    """G (VNPT) shares C's ID number: G is purged, C (Viettel) is not."""
    c = world["people"]["C"]
    personal_data_purge(days=DAYS)
    assert not Staff.objects.filter(organization__short_name="VNPT").exists()
    assert world["vnpt_old"].entries.get().full_name == ""
    assert Staff.objects.get(pk=c.pk).id_number == c.id_number


def test_a_person_in_a_request_still_in_review_is_kept_whatever_its_dates(world):
    e = world["people"]["E"]
    personal_data_purge(days=DAYS)
    assert world["in_review"].status == RequestStatus.SUBMITTED
    assert world["in_review"].entries.get().full_name == e.full_name
    assert Staff.objects.filter(pk=e.pk).exists()


def test_staff_never_named_in_a_request_are_kept(world):
    f = world["people"]["F"]
    personal_data_purge(days=0)
    assert Staff.objects.filter(pk=f.pk).exists()


def test_permits_that_ended_within_the_retention_period_are_kept(world):
    assert personal_data_purge(days=LONG_AGO).people == 0  # ended exactly 60 days ago: kept
    assert personal_data_purge(days=LONG_AGO - 1).people == 4


def test_a_frozen_today_decides_what_ended(world):
    past = timezone.localdate() - timedelta(days=LONG_AGO)  # the day the old ones ended
    assert personal_data_purge(days=0, today=past).people == 0
    assert personal_data_purge(days=0, today=past + timedelta(days=1)).people == 4


def test_a_staff_row_an_open_request_copies_from_is_kept_after_an_id_correction(
    alice, charlie, dave, viettel
):
    """Q's old permit ended long ago under ID X; Q was removed. S, with ID Y, is in a draft;
    HR then corrects S's ID to X. Person X is purged, but S stays: the draft takes its copy
    from S when it is sent."""
    signing_key_ensure()
    rows = people(2)
    import_staff(alice, viettel, rows)
    q, s = (Staff.objects.get(id_number=r[1]) for r in rows)
    move_back(approve(new_request(alice, viettel, [q]), alice, charlie, dave))
    staff_delete(actor=alice, staff=q)
    draft = new_request(alice, viettel, [s], start=1)
    data = {
        "full_name": s.full_name,
        "id_number": rows[0][1],
        "date_of_birth": s.date_of_birth,
        "phone": s.phone,
    }
    staff_update(actor=alice, staff=s, data=data)
    report = personal_data_purge(days=DAYS)
    assert (report.people, report.staff_deleted, report.entries_anonymised) == (1, 0, 1)
    assert Staff.objects.filter(pk=s.pk).exists()
    old_entry = RequestEntry.objects.get(id_number__startswith="~")
    assert old_entry.staff_id is None  # the kept staff row does not name the purged entry
    request_submit(actor=alice, request=draft)
    assert draft.entries.get().id_number == rows[0][1]


# --- what survives -----------------------------------------------------------------------------


def test_the_audit_chain_still_verifies_and_gets_one_event_with_counts_only(world):
    before = AuditEvent.objects.count()
    personal_data_purge(days=DAYS)
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact" in out.getvalue()
    event = AuditEvent.objects.get(seq=before + 1)
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.actor_id) == ("personal_data.purge", None)
    assert event.details == {
        "days": DAYS,
        "cutoff": (timezone.localdate() - timedelta(days=DAYS)).isoformat(),
        "people": 4,
        "staff_deleted": 4,
        "entries_anonymised": 4,
        "permits_anonymised": 3,
        "print_files_deleted": 0,
    }


def test_the_statistics_are_the_same_before_and_after(world, charlie):
    period = default_period()
    before, tables = statistics_for(period=period), stats_tables(charlie)
    personal_data_purge(days=DAYS)
    assert statistics_for(period=period) == before
    assert stats_tables(charlie) == tables
    assert len(tables) == 3 and before.permits.total == 6 and before.requests_total == 5


def test_printed_pdfs_of_the_purged_requests_are_deleted_after_commit(
    world, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = print_job_create(actor=alice, request=world["old"], layout="a4x4")
    job.refresh_from_db()
    name, storage = job.file.name, job.file.storage
    assert name and storage.exists(name)
    assert personal_data_purge(days=DAYS, dry_run=True).print_files_deleted == 1
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        report = personal_data_purge(days=DAYS)
    assert report.print_files_deleted == 1
    job.refresh_from_db()
    assert not job.file and not storage.exists(name)
    assert job.status == PrintJobStatus.DONE  # the job's row, without its file


def test_scans_keep_their_serial_and_result(world, erin):
    serial = Permit.objects.filter(request=world["old"]).order_by("serial").first().serial
    verify_serial(officer=erin, serial=serial, checkpoint_code=None)
    scan = Scan.objects.get()
    personal_data_purge(days=DAYS)
    assert Scan.objects.values_list("serial", "result").get() == (scan.serial, scan.result)


# --- running it ---------------------------------------------------------------------------------


def test_a_second_run_is_a_no_op(world):
    personal_data_purge(days=DAYS)
    after = snapshot()
    report = personal_data_purge(days=DAYS)
    assert (report.people, report.staff_deleted) == (0, 0)
    assert (report.entries_anonymised, report.permits_anonymised) == (0, 0)
    assert snapshot() == after  # no audit event either


def test_the_command_purges_and_prints_the_counts(world):
    out = io.StringIO()
    call_command("purge_expired", "--days", str(DAYS), stdout=out)
    text = out.getvalue()
    assert "purged 4 people" in text and "staff deleted 4" in text
    assert "entries anonymised 4" in text and "permits anonymised 3" in text
    assert "print files deleted 0" in text
    assert len(staff_left()) == 4


def test_the_dry_run_prints_the_same_counts_and_changes_nothing(world):
    before = snapshot()
    out = io.StringIO()
    call_command("purge_expired", "--days", str(DAYS), "--dry-run", stdout=out)
    assert "would purge 4 people" in out.getvalue() and "staff deleted 4" in out.getvalue()
    assert "dry run" in out.getvalue()
    assert snapshot() == before


@pytest.mark.parametrize("days", ["-1", "-30"])
def test_negative_days_are_refused_in_one_line_and_nothing_changes(world, days):
    before = snapshot()
    with pytest.raises(CommandError) as refused:
        call_command("purge_expired", "--days", days)
    assert "\n" not in str(refused.value) and "--days" in str(refused.value)
    assert snapshot() == before


def test_the_service_refuses_negative_days_and_non_administrators(world, charlie, root):
    with pytest.raises(InvalidInput):
        personal_data_purge(days=-1)
    with pytest.raises(Forbidden):
        personal_data_purge(actor=charlie, days=DAYS)
    assert personal_data_purge(actor=root, days=DAYS).people == 4
    assert AuditEvent.objects.filter(action="personal_data.purge").get().actor_id == root.pk


def test_nothing_to_purge_on_an_empty_database(db):
    report = personal_data_purge(days=0, today=date(2021, 9, 15))
    assert (report.people, report.staff_deleted, report.entries_anonymised) == (0, 0, 0)
    assert not AuditEvent.objects.exists()
