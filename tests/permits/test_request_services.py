"""The request workflow services (permits/services/requests.py) and selectors.

Every transition and every refusal, the history and audit rows each writes, and the e-mail
each sends after commit. Staff come in through the staff import service; dates are relative to
today in Hanoi (timezone.localdate()), so the tests hold whatever the day.

The helpers at the top are shared by the other request test modules.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.http import Http404
from django.utils import timezone

from orgs.access import Role
from orgs.errors import Forbidden, NotFound
from orgs.models import AuditEvent, Organization
from permits.errors import RequestInvalid, SeparationOfDuties, TransitionNotAllowed
from permits.models import (
    EntryDecision,
    Permit,
    PermitRequest,
    RequestHistory,
    RequestStatus,
    Staff,
)
from permits.selectors import (
    get_request_for_user,
    request_entries_with_flags,
    requests_for_user,
    review_queue,
    review_queue_counts,
)
from permits.services.issuance import permit_revoke
from permits.services.keys import signing_key_ensure
from permits.services.requests import (
    TRANSITIONS,
    request_create,
    request_review,
    request_submit,
    request_update,
)
from permits.services.staff import staff_import
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

# --- helpers shared with test_request_api/pages/concurrency/browser --------------------------

GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Minh", "Ngọc", "Phúc"]
FAMILY = ["Nguyễn Văn", "Trần Thị", "Lê Minh", "Phạm Quốc", "Hoàng Thu", "Vũ Đức", "Đỗ Thị"]


def people(n: int, *, start: int = 0, gender_digit: str = "0") -> list[tuple[str, str, str, str]]:
    """n people born in 1990 in Hà Nội: (full name, CCCD, date of birth, phone).

    CCCD = 001 (Hà Nội) + gender digit (0 male / 1 female, 1900s) + 90 + six digits.
    """
    out = []
    for i in range(start, start + n):
        name = f"{FAMILY[i % len(FAMILY)]} {GIVEN[(i // len(FAMILY)) % len(GIVEN)]}"
        out.append((name, f"001{gender_digit}90{i:06d}", "15/03/1990", f"09{i:08d}"))
    return out


def staff_csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["full_name,id_number,date_of_birth,phone"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def import_staff(hr: User, organization: Organization, rows: list[Any]) -> list[Staff]:
    staff_import(actor=hr, organization=organization, data=staff_csv(rows), filename="staff.csv")
    numbers = [r[1] for r in rows]
    return list(Staff.objects.filter(organization=organization, id_number__in=numbers))


def today() -> date:
    return timezone.localdate()


def new_request(
    hr: User,
    organization: Organization,
    staff: list[Staff],
    *,
    start: int = 0,
    days: int = 7,
    areas: tuple[str, ...] = ("005", "006"),
    whole_city: bool = False,
) -> PermitRequest:
    return request_create(
        actor=hr,
        organization=organization,
        staff_ids=[s.pk for s in staff],
        valid_from=today() + timedelta(days=start),
        valid_to=today() + timedelta(days=start + days - 1),
        areas=areas,
        whole_city=whole_city,
        reason="Ứng cứu thông tin, bảo dưỡng trạm BTS",
    )


def fresh(request: PermitRequest) -> PermitRequest:
    return PermitRequest.objects.get(pk=request.pk)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def viettel_staff(alice: User, viettel: Organization) -> list[Staff]:
    return import_staff(alice, viettel, people(3))


@pytest.fixture
def vnpt_staff(bob: User, vnpt: Organization) -> list[Staff]:
    return import_staff(bob, vnpt, people(2, start=100, gender_digit="1"))


@pytest.fixture
def draft(alice: User, viettel: Organization, viettel_staff: list[Staff]) -> PermitRequest:
    return new_request(alice, viettel, viettel_staff)


@pytest.fixture
def submitted(alice: User, draft: PermitRequest) -> PermitRequest:
    return request_submit(actor=alice, request=draft)


@pytest.fixture
def department_approved(charlie: User, submitted: PermitRequest) -> PermitRequest:
    return request_review(actor=charlie, request=submitted, decision="approve")


@pytest.fixture
def signing_key(db: Any) -> Any:
    return signing_key_ensure()


@pytest.fixture
def with_emails(alice: User, bob: User, charlie: User, dave: User) -> None:
    for user in (alice, bob, charlie, dave):
        User.objects.filter(pk=user.pk).update(email=f"{user.username}@example.vn")


@pytest.fixture
def both_roles(db: Any) -> User:
    """A reviewer holding both reviewer roles: the one who must never approve twice."""
    return make_user("gina", Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER)


def history_of(request: PermitRequest) -> list[tuple[str, str, str, str]]:
    return list(
        RequestHistory.objects.filter(request=request)
        .order_by("at", "pk")
        .values_list("action", "role", "from_status", "to_status")
    )


def audit_actions(request: PermitRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="permit_request", object_id=str(request.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


def snapshot(request: PermitRequest) -> tuple[Any, ...]:
    """Everything a refused transition must leave unchanged."""
    request = fresh(request)
    return (
        request.status,
        request.department_approved_by_id,
        request.approved_by_id,
        list(request.entries.order_by("pk").values_list("decision", "reason")),
        RequestHistory.objects.filter(request=request).count(),
        AuditEvent.objects.count(),
        Permit.objects.count(),
    )


# --- the table ------------------------------------------------------------------------------


def test_the_transition_table_reads_as_the_contract_says():
    s = RequestStatus
    assert TRANSITIONS[(s.DRAFT, "submit")] == (Role.ORG_HR, s.SUBMITTED)
    assert TRANSITIONS[(s.RETURNED, "submit")] == (Role.ORG_HR, s.SUBMITTED)
    assert TRANSITIONS[(s.SUBMITTED, "approve")] == (
        Role.DEPARTMENT_REVIEWER,
        s.DEPARTMENT_APPROVED,
    )
    assert TRANSITIONS[(s.DEPARTMENT_APPROVED, "approve")] == (Role.POLICE_REVIEWER, s.APPROVED)
    # Nothing leaves a final state.
    assert not [key for key in TRANSITIONS if key[0] in (s.APPROVED, s.REJECTED)]


# --- create ---------------------------------------------------------------------------------


def test_it_creates_a_draft_whose_entries_are_snapshots_of_the_staff(alice, viettel, viettel_staff):
    request = new_request(alice, viettel, viettel_staff)
    assert request.status == RequestStatus.DRAFT
    assert request.reference.startswith("YC-")
    assert sorted(request.areas.values_list("code", flat=True)) == ["005", "006"]
    person = viettel_staff[0]
    entry = request.entries.get(id_number=person.id_number)
    assert (entry.full_name, entry.date_of_birth, entry.phone, entry.staff_id) == (
        person.full_name,
        person.date_of_birth,
        person.phone,
        person.pk,
    )
    assert entry.decision == EntryDecision.PENDING
    assert history_of(request) == [("create", "org_hr", "", "draft")]
    assert audit_actions(request) == ["request.create"]
    event = AuditEvent.objects.get(action="request.create")
    assert event.details == {"from": "", "to": "draft", "entries": 3}


def test_it_creates_from_id_numbers_and_for_the_whole_city(alice, viettel, viettel_staff):
    request = request_create(
        actor=alice,
        organization=viettel,
        id_numbers=[viettel_staff[0].id_number, viettel_staff[0].id_number],
        valid_from=today(),
        valid_to=today(),
        areas=["005"],
        whole_city=True,
    )
    assert request.entries.count() == 1
    assert request.whole_city and not request.areas.exists()


@pytest.mark.parametrize("days", [1, 14])
def test_it_accepts_one_to_fourteen_days_starting_today(alice, viettel, viettel_staff, days):
    request = new_request(alice, viettel, viettel_staff, days=days)
    assert (request.valid_to - request.valid_from).days + 1 == days


def _refusal(excinfo: Any) -> list[str]:
    return [d["field"] for d in excinfo.value.details]


def test_it_refuses_fifteen_days(alice, viettel, viettel_staff):
    with pytest.raises(RequestInvalid) as excinfo:
        new_request(alice, viettel, viettel_staff, days=15)
    assert _refusal(excinfo) == ["valid_to"]
    assert "tối đa 14 ngày" in excinfo.value.message
    assert not PermitRequest.objects.exists()


def test_it_refuses_a_start_in_the_past(alice, viettel, viettel_staff):
    with pytest.raises(RequestInvalid) as excinfo:
        new_request(alice, viettel, viettel_staff, start=-1, days=3)
    assert _refusal(excinfo) == ["valid_from"]
    assert not PermitRequest.objects.exists()


def test_it_refuses_an_empty_validity_ending_before_it_starts(alice, viettel, viettel_staff):
    with pytest.raises(RequestInvalid) as excinfo:
        request_create(
            actor=alice,
            organization=viettel,
            staff_ids=[viettel_staff[0].pk],
            valid_from=today() + timedelta(days=3),
            valid_to=today() + timedelta(days=2),
            areas=["005"],
        )
    assert _refusal(excinfo) == ["valid_to"]


def test_it_refuses_an_unknown_area(alice, viettel, viettel_staff):
    with pytest.raises(RequestInvalid) as excinfo:
        new_request(alice, viettel, viettel_staff, areas=("005", "999"))
    assert excinfo.value.details == [
        {"field": "areas", "code": "999", "message": "Không có quận/huyện mã 999."}
    ]


def test_it_refuses_no_area_without_the_whole_city(alice, viettel, viettel_staff):
    with pytest.raises(RequestInvalid) as excinfo:
        new_request(alice, viettel, viettel_staff, areas=())
    assert _refusal(excinfo) == ["areas"]


def test_it_refuses_an_empty_staff_list(alice, viettel, viettel_staff):
    with pytest.raises(RequestInvalid) as excinfo:
        new_request(alice, viettel, [])
    assert _refusal(excinfo) == ["staff"]
    assert excinfo.value.message == "Chọn ít nhất một nhân sự."


def test_it_refuses_staff_of_another_organisation_like_unknown_people(
    alice, viettel, viettel_staff, vnpt_staff
):
    with pytest.raises(RequestInvalid) as excinfo:
        new_request(alice, viettel, [viettel_staff[0], vnpt_staff[0]])
    assert _refusal(excinfo) == ["staff"]
    other, unknown = vnpt_staff[0].id_number, "001090999999"
    with pytest.raises(RequestInvalid) as excinfo:
        request_create(
            actor=alice,
            organization=viettel,
            id_numbers=[other, unknown],
            valid_from=today(),
            valid_to=today(),
            areas=["005"],
        )
    messages = [d["message"] for d in excinfo.value.details]
    assert messages[0].replace(other, "N") == messages[1].replace(unknown, "N")
    assert not PermitRequest.objects.exists()


def test_it_lists_every_mistake_at_once(alice, viettel):
    with pytest.raises(RequestInvalid) as excinfo:
        request_create(
            actor=alice,
            organization=viettel,
            staff_ids=[],
            valid_from=today() - timedelta(days=1),
            valid_to=today() + timedelta(days=20),
            areas=["999"],
        )
    assert _refusal(excinfo) == ["staff", "valid_from", "valid_to", "areas"]


def test_a_reviewer_may_not_create_a_request(charlie, viettel, viettel_staff):
    with pytest.raises(Forbidden):
        new_request(charlie, viettel, viettel_staff)


def test_a_clerk_may_not_create_for_another_organisation(bob, viettel, viettel_staff):
    with pytest.raises(NotFound):
        new_request(bob, viettel, viettel_staff)


# --- update ---------------------------------------------------------------------------------


def test_it_updates_a_draft_and_replaces_its_entries(alice, draft, viettel_staff):
    request = request_update(
        actor=alice,
        request=draft,
        staff_ids=[viettel_staff[1].pk],
        valid_from=today() + timedelta(days=1),
        valid_to=today() + timedelta(days=2),
        areas=[],
        whole_city=True,
        reason="Phát bưu gửi thiết yếu",
    )
    assert request.status == RequestStatus.DRAFT
    assert list(request.entries.values_list("id_number", flat=True)) == [viettel_staff[1].id_number]
    assert request.whole_city and not request.areas.exists()
    assert history_of(request)[-1] == ("edit", "org_hr", "draft", "draft")
    assert audit_actions(request) == ["request.create", "request.edit"]


def test_it_refuses_to_update_a_submitted_request_and_changes_nothing(
    alice, submitted, viettel_staff
):
    before = snapshot(submitted)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        request_update(
            actor=alice,
            request=submitted,
            staff_ids=[viettel_staff[0].pk],
            valid_from=today(),
            valid_to=today(),
            areas=["005"],
        )
    assert excinfo.value.status == 409
    assert snapshot(submitted) == before


def test_another_organisation_may_not_update(bob, draft, vnpt_staff):
    with pytest.raises(NotFound):
        request_update(
            actor=bob,
            request=draft,
            staff_ids=[vnpt_staff[0].pk],
            valid_from=today(),
            valid_to=today(),
            areas=["005"],
        )


# --- submit ---------------------------------------------------------------------------------


def test_submit_sends_the_draft_to_the_department_and_mails_its_reviewers_after_commit(
    alice, draft, with_emails, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = request_submit(actor=alice, request=draft)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert request.status == RequestStatus.SUBMITTED and request.submitted_at
    assert history_of(request)[-1] == ("submit", "org_hr", "draft", "submitted")
    assert audit_actions(request)[-1] == "request.submit"
    [message] = mail.outbox
    assert message.to == ["charlie@example.vn"]
    assert (
        message.subject
        == f"[Giấy đi đường] Đề nghị {request.reference} của VIETTEL chờ Sở TT&TT thẩm định"
    )
    assert "Số người: 3" in message.body


def test_submit_takes_a_fresh_snapshot_of_the_staff_list(alice, viettel, draft, viettel_staff):
    person = viettel_staff[0]
    changed = [(person.full_name, person.id_number, "15/03/1990", "0988888888")]
    staff_import(actor=alice, organization=viettel, data=staff_csv(changed), filename="s.csv")
    request_submit(actor=alice, request=draft)
    assert draft.entries.get(id_number=person.id_number).phone == "0988888888"


def test_submit_refuses_a_draft_whose_start_has_passed(alice, draft):
    PermitRequest.objects.filter(pk=draft.pk).update(
        valid_from=today() - timedelta(days=1), valid_to=today()
    )
    with pytest.raises(RequestInvalid):
        request_submit(actor=alice, request=draft)
    assert fresh(draft).status == RequestStatus.DRAFT


def test_submitting_twice_is_a_conflict_and_changes_nothing(alice, submitted):
    before = snapshot(submitted)
    with pytest.raises(TransitionNotAllowed):
        request_submit(actor=alice, request=submitted)
    assert snapshot(submitted) == before


def test_another_organisation_cannot_submit_as_if_the_request_did_not_exist(bob, draft):
    with pytest.raises(NotFound):
        request_submit(actor=bob, request=draft)
    assert fresh(draft).status == RequestStatus.DRAFT


def test_a_reviewer_cannot_submit(charlie, draft):
    with pytest.raises(Forbidden):
        request_submit(actor=charlie, request=draft)


# --- department review -----------------------------------------------------------------------


def test_the_department_approves_with_one_person_rejected(
    charlie, submitted, viettel_staff, with_emails, django_capture_on_commit_callbacks
):
    turned_down = viettel_staff[2].id_number
    with django_capture_on_commit_callbacks(execute=True):
        request = request_review(
            actor=charlie,
            request=submitted,
            decision="approve",
            note="Đúng đối tượng",
            rejected=[(turned_down, "Không thuộc bộ phận ứng cứu")],
        )
    assert request.status == RequestStatus.DEPARTMENT_APPROVED
    assert request.department_approved_by == charlie and request.department_approved_at
    decisions = dict(request.entries.values_list("id_number", "decision"))
    assert decisions[turned_down] == EntryDecision.REJECTED
    assert sorted(decisions.values()).count(EntryDecision.ACCEPTED) == 2
    assert request.entries.get(id_number=turned_down).reason == "Không thuộc bộ phận ứng cứu"
    assert history_of(request)[-1] == (
        "approve",
        "department_reviewer",
        "submitted",
        "department_approved",
    )
    event = AuditEvent.objects.filter(action="request.approve").get()
    assert event.details["accepted"] == 2 and event.details["rejected"] == 1
    assert turned_down not in str(event.details)  # no personal data in the audit chain
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {("alice@example.vn",), ("dave@example.vn",)}
    assert "đã được Sở TT&TT thẩm định" in by_recipient[("alice@example.vn",)].subject
    assert "chờ Công an TP phê duyệt" in by_recipient[("dave@example.vn",)].subject
    assert "Ghi chú: Đúng đối tượng" in by_recipient[("alice@example.vn",)].body


def test_a_rejected_person_needs_a_reason_and_must_be_in_the_request(charlie, submitted):
    before = snapshot(submitted)
    with pytest.raises(RequestInvalid) as excinfo:
        request_review(
            actor=charlie,
            request=submitted,
            decision="approve",
            rejected=[("001090000000", " "), ("001090555555", "Không rõ")],
        )
    assert [d["id_number"] for d in excinfo.value.details] == ["001090000000", "001090555555"]
    assert snapshot(submitted) == before


def test_rejecting_every_person_rejects_the_request(charlie, submitted, viettel_staff):
    request = request_review(
        actor=charlie,
        request=submitted,
        decision="approve",
        rejected=[(s.id_number, "Không đúng đối tượng") for s in viettel_staff],
    )
    assert request.status == RequestStatus.REJECTED
    assert history_of(request)[-1] == ("reject", "department_reviewer", "submitted", "rejected")


def test_the_department_rejects_the_whole_request_with_a_note(
    charlie, submitted, with_emails, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = request_review(
            actor=charlie, request=submitted, decision="reject", note="Ngoài lĩnh vực"
        )
    assert request.status == RequestStatus.REJECTED
    assert set(request.entries.values_list("decision", flat=True)) == {EntryDecision.REJECTED}
    [message] = mail.outbox
    assert message.to == ["alice@example.vn"]
    assert message.subject.endswith("bị từ chối")


@pytest.mark.parametrize("decision", ["reject", "return"])
def test_rejecting_or_returning_needs_a_note(charlie, submitted, decision):
    before = snapshot(submitted)
    with pytest.raises(RequestInvalid):
        request_review(actor=charlie, request=submitted, decision=decision, note="  ")
    assert snapshot(submitted) == before


def test_an_unknown_decision_is_refused(charlie, submitted):
    with pytest.raises(RequestInvalid):
        request_review(actor=charlie, request=submitted, decision="maybe")


def test_the_police_cannot_review_out_of_turn_and_nothing_changes(dave, submitted):
    before = snapshot(submitted)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        request_review(actor=dave, request=submitted, decision="approve")
    assert excinfo.value.status == 409
    assert snapshot(submitted) == before


def test_an_hr_clerk_or_an_outsider_cannot_review(alice, frank, submitted):
    for actor in (alice, frank):
        with pytest.raises(Forbidden):
            request_review(actor=actor, request=submitted, decision="approve")


def test_no_one_reviews_a_draft(charlie, dave, draft):
    for actor in (charlie, dave):
        with pytest.raises(TransitionNotAllowed):
            request_review(actor=actor, request=draft, decision="approve")


# --- return and resubmit ---------------------------------------------------------------------


def test_a_returned_request_is_edited_and_resubmitted_with_fresh_entries(
    alice, charlie, submitted, viettel_staff, with_emails, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        returned = request_review(
            actor=charlie,
            request=submitted,
            decision="return",
            note="Bổ sung chức vụ",
            rejected=[(viettel_staff[0].id_number, "Thiếu chức vụ")],
        )
    assert returned.status == RequestStatus.RETURNED
    assert mail.outbox[-1].to == ["alice@example.vn"]
    assert "bị trả lại" in mail.outbox[-1].subject
    edited = request_update(
        actor=alice,
        request=returned,
        staff_ids=[s.pk for s in viettel_staff[:2]],
        valid_from=returned.valid_from,
        valid_to=returned.valid_to,
        areas=["005"],
    )
    assert edited.status == RequestStatus.RETURNED
    again = request_submit(actor=alice, request=edited)
    assert again.status == RequestStatus.SUBMITTED
    assert set(again.entries.values_list("decision", flat=True)) == {EntryDecision.PENDING}
    assert [h[0] for h in history_of(again)] == ["create", "submit", "return", "edit", "submit"]


def test_the_police_may_return_to_hr_and_the_next_round_starts_at_the_department(
    alice, charlie, dave, department_approved
):
    returned = request_review(
        actor=dave, request=department_approved, decision="return", note="Sai địa bàn"
    )
    assert returned.status == RequestStatus.RETURNED
    again = request_submit(actor=alice, request=returned)
    assert again.status == RequestStatus.SUBMITTED and again.department_approved_by is None
    with pytest.raises(TransitionNotAllowed):
        request_review(actor=dave, request=again, decision="approve")


# --- police review ---------------------------------------------------------------------------


def test_the_police_approval_issues_the_permits_of_accepted_people_in_one_go(
    charlie,
    dave,
    submitted,
    viettel_staff,
    signing_key,
    with_emails,
    django_capture_on_commit_callbacks,
):
    request_review(
        actor=charlie,
        request=submitted,
        decision="approve",
        rejected=[(viettel_staff[0].id_number, "Không thuộc diện")],
    )
    with django_capture_on_commit_callbacks(execute=True):
        request = request_review(
            actor=dave,
            request=submitted,
            decision="approve",
            rejected=[(viettel_staff[1].id_number, "Đã có giấy khác")],
        )
    assert request.status == RequestStatus.APPROVED
    assert request.approved_by == dave and request.approved_at
    [permit] = Permit.objects.filter(request=request)
    assert permit.id_number == viettel_staff[2].id_number
    assert history_of(request)[-1] == (
        "approve",
        "police_reviewer",
        "department_approved",
        "approved",
    )
    assert audit_actions(request)[-1] == "request.approve"
    assert (
        AuditEvent.objects.get(action="request.approve", details__role="police_reviewer").details[
            "permits"
        ]
        == 1
    )
    [message] = mail.outbox
    assert message.to == ["alice@example.vn"]
    assert "đã được phê duyệt" in message.subject
    assert "chấp thuận 1, từ chối 2" in message.body


def test_an_entry_the_department_rejected_cannot_be_rejected_again(
    charlie, dave, submitted, viettel_staff
):
    gone = viettel_staff[0].id_number
    request_review(actor=charlie, request=submitted, decision="approve", rejected=[(gone, "Không")])
    with pytest.raises(RequestInvalid):
        request_review(actor=dave, request=submitted, decision="approve", rejected=[(gone, "Lại")])


def test_it_refuses_a_second_approval_by_the_same_person(both_roles, dave, submitted, signing_key):
    request_review(actor=both_roles, request=submitted, decision="approve")
    before = snapshot(submitted)
    with pytest.raises(SeparationOfDuties) as excinfo:
        request_review(actor=both_roles, request=submitted, decision="approve")
    assert excinfo.value.status == 409 and excinfo.value.code == "separation_of_duties"
    assert snapshot(submitted) == before
    # Another police reviewer may approve it.
    assert request_review(actor=dave, request=submitted, decision="approve").status == "approved"


def test_a_person_with_both_roles_acts_as_the_stage_requires(both_roles, charlie, submitted):
    request_review(actor=charlie, request=submitted, decision="approve")
    request = request_review(actor=both_roles, request=submitted, decision="reject", note="Sai")
    assert history_of(request)[-1][1] == "police_reviewer"


def test_the_department_cannot_act_again_once_it_approved(charlie, department_approved):
    before = snapshot(department_approved)
    with pytest.raises(TransitionNotAllowed):
        request_review(actor=charlie, request=department_approved, decision="reject", note="x")
    assert snapshot(department_approved) == before


def test_nothing_happens_after_a_final_decision(alice, charlie, dave, department_approved):
    request_review(actor=dave, request=department_approved, decision="reject", note="Không")
    for actor, call in [
        (alice, lambda a: request_submit(actor=a, request=department_approved)),
        (
            charlie,
            lambda a: request_review(actor=a, request=department_approved, decision="approve"),
        ),
        (dave, lambda a: request_review(actor=a, request=department_approved, decision="approve")),
    ]:
        with pytest.raises(TransitionNotAllowed):
            call(actor)


# --- selectors ------------------------------------------------------------------------------


def test_another_organisation_s_request_is_404_like_a_missing_one(bob, draft):
    import uuid

    for pk in (draft.pk, uuid.uuid4()):
        with pytest.raises(Http404):
            get_request_for_user(bob, pk)


def test_reviewers_see_requests_past_draft_only(charlie, dave, draft, alice):
    for reviewer in (charlie, dave):
        with pytest.raises(Http404):
            get_request_for_user(reviewer, draft.pk)
    request_submit(actor=alice, request=draft)
    assert get_request_for_user(charlie, draft.pk) == draft


def test_a_caller_who_may_see_but_not_act_gets_403(charlie, submitted, alice, erin, frank):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        get_request_for_user(charlie, submitted.pk, for_action="submit")
    with pytest.raises(PermissionDenied):
        get_request_for_user(alice, submitted.pk, for_action="approve")
    for outsider in (erin, frank):
        with pytest.raises(Http404):
            get_request_for_user(outsider, submitted.pk)


def test_lists_are_scoped_to_the_caller(alice, bob, charlie, vnpt, vnpt_staff, submitted):
    new_request(bob, vnpt, vnpt_staff)  # a VNPT draft
    assert list(requests_for_user(alice)) == [submitted]
    assert [r.organization for r in requests_for_user(bob)] == [vnpt]
    assert list(requests_for_user(charlie)) == [submitted]
    assert list(requests_for_user(alice, status="draft")) == []
    assert requests_for_user(alice).get().entry_count == 3


def test_queues_put_the_oldest_submission_first_and_count_each_stage(
    alice, bob, charlie, viettel, vnpt, viettel_staff, vnpt_staff
):
    first = request_submit(actor=alice, request=new_request(alice, viettel, viettel_staff))
    second = request_submit(actor=bob, request=new_request(bob, vnpt, vnpt_staff))
    third = request_submit(actor=alice, request=new_request(alice, viettel, viettel_staff[:1]))
    request_review(actor=charlie, request=second, decision="approve")
    assert list(review_queue("department")) == [first, third]
    assert list(review_queue("police")) == [second]
    assert review_queue_counts() == {"department": 2, "police": 1}


# --- overlap flags -------------------------------------------------------------------------


@pytest.fixture
def twin(bob: User, vnpt: Organization, viettel_staff: list[Staff]) -> Staff:
    """A VNPT staff member who is also on Viettel's list (the same CCCD)."""
    person = viettel_staff[0]
    row = (person.full_name, person.id_number, "15/03/1990", person.phone)
    return import_staff(bob, vnpt, [row])[0]


