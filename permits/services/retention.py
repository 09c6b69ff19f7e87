"""Removing the personal data of people whose permits ended long ago.

Who is purged
    A person is an ID number within an enterprise: (organization, id_number), as on the staff
    list. A person is purged when they appear in at least one request entry or permit, and
    - no request of theirs is in review (submitted, or approved by the Department and waiting
      for the police), whatever its dates: the reviewers still have to decide on it;
    - every request they appear in (draft, returned, approved or rejected) and every permit
      issued to them ended more than `days` days ago: valid_to < today − days, in local dates.
      A revoked permit counts until its valid_to, as on the revocation list. A draft or a
      returned request whose dates have passed can no longer be sent unchanged (request_submit
      refuses past dates; an edit takes fresh copies from the staff list), so it counts by its
      dates like any other.
    Staff never named in any request are kept: they are the enterprise's own list, not data
    collected for a permit. A staff row is also kept while a request entry taken from it
    (`RequestEntry.staff`) belongs to someone kept, so that a request still in progress can
    take its copy again after an ID number was corrected.

What purging does
    - Staff rows of purged people: deleted (their entries' `staff` link becomes NULL).
    - Their request entries: the snapshot is blanked (name, phone, job title, plate ""), the
      date of birth set to PURGED_DATE_OF_BIRTH, the ID number replaced by "~" + the entry's
      primary key ("~" never occurs in a real ID number, so a purged row is never taken for a
      person again, and re-running finds nothing to do) and the link to a staff row cut (a
      staff row kept under a corrected ID number would otherwise name the entry).
    - Their permits: name and plate "", the QR text "" (it carries the name and date of
      birth), the ID number "~" + the entry's primary key. Serial, enterprise, request,
      dates, districts, status, key id and timestamps stay, so anonymous counts survive:
      requests per status, permits per enterprise and day, times to approval. The permits of
      one entry share its placeholder; two entries of one person get different ones, so purged
      rows cannot be linked back into one person's history.
    - Printed PDFs of the requests those entries belong to (PrintJob.file) carry names and
      QR codes: the files are deleted from storage after the transaction commits and the jobs
      keep their row without a file (the print pages offer no download then). Those requests
      ended long ago, so nobody needs to print them again.
    - Scans hold a serial and a result, nothing personal: untouched. The audit chain holds
      references only: untouched, and one event with the counts is appended.
    Free text is not rewritten: request reasons, review notes, entries' rejection reasons and
    revocation reasons belong to a request or a permit, not to one person.

Lock order (as the staff and request services): organisations, then the entry, permit, staff
and print job rows being changed, then the audit chain head.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from django.db import models, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from orgs.access import Role, has_role
from orgs.audit import audit_record
from orgs.errors import Forbidden, InvalidInput
from orgs.models import Organization
from permits.models import Permit, PrintJob, RequestEntry, RequestStatus, Staff

logger = logging.getLogger(__name__)

PLACEHOLDER_PREFIX = "~"
PURGED_DATE_OF_BIRTH = date(1900, 1, 1)
# A request in review keeps its people whatever its dates.
IN_REVIEW = (RequestStatus.SUBMITTED, RequestStatus.DEPARTMENT_APPROVED)
# Rows per UPDATE/DELETE: below every database's limit on query parameters.
_CHUNK = 500

Person = tuple[int, str]  # (organization id, id_number)
T = TypeVar("T")


@dataclass(frozen=True)
class PurgeReport:
    cutoff: date  # people whose last validity day is before this date were purged
    people: int
    staff_deleted: int
    entries_anonymised: int
    permits_anonymised: int
    print_files_deleted: int = 0
    dry_run: bool = False


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _not_placeholder() -> Q:
    return ~Q(id_number__startswith=PLACEHOLDER_PREFIX)


def _placeholder_from_entry(entry_field: str) -> Concat:
    # "~" + entry pk: at most 12 characters up to pk 10**11, unique per entry.
    return Concat(
        models.Value(PLACEHOLDER_PREFIX),
        Cast(entry_field, output_field=models.CharField()),
        output_field=models.CharField(),
    )


def _people_to_purge(cutoff: date) -> set[Person]:
    """Two grouped queries: each person's last validity day and whether one is in review."""
    last_day: dict[Person, date] = {}
    in_review: set[Person] = set()
    by_entries = (
        RequestEntry.objects.filter(_not_placeholder())
        .values_list("request__organization_id", "id_number")
        .annotate(
            last=Max("request__valid_to"),
            reviewing=Count("pk", filter=Q(request__status__in=IN_REVIEW)),
        )
        .order_by()
    )
    for org_id, number, last, reviewing in by_entries:
        last_day[(org_id, number)] = last
        if reviewing:
            in_review.add((org_id, number))
    by_permits = (
        Permit.objects.filter(_not_placeholder())
        .values_list("organization_id", "id_number")
        .annotate(last=Max("valid_to"))
        .order_by()
    )
    for org_id, number, last in by_permits:
        key = (org_id, number)
        last_day[key] = max(last, last_day.get(key, last))
    return {key for key, last in last_day.items() if last < cutoff and key not in in_review}


