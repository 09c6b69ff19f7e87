"""Permit requests and their review: the workflow table and one service per transition.

Every transition locks the request row (`select_for_update`), re-checks its status and the
actor's role against TRANSITIONS, writes, appends a RequestHistory row, records an audit event,
and sends its e-mail only after the transaction commits. Separation of duties is checked here,
so no view, command or API can skip it (the database holds the same invariant as a constraint).

Roles and refusals:
- an actor without any role that may ever take the action → Forbidden (403);
- an HR clerk acting on another enterprise's request → NotFound (404), as for a missing one;
- an action the request's status does not allow, or a reviewer acting at the other stage
  (out of turn) → TransitionNotAllowed (409), and nothing changes;
- the department approver approving again at the police stage → SeparationOfDuties (409).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orgs.access import Role, has_role, hr_organizations
from orgs.audit import audit_record
from orgs.errors import Forbidden, NotFound
from orgs.models import Area, Organization
from permits.errors import RequestInvalid, SeparationOfDuties, TransitionNotAllowed
from permits.models import (
    EntryDecision,
    PermitRequest,
    RequestEntry,
    RequestHistory,
    RequestStatus,
    Staff,
)
from permits.services.issuance import permit_issue_for_request
from permits.services.request_mail import notify_after_commit

logger = logging.getLogger(__name__)


class Action(models.TextChoices):
    CREATE = "create", gettext_lazy("Lập đề nghị")
    EDIT = "edit", gettext_lazy("Sửa đề nghị")
    SUBMIT = "submit", gettext_lazy("Gửi đề nghị")
    APPROVE = "approve", gettext_lazy("Chấp thuận")
    RETURN = "return", gettext_lazy("Trả lại để bổ sung")
    REJECT = "reject", gettext_lazy("Từ chối")


S = RequestStatus
HR, DEPARTMENT, POLICE = Role.ORG_HR, Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER

# The workflow. (status, action) → (the role that may take it, the next status).
# Anything not listed is refused with 409. Creating a request is not a transition: it starts
# at DRAFT. A department approval that rejects every entry ends at REJECTED (see request_review).
TRANSITIONS: dict[tuple[str, str], tuple[str, str]] = {
    (S.DRAFT, Action.EDIT): (HR, S.DRAFT),
    (S.DRAFT, Action.SUBMIT): (HR, S.SUBMITTED),
    (S.RETURNED, Action.EDIT): (HR, S.RETURNED),
    (S.RETURNED, Action.SUBMIT): (HR, S.SUBMITTED),
    (S.SUBMITTED, Action.APPROVE): (DEPARTMENT, S.DEPARTMENT_APPROVED),
    (S.SUBMITTED, Action.RETURN): (DEPARTMENT, S.RETURNED),
    (S.SUBMITTED, Action.REJECT): (DEPARTMENT, S.REJECTED),
    (S.DEPARTMENT_APPROVED, Action.APPROVE): (POLICE, S.APPROVED),
    (S.DEPARTMENT_APPROVED, Action.RETURN): (POLICE, S.RETURNED),
    (S.DEPARTMENT_APPROVED, Action.REJECT): (POLICE, S.REJECTED),
}

REVIEW_DECISIONS = (Action.APPROVE, Action.RETURN, Action.REJECT)

# Which reviewer stage a status waits for (the queues).
STAGE_OF_STATUS = {S.SUBMITTED: "department", S.DEPARTMENT_APPROVED: "police"}
STATUS_OF_STAGE = {stage: status for status, stage in STAGE_OF_STATUS.items()}

AUDIT_OBJECT = "permit_request"


def roles_for_action(action: str) -> frozenset[str]:
    """Every role that may take `action` at some status (the 403 check)."""
    return frozenset(role for (_status, act), (role, _next) in TRANSITIONS.items() if act == action)


def transition_for(status: str, action: str) -> tuple[str, str] | None:
    return TRANSITIONS.get((status, action))


def actions_for(user: Any, request: PermitRequest) -> list[str]:
    """The actions `user`'s roles allow on `request` in its current status (for buttons).

    Organisation scope is the selector's job; the services check everything again.
    """
    return [
        action
        for (status, action), (role, _next) in TRANSITIONS.items()
        if status == request.status and has_role(user, role)
    ]


# --- Shared checks -------------------------------------------------------------------------


def _lock(request: PermitRequest) -> PermitRequest:
    """Re-read the request with its row locked until the transaction ends."""
    return (
        PermitRequest.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=request.pk)
    )


def _require_hr_of(actor: Any, organization: Organization) -> None:
    if not has_role(actor, HR):
        raise Forbidden(_("Chỉ cán bộ nhân sự doanh nghiệp được lập và gửi đề nghị."))
    if not hr_organizations(actor, "orgs.submit_request").filter(pk=organization.pk).exists():
        raise NotFound(_("Không tìm thấy."))


def _authorize(actor: Any, locked: PermitRequest, action: str) -> tuple[str, str]:
    """Check role, organisation and status for `action`; return (role, next status)."""
    roles = roles_for_action(action)
    if not has_role(actor, *roles):
        raise Forbidden(_("Bạn không có quyền thực hiện thao tác này."))
    if roles == {HR}:
        _require_hr_of(actor, locked.organization)
    transition = transition_for(locked.status, action)
    if transition is None or not has_role(actor, transition[0]):
        raise TransitionNotAllowed(
            _("Đề nghị %(ref)s đang ở trạng thái “%(status)s”, không thể “%(action)s”.")
            % {
                "ref": locked.reference,
                "status": RequestStatus(locked.status).label,
                "action": Action(action).label,
            }
        )
    return transition


def _history(
    *,
    request: PermitRequest,
    actor: Any,
    role: str,
    action: str,
    from_status: str,
    note: str = "",
) -> RequestHistory:
    return RequestHistory.objects.create(
        request=request,
        at=timezone.now(),
        actor=actor,
        role=role,
        action=action,
        from_status=from_status,
        to_status=request.status,
        note=note,
    )


def _audit(
    *, actor: Any, request: PermitRequest, action: str, from_status: str, **details: Any
) -> None:
    # References and counts only: the audit chain never holds personal data.
    audit_record(
        actor=actor,
        action=f"request.{action}",
        object_type=AUDIT_OBJECT,
        object_id=str(request.pk),
        details={"from": from_status, "to": request.status, **details},
    )


# --- Validation ----------------------------------------------------------------------------


def _check_dates(valid_from: date | None, valid_to: date | None) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if valid_from is None:
        errors.append({"field": "valid_from", "message": _("Chưa nhập ngày bắt đầu hiệu lực.")})
    if valid_to is None:
        errors.append({"field": "valid_to", "message": _("Chưa nhập ngày hết hiệu lực.")})
    if valid_from is None or valid_to is None:
        return errors
    today = timezone.localdate()
    if valid_from < today:
        errors.append(
            {
                "field": "valid_from",
                "message": _("Ngày bắt đầu hiệu lực không được trước hôm nay (%(today)s).")
                % {"today": formats.date_format(today, "SHORT_DATE_FORMAT")},
            }
        )
    if valid_to < valid_from:
        errors.append(
            {"field": "valid_to", "message": _("Ngày hết hiệu lực phải từ ngày bắt đầu trở đi.")}
        )
    else:
        days = (valid_to - valid_from).days + 1
        if days > settings.PERMIT_MAX_DAYS:
            errors.append(
                {
                    "field": "valid_to",
                    "message": _("Giấy đi đường có hiệu lực tối đa %(max)d ngày (đang chọn %(n)d).")
                    % {"max": settings.PERMIT_MAX_DAYS, "n": days},
                }
            )
    return errors


def _find_staff(
    organization: Organization,
    staff_ids: Iterable[int] | None,
    id_numbers: Iterable[str] | None,
) -> tuple[list[Staff], list[dict[str, Any]]]:
    """The requester's own staff. Another enterprise's people read exactly like unknown ones."""
    own = Staff.objects.filter(organization=organization)
    errors: list[dict[str, Any]] = []
    if id_numbers is not None:
        wanted = list(dict.fromkeys(str(n).strip() for n in id_numbers if str(n).strip()))
        found = {s.id_number: s for s in own.filter(id_number__in=wanted)}
        for number in wanted:
            if number not in found:
                errors.append(
                    {
                        "field": "staff",
                        "id_number": number,
                        "message": _(
                            "Không có người mang số CCCD/CMND %(n)s trong danh sách nhân sự "
                            "của doanh nghiệp."
                        )
                        % {"n": number},
                    }
                )
        staff = [found[n] for n in wanted if n in found]
    else:
        ids = list(dict.fromkeys(int(i) for i in staff_ids or ()))
        by_id = {s.pk: s for s in own.filter(pk__in=ids)}
        if len(by_id) < len(ids):
            errors.append(
                {
                    "field": "staff",
                    "message": _(
                        "Có %(n)d người đã chọn không thuộc danh sách nhân sự của doanh nghiệp."
                    )
                    % {"n": len(ids) - len(by_id)},
                }
            )
        staff = [by_id[i] for i in ids if i in by_id]
    if not staff and not errors:
        errors.append({"field": "staff", "message": _("Chọn ít nhất một nhân sự.")})
    return staff, errors


def _find_areas(codes: Sequence[str], whole_city: bool) -> tuple[list[Area], list[dict[str, Any]]]:
    if whole_city:
        return [], []
    wanted = list(dict.fromkeys(str(c).strip() for c in codes))
    if not wanted:
        return [], [
            {"field": "areas", "message": _("Chọn ít nhất một quận/huyện, hoặc toàn thành phố.")}
        ]
    found = {a.code: a for a in Area.objects.filter(code__in=wanted, is_active=True)}
    errors = [
        {
            "field": "areas",
            "code": code,
            "message": _("Không có quận/huyện mã %(code)s.") % {"code": code},
        }
        for code in wanted
        if code not in found
    ]
    return [found[c] for c in wanted if c in found], errors


def _raise_if(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise RequestInvalid(" ".join(str(e["message"]) for e in errors), details=errors)


def _clean(
    *,
    organization: Organization,
    staff_ids: Iterable[int] | None,
    id_numbers: Iterable[str] | None,
    valid_from: date | None,
    valid_to: date | None,
    areas: Sequence[str],
    whole_city: bool,
) -> tuple[list[Staff], list[Area]]:
    staff, staff_errors = _find_staff(organization, staff_ids, id_numbers)
    found_areas, area_errors = _find_areas(areas, whole_city)
    _raise_if(staff_errors + _check_dates(valid_from, valid_to) + area_errors)
    return staff, found_areas


SNAPSHOT_FIELDS = ("id_number", "full_name", "date_of_birth", "phone", "job_title", "vehicle_plate")


def _snapshot(entry: RequestEntry, staff: Staff) -> RequestEntry:
    for field in SNAPSHOT_FIELDS:
        setattr(entry, field, getattr(staff, field))
    entry.decision, entry.reason, entry.decided_by = EntryDecision.PENDING, "", None
    return entry


def _write_entries(request: PermitRequest, staff: list[Staff]) -> None:
    request.entries.all().delete()
    RequestEntry.objects.bulk_create(
        [_snapshot(RequestEntry(request=request, staff=s), s) for s in staff]
    )


# --- Services ------------------------------------------------------------------------------


@transaction.atomic
def request_create(
    *,
    actor: User,
    organization: Organization,
    staff_ids: Iterable[int] | None = None,
    id_numbers: Iterable[str] | None = None,
    valid_from: date,
    valid_to: date,
    areas: Sequence[str] = (),
    whole_city: bool = False,
    reason: str = "",
) -> PermitRequest:
    """Create a draft request for some of the enterprise's staff.

    Staff are named by primary key (pages) or by id_number (API). Writes PermitRequest, one
    RequestEntry per person (a snapshot of the staff data), a history row and an audit event.
    Sends nothing: a draft is the clerk's own business.
    """
    _require_hr_of(actor, organization)
    staff, found_areas = _clean(
        organization=organization,
        staff_ids=staff_ids,
        id_numbers=id_numbers,
        valid_from=valid_from,
        valid_to=valid_to,
        areas=areas,
        whole_city=whole_city,
    )
    request = PermitRequest.objects.create(
        organization=organization,
        created_by=actor,
        status=S.DRAFT,
        valid_from=valid_from,
        valid_to=valid_to,
        whole_city=whole_city,
        reason=reason.strip(),
    )
    request.areas.set(found_areas)
    _write_entries(request, staff)
    _history(request=request, actor=actor, role=HR, action=Action.CREATE, from_status="")
    _audit(actor=actor, request=request, action=Action.CREATE, from_status="", entries=len(staff))
    return request


@transaction.atomic
def request_update(
    *,
    actor: User,
    request: PermitRequest,
    staff_ids: Iterable[int] | None = None,
    id_numbers: Iterable[str] | None = None,
    valid_from: date,
    valid_to: date,
    areas: Sequence[str] = (),
    whole_city: bool = False,
    reason: str = "",
) -> PermitRequest:
    """Change a draft or returned request (its people, dates, districts and reason).

    Writes the request, replaces its entries with fresh snapshots, a history row and an audit
    event. Sends nothing.
    """
    locked = _lock(request)
    role, next_status = _authorize(actor, locked, Action.EDIT)
    staff, found_areas = _clean(
        organization=locked.organization,
        staff_ids=staff_ids,
        id_numbers=id_numbers,
        valid_from=valid_from,
        valid_to=valid_to,
        areas=areas,
        whole_city=whole_city,
    )
    from_status = locked.status
    locked.valid_from, locked.valid_to = valid_from, valid_to  # type: ignore[assignment]
    locked.whole_city, locked.reason, locked.status = whole_city, reason.strip(), next_status
    locked.save()
    locked.areas.set(found_areas)
    _write_entries(locked, staff)
    _history(request=locked, actor=actor, role=role, action=Action.EDIT, from_status=from_status)
    _audit(
        actor=actor,
        request=locked,
        action=Action.EDIT,
        from_status=from_status,
        entries=len(staff),
    )
    return locked


@transaction.atomic
def request_submit(*, actor: User, request: PermitRequest) -> PermitRequest:
    """Send a draft or returned request to the Department for review.

    Re-checks the dates against today and re-snapshots every entry from the staff list (so a
    returned request carries the corrections HR made), clearing earlier decisions. Writes the
    request, its entries, a history row and an audit event; after commit e-mails the
    Department's reviewers.
    """
    locked = _lock(request)
    role, next_status = _authorize(actor, locked, Action.SUBMIT)
    entries = list(locked.entries.select_related("staff"))
    errors = _check_dates(locked.valid_from, locked.valid_to)
    gone = [e for e in entries if e.staff is None]
    for entry in gone:
        errors.append(
            {
                "field": "staff",
                "id_number": entry.id_number,
                "message": _("%(name)s không còn trong danh sách nhân sự; hãy sửa đề nghị.")
                % {"name": entry.full_name},
            }
        )
    if not entries:
        errors.append({"field": "staff", "message": _("Chọn ít nhất một nhân sự.")})
    _raise_if(errors)
    for entry in entries:
        assert entry.staff is not None  # checked above
        _snapshot(entry, entry.staff)
    RequestEntry.objects.bulk_update(
        entries, [*SNAPSHOT_FIELDS, "decision", "reason", "decided_by"]
    )

    from_status = locked.status
    locked.status = next_status
    locked.submitted_at = timezone.now()
    # A resubmitted request is reviewed afresh at both stages.
    locked.department_approved_by, locked.department_approved_at = None, None
    locked.save()
    _history(request=locked, actor=actor, role=role, action=Action.SUBMIT, from_status=from_status)
    _audit(
        actor=actor,
        request=locked,
        action=Action.SUBMIT,
        from_status=from_status,
        entries=len(entries),
    )
    notify_after_commit(locked, actor=actor, note="")
    return locked


def _rejections(
    rejected: Iterable[tuple[str, str]] | Iterable[dict[str, str]],
    live: dict[str, RequestEntry],
) -> dict[str, str]:
    """{id_number: reason} for the entries a reviewer turns down, after checking each."""
    out: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for item in rejected:
        number, reason = (
            (item.get("id_number", ""), item.get("reason", "")) if isinstance(item, dict) else item
        )
        number, reason = str(number).strip(), str(reason).strip()
        if number not in live:
            errors.append(
                {
                    "field": "rejected",
                    "id_number": number,
                    "message": _("Đề nghị không có người mang số %(n)s đang chờ xét.")
                    % {"n": number},
                }
            )
        elif not reason:
            errors.append(
                {
                    "field": "rejected",
                    "id_number": number,
                    "message": _("Cần ghi lý do từ chối %(name)s.")
                    % {"name": live[number].full_name},
                }
            )
        else:
            out[number] = reason[:255]
    _raise_if(errors)
    return out


@transaction.atomic
def request_review(
    *,
    actor: User,
    request: PermitRequest,
    decision: str,
    note: str = "",
    rejected: Iterable[tuple[str, str]] | Iterable[dict[str, str]] = (),
) -> PermitRequest:
    """A reviewer's decision at their stage: "approve", "return" or "reject".

    - approve: the entries listed in `rejected` (id_number, reason) are turned down, the rest
      accepted. The Department's approval moves the request to the police; the police approval
      issues the permits of every accepted entry in this same transaction. If no entry is
      left, the request ends rejected.
    - return: back to HR with a note (required); listed entries are marked with their reasons
      so HR knows what to fix. Resubmission re-snapshots and clears the marks.
    - reject: the whole request, with a note (required).
    Writes the request, its entries, a history row and an audit event (and the permits);
    after commit e-mails the enterprise's HR, and the police reviewers when the request
    reaches them.
    """
    if decision not in REVIEW_DECISIONS:
        raise RequestInvalid(
            _("Quyết định phải là approve, return hoặc reject."),
            details=[{"field": "decision", "message": _("Quyết định không hợp lệ.")}],
        )
    locked = _lock(request)
    role, next_status = _authorize(actor, locked, decision)
    note = note.strip()
    if (
        decision == Action.APPROVE
        and role == POLICE
        and locked.department_approved_by_id == actor.pk
    ):
        raise SeparationOfDuties(
            _(
                "Bạn đã thẩm định đề nghị %(ref)s ở cấp Sở TT&TT; việc phê duyệt phải do "
                "một cán bộ khác thực hiện."
            )
            % {"ref": locked.reference}
        )
    if decision in (Action.RETURN, Action.REJECT) and not note:
        raise RequestInvalid(
            _("Cần ghi lý do khi trả lại hoặc từ chối đề nghị."),
            details=[{"field": "note", "message": _("Cần ghi lý do.")}],
        )

    live = {
        e.id_number: e
        for e in locked.entries.exclude(decision=EntryDecision.REJECTED).order_by("pk")
    }
    turned_down = _rejections(rejected, live)
    for number, entry in live.items():
        if number in turned_down:
            entry.decision, entry.reason = EntryDecision.REJECTED, turned_down[number]
        elif decision == Action.REJECT:
            entry.decision, entry.reason = EntryDecision.REJECTED, note[:255]
        elif decision == Action.APPROVE:
            entry.decision, entry.reason = EntryDecision.ACCEPTED, ""
        else:  # returned: unlisted entries keep their state
            continue
        entry.decided_by = actor
    RequestEntry.objects.bulk_update(live.values(), ["decision", "reason", "decided_by"])
    accepted = sum(e.decision == EntryDecision.ACCEPTED for e in live.values())

    action = decision
    if decision == Action.APPROVE and accepted == 0:
        # Every person turned down: the request as a whole is refused.
        action, next_status = Action.REJECT, S.REJECTED
        note = note or _("Tất cả nhân sự trong đề nghị đều bị từ chối.")

    from_status, now = locked.status, timezone.now()
    locked.status = next_status
    if action == Action.APPROVE and role == DEPARTMENT:
        locked.department_approved_by, locked.department_approved_at = actor, now
    if action == Action.APPROVE and role == POLICE:
        locked.approved_by, locked.approved_at = actor, now
    locked.save()

    issued = []
    if locked.status == S.APPROVED:
        issued = permit_issue_for_request(request=locked, actor=actor)

    _history(
        request=locked, actor=actor, role=role, action=action, from_status=from_status, note=note
    )
    _audit(
        actor=actor,
        request=locked,
        action=action,
        from_status=from_status,
        role=role,
        accepted=accepted,
        rejected=len(turned_down) if action != Action.REJECT else len(live),
        permits=len(issued),
    )
    notify_after_commit(locked, actor=actor, note=note)
    return locked