@pytest.fixture
def live_permit(alice, charlie, dave, viettel, viettel_staff, signing_key) -> Permit:
    """Viettel's permit for viettel_staff[0], valid for the coming week."""
    request = new_request(alice, viettel, viettel_staff[:1], days=7)
    request_submit(actor=alice, request=request)
    request_review(actor=charlie, request=request, decision="approve")
    request_review(actor=dave, request=request, decision="approve")
    return Permit.objects.get(request=request)


def test_a_person_holding_a_live_permit_elsewhere_is_flagged(bob, vnpt, twin, live_permit):
    overlapping = new_request(bob, vnpt, [twin], start=3, days=7)
    [entry] = request_entries_with_flags(overlapping)
    assert entry.overlap is True
    assert (entry.overlap_serial, entry.overlap_org) == (live_permit.serial, "VIETTEL")
    assert entry.overlap_valid_to == live_permit.valid_to
    request_submit(actor=bob, request=overlapping)
    assert review_queue("department").get(pk=overlapping.pk).flagged_count == 1


def test_no_flag_when_the_dates_do_not_meet_or_the_permit_was_revoked(
    bob, dave, vnpt, twin, live_permit
):
    later = new_request(bob, vnpt, [twin], start=7, days=7)
    assert [e.overlap for e in request_entries_with_flags(later)] == [False]
    meeting = new_request(bob, vnpt, [twin], start=6, days=1)
    assert [e.overlap for e in request_entries_with_flags(meeting)] == [True]
    permit_revoke(actor=dave, permit=live_permit, reason="Nghỉ việc")
    assert [e.overlap for e in request_entries_with_flags(meeting)] == [False]


def test_a_request_is_not_flagged_by_its_own_permits(live_permit):
    assert [e.overlap for e in request_entries_with_flags(live_permit.request)] == [False]


def test_the_audit_chain_stays_intact(alice, charlie, dave, submitted, signing_key):
    from orgs.audit import audit_verify_chain

    request_review(actor=charlie, request=submitted, decision="approve")
    request_review(actor=dave, request=submitted, decision="approve")
    assert audit_verify_chain() is None