def _entries_of(people: set[Person], cutoff: date) -> tuple[list[int], set[UUID]]:
    """Entry pks of purged people, and their requests. Only ended requests can hold them
    (the cutoff narrows the scan)."""
    rows = (
        RequestEntry.objects.filter(_not_placeholder(), request__valid_to__lt=cutoff)
        .exclude(request__status__in=IN_REVIEW)
        .values_list("pk", "request_id", "request__organization_id", "id_number")
    )
    chosen = [(pk, req) for pk, req, org_id, number in rows if (org_id, number) in people]
    return sorted(pk for pk, _req in chosen), {req for _pk, req in chosen}


def _permits_of(people: set[Person], cutoff: date) -> tuple[list[int], set[UUID]]:
    rows = Permit.objects.filter(_not_placeholder(), valid_to__lt=cutoff).values_list(
        "pk", "request_id", "organization_id", "id_number"
    )
    chosen = [(pk, req) for pk, req, org_id, number in rows if (org_id, number) in people]
    return sorted(pk for pk, _req in chosen), {req for _pk, req in chosen}


def _print_files_of(requests: set[UUID]) -> list[tuple[UUID, str]]:
    """(job pk, file name) of the print jobs of these requests that still have a file."""
    ordered = sorted(requests)
    files: list[tuple[UUID, str]] = []
    for chunk in _chunks(ordered):
        files += (
            PrintJob.objects.filter(request_id__in=chunk).exclude(file="").values_list("pk", "file")
        )
    return sorted(files)


def _staff_of(people: set[Person]) -> list[int]:
    """Staff rows of purged people, except those an entry of someone kept was copied from."""
    numbers = sorted({number for _org, number in people})
    candidates: list[int] = []
    for chunk in _chunks(numbers):
        rows = Staff.objects.filter(id_number__in=chunk).values_list(
            "pk", "organization_id", "id_number"
        )
        candidates += [pk for pk, org_id, number in rows if (org_id, number) in people]
    still_needed: set[int] = set()
    for pks in _chunks(candidates):
        linked = (
            RequestEntry.objects.filter(_not_placeholder(), staff_id__in=pks)
            .values_list("staff_id", "request__organization_id", "id_number")
            .distinct()
        )
        still_needed |= {
            staff_id for staff_id, org_id, number in linked if (org_id, number) not in people
        }
    return sorted(set(candidates) - still_needed)


def _lock(model: type[models.Model], pks: Iterable[Any]) -> None:
    # pk order everywhere, so two runs (or a run and a service) never lock in opposite orders.
    for chunk in _chunks(sorted(pks)):
        list(model._default_manager.select_for_update().filter(pk__in=chunk).values_list("pk"))


def _anonymise_entries(pks: Sequence[int]) -> int:
    done = 0
    for chunk in _chunks(pks):
        done += RequestEntry.objects.filter(pk__in=chunk).update(
            staff=None,
            id_number=_placeholder_from_entry("pk"),
            full_name="",
            date_of_birth=PURGED_DATE_OF_BIRTH,
            phone="",
            job_title="",
            vehicle_plate="",
        )
    return done


def _anonymise_permits(pks: Sequence[int]) -> int:
    done = 0
    for chunk in _chunks(pks):
        done += Permit.objects.filter(pk__in=chunk).update(
            id_number=_placeholder_from_entry("entry_id"),
            full_name="",
            vehicle_plate="",
            qr_text="",
        )
    return done


def _forget_print_files(files: Sequence[tuple[UUID, str]]) -> int:
    """Clear the jobs' file now; delete the files once the transaction has committed (a
    rollback must not leave jobs pointing at deleted files)."""
    pks = [pk for pk, _name in files]
    for chunk in _chunks(pks):
        PrintJob.objects.filter(pk__in=chunk).update(file="")
    names = [name for _pk, name in files]
    transaction.on_commit(partial(_delete_files, names), robust=True)
    return len(files)


def _delete_files(names: Sequence[str]) -> None:
    storage = PrintJob._meta.get_field("file").storage  # type: ignore[attr-defined]
    for name in names:
        try:
            storage.delete(name)
        except OSError:  # already gone, or a storage hiccup: the next run cannot retry, log it
            logger.exception("could not delete purged print file %s", name)


def _delete_staff(pks: Sequence[int]) -> int:
    done = 0
    for chunk in _chunks(pks):
        _count, per_model = Staff.objects.filter(pk__in=chunk).delete()
        done += per_model.get(Staff._meta.label, 0)
    return done


def personal_data_purge(
    *, actor: Any = None, days: int, today: date | None = None, dry_run: bool = False
) -> PurgeReport:
    """Remove the personal data of people whose requests and permits all ended more than
    `days` days before `today` (local date; default: today in Hanoi). See the module docstring
    for who is purged and what is kept.

    One transaction: deletes Staff rows, blanks RequestEntry and Permit rows and clears the
    PrintJob files of their requests (row locks taken first), appends one audit event with
    counts only (no event when nobody is purged, so a re-run is a no-op); after commit deletes
    those PDF files from storage. Sends nothing. `dry_run` computes the same report and
    writes nothing. InvalidInput for negative days; Forbidden for an actor who is not an
    administrator (actor None is the system: a management command run by an operator).
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise InvalidInput(
            _("Số ngày lưu giữ phải là số nguyên không âm (nhận được: %(days)s).") % {"days": days}
        )
    if actor is not None and not has_role(actor, Role.ADMIN):
        raise Forbidden(_("Chỉ quản trị hệ thống được xoá dữ liệu cá nhân."))
    cutoff = (today or timezone.localdate()) - timedelta(days=days)
    with transaction.atomic():
        # Staff imports, edits and deletions lock their organisation first: hold them all off
        # while deciding, so a person is not re-imported or edited half-way through.
        list(Organization.objects.select_for_update().order_by("pk").values_list("pk"))
        people = _people_to_purge(cutoff)
        if not people:
            return PurgeReport(cutoff, 0, 0, 0, 0, dry_run=dry_run)
        entries, entry_requests = _entries_of(people, cutoff)
        permits, permit_requests = _permits_of(people, cutoff)
        staff = _staff_of(people)
        files = _print_files_of(entry_requests | permit_requests)
        if dry_run:
            return PurgeReport(
                cutoff=cutoff,
                people=len(people),
                staff_deleted=len(staff),
                entries_anonymised=len(entries),
                permits_anonymised=len(permits),
                print_files_deleted=len(files),
                dry_run=True,
            )
        _lock(RequestEntry, entries)
        _lock(Permit, permits)
        _lock(Staff, staff)
        _lock(PrintJob, [pk for pk, _name in files])
        report = PurgeReport(
            cutoff=cutoff,
            people=len(people),
            staff_deleted=_delete_staff(staff),
            entries_anonymised=_anonymise_entries(entries),
            permits_anonymised=_anonymise_permits(permits),
            print_files_deleted=_forget_print_files(files),
        )
        # Counts and the cutoff only: the chain never holds personal data.
        audit_record(
            actor=actor,
            action="personal_data.purge",
            object_type="retention",
            object_id=cutoff.isoformat(),
            details={
                "days": days,
                "cutoff": cutoff.isoformat(),
                "people": report.people,
                "staff_deleted": report.staff_deleted,
                "entries_anonymised": report.entries_anonymised,
                "permits_anonymised": report.permits_anonymised,
                "print_files_deleted": report.print_files_deleted,
            },
        )
    return report
