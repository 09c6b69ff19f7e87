"""Request pages: HR lists, creates, edits and submits; reviewers work their queues.

Views are thin: the selector scopes the read (404 for another enterprise's request), a form
shapes the input, one service call writes, and domain errors become messages on the page.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orgs.access import REVIEWERS, Role, allow, has_role, hr_organization
from orgs.errors import DomainError
from orgs.views import register_home_section
from permits.errors import RequestInvalid
from permits.forms_requests import RequestForm, ReviewForm, days_inclusive
from permits.models import EntryDecision, PermitRequest, RequestEntry, RequestStatus
from permits.selectors import (
    get_request_for_user,
    request_entries_with_flags,
    request_history,
    requests_for_user,
    review_queue,
    review_queue_counts,
)
from permits.services.requests import (
    REVIEW_DECISIONS,
    STAGE_OF_STATUS,
    Action,
    actions_for,
    request_create,
    request_review,
    request_submit,
    request_update,
)
from permits.staff_selectors import staff_for_user

PAGE_SIZE = 25


def _detail_url(obj: PermitRequest) -> str:
    return reverse("request-detail", args=[obj.pk])


def _add_domain_errors(form: Any, error: RequestInvalid) -> None:
    """Put each of the service's complaints next to the field it concerns."""
    for detail in error.details or [{"message": error.message}]:
        field = detail.get("field")
        form.add_error(field if field in form.fields else None, str(detail["message"]))


# --- HR: list, create, edit, submit ------------------------------------------------------------


@allow(Role.ORG_HR)
def request_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    if status not in RequestStatus.values:
        status = ""
    requests = requests_for_user(request.user, status=status or None)
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "permits/requests/list.html",
        {"page": page, "status": status, "statuses": RequestStatus.choices},
    )


def _form_page(
    request: HttpRequest, form: RequestForm, *, organization: Any, obj: PermitRequest | None
) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    staff = list(
        staff_for_user(request.user, q=q)
        .filter(organization=organization)
        .only("pk", "full_name", "id_number", "date_of_birth", "job_title", "vehicle_plate")
    )
    selected = form.selected_ids()
    shown = {s.pk for s in staff}
    try:
        staff_url = reverse("staff-list")
    except NoReverseMatch:  # the staff pages are another part of the app
        staff_url = ""
    return render(
        request,
        "permits/requests/form.html",
        {
            "form": form,
            "obj": obj,
            "organization": organization,
            "staff": staff,
            "selected": selected,
            # Ticked people hidden by a server-side filter stay in the request.
            "hidden_selected": sorted(selected - shown),
            "q": q,
            "staff_url": staff_url,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@allow(Role.ORG_HR)
def request_create_page(request: HttpRequest) -> HttpResponse:
    organization = hr_organization(request.user, "orgs.submit_request")
    if organization is None:
        raise Http404
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            obj = request_create(
                actor=request.user,  # type: ignore[arg-type]
                organization=organization,
                **form.service_kwargs(),
            )
        except RequestInvalid as e:
            _add_domain_errors(form, e)
        else:
            messages.success(
                request,
                _("Đã lưu nháp đề nghị %(ref)s. Kiểm tra lại rồi bấm “Gửi đề nghị”.")
                % {"ref": obj.reference},
            )
            return redirect(_detail_url(obj))
    return _form_page(request, form, organization=organization, obj=None)


@allow(Role.ORG_HR)
def request_edit_page(request: HttpRequest, pk: UUID) -> HttpResponse:
    obj = get_request_for_user(request.user, pk, for_action=Action.EDIT)
    if Action.EDIT not in actions_for(request.user, obj):
        messages.error(request, _("Chỉ sửa được đề nghị đang là nháp hoặc bị trả lại."))
        return redirect(_detail_url(obj))
    form = RequestForm(request.POST or None, initial=RequestForm.initial_for(obj))
    if request.method == "POST" and form.is_valid():
        try:
            obj = request_update(
                actor=request.user,  # type: ignore[arg-type]
                request=obj,
                **form.service_kwargs(),
            )
        except RequestInvalid as e:
            _add_domain_errors(form, e)
        except DomainError as e:
            messages.error(request, str(e.message))
            return redirect(_detail_url(obj))
        else:
            messages.success(request, _("Đã lưu đề nghị %(ref)s.") % {"ref": obj.reference})
            return redirect(_detail_url(obj))
    return _form_page(request, form, organization=obj.organization, obj=obj)


@allow(Role.ORG_HR)
@require_POST
def request_submit_page(request: HttpRequest, pk: UUID) -> HttpResponse:
    obj = get_request_for_user(request.user, pk, for_action=Action.SUBMIT)
    try:
        obj = request_submit(actor=request.user, request=obj)  # type: ignore[arg-type]
    except DomainError as e:
        messages.error(request, str(e.message))
    else:
        messages.success(
            request,
            _("Đã gửi đề nghị %(ref)s tới Sở TT&TT thẩm định.") % {"ref": obj.reference},
        )
    return redirect(_detail_url(obj))


# --- the detail page (HR and reviewers) ---------------------------------------------------------


def _detail_page(
    request: HttpRequest,
    obj: PermitRequest,
    *,
    entries: list[RequestEntry] | None = None,
    review_form: ReviewForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if entries is None:
        entries = list(request_entries_with_flags(obj))
    actions = actions_for(request.user, obj)
    can_review = any(a in actions for a in REVIEW_DECISIONS)
    if review_form is None:
        review_form = ReviewForm(entries=entries)
    decisions = [e.decision for e in entries]
    history = _history_rows(obj)
    context = {
        "obj": obj,
        "entries": entries,
        "rows": review_form.rows(),
        "history": history,
        "return_note": next((h["note"] for h in reversed(history) if h["action"] == "return"), ""),
        "areas": list(obj.areas.all()),
        "days": days_inclusive(obj.valid_from, obj.valid_to),
        "can_edit": Action.EDIT in actions,
        "can_submit": Action.SUBMIT in actions,
        "can_review": can_review,
        "stage": STAGE_OF_STATUS.get(RequestStatus(obj.status)),
        "same_person": can_review
        and obj.status == RequestStatus.DEPARTMENT_APPROVED
        and obj.department_approved_by_id == request.user.pk,
        "show_flags": has_role(request.user, *REVIEWERS),
        "back": _back_link(request.user, obj),
        "permit_links": _permit_links(obj),
        "review_form": review_form,
        "counts": {
            "total": len(entries),
            "accepted": decisions.count(EntryDecision.ACCEPTED),
            "rejected": decisions.count(EntryDecision.REJECTED),
            "flagged": sum(bool(getattr(e, "overlap", False)) for e in entries),
        },
    }
    return render(request, "permits/requests/detail.html", context, status=status)


def _back_link(user: Any, obj: PermitRequest) -> tuple[str, str]:
    if has_role(user, Role.ORG_HR):
        return reverse("request-list"), _("Danh sách đề nghị")
    police = has_role(user, Role.POLICE_REVIEWER) and (
        obj.status == RequestStatus.DEPARTMENT_APPROVED
        or not has_role(user, Role.DEPARTMENT_REVIEWER)
    )
    if police:
        return reverse("review-queue-police"), _("Hàng chờ phê duyệt")
    return reverse("review-queue-department"), _("Hàng chờ thẩm định")


def _action_label(action: str, role: str) -> str:
    if action == Action.APPROVE and role == Role.DEPARTMENT_REVIEWER:
        return _("Thẩm định đạt")
    if action == Action.APPROVE and role == Role.POLICE_REVIEWER:
        return _("Phê duyệt, cấp giấy")
    return str(dict(Action.choices).get(action, action))


def _permit_links(obj: PermitRequest) -> list[dict[str, str]]:
    """Where to see and print an approved request's permits (the permits and printing parts)."""
    if obj.status != RequestStatus.APPROVED:
        return []
    links = []
    for name, label in (
        ("request-permits", _("Xem danh sách giấy đi đường")),
        ("request-print", _("In giấy đi đường")),
    ):
        try:
            links.append({"url": reverse(name, args=[obj.pk]), "label": label})
        except NoReverseMatch:
            continue
    return links


def _history_rows(obj: PermitRequest) -> list[dict[str, Any]]:
    """The timeline, newest last, with the labels of actions, roles and statuses."""
    statuses = dict(RequestStatus.choices)
    return [
        {
            "at": h.at,
            "actor": h.actor.get_full_name() or h.actor.get_username(),
            "action": h.action,
            "action_label": _action_label(h.action, h.role),
            "role_label": dict(Role.choices).get(h.role, h.role),
            "from_label": statuses.get(h.from_status, ""),
            "to": h.to_status,
            "to_label": statuses.get(h.to_status, h.to_status),
            "note": h.note,
        }
        for h in request_history(obj)
    ]


@allow(Role.ORG_HR, *REVIEWERS)
def request_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    return _detail_page(request, get_request_for_user(request.user, pk))


@allow(*REVIEWERS)
@require_POST
def request_review_page(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Approve, return or reject. The police approval first shows a confirmation page."""
    obj = get_request_for_user(request.user, pk, for_action=Action.APPROVE)
    entries = list(request_entries_with_flags(obj))
    form = ReviewForm(request.POST, entries=entries)
    if not form.is_valid():
        return _detail_page(request, obj, entries=entries, review_form=form, status=400)
    data = form.cleaned_data
    final_approval = obj.status == RequestStatus.DEPARTMENT_APPROVED
    if data["decision"] == Action.APPROVE and final_approval and not data["confirmed"]:
        return _confirm_page(request, obj, entries, data)
    stage = STAGE_OF_STATUS.get(RequestStatus(obj.status))
    try:
        obj = request_review(
            actor=request.user,  # type: ignore[arg-type]
            request=obj,
            decision=data["decision"],
            note=data["note"],
            rejected=data["rejected"],
        )
    except RequestInvalid as e:
        _add_domain_errors(form, e)
        return _detail_page(request, obj, entries=entries, review_form=form, status=400)
    except DomainError as e:
        messages.error(request, str(e.message))
        return redirect(_detail_url(obj))
    messages.success(request, _review_message(obj))
    return redirect(f"review-queue-{stage}" if stage else _detail_url(obj))


def _review_message(obj: PermitRequest) -> str:
    params = {"ref": obj.reference}
    if obj.status == RequestStatus.DEPARTMENT_APPROVED:
        return _("Đã thẩm định đề nghị %(ref)s, chuyển Công an TP phê duyệt.") % params
    if obj.status == RequestStatus.APPROVED:
        return _("Đã phê duyệt đề nghị %(ref)s; giấy đi đường đã được cấp.") % params
    if obj.status == RequestStatus.RETURNED:
        return _("Đã trả lại đề nghị %(ref)s cho doanh nghiệp.") % params
    return _("Đã từ chối đề nghị %(ref)s.") % params


def _confirm_page(
    request: HttpRequest, obj: PermitRequest, entries: list[RequestEntry], data: dict[str, Any]
) -> HttpResponse:
    """The last look before permits are signed: who gets one, who does not, and why."""
    turned_down = dict(data["rejected"])
    live = [e for e in entries if e.decision != EntryDecision.REJECTED]
    granted = [e for e in live if e.id_number not in turned_down]
    refused = [(e, turned_down[e.id_number]) for e in live if e.id_number in turned_down]
    earlier = [e for e in entries if e.decision == EntryDecision.REJECTED]
    return render(
        request,
        "permits/requests/confirm.html",
        {
            "obj": obj,
            "areas": list(obj.areas.all()),
            "days": days_inclusive(obj.valid_from, obj.valid_to),
            "granted": granted,
            "refused": refused,
            "earlier": earlier,
            "refused_count": len(refused) + len(earlier),
            "note": data["note"],
            "rejected": data["rejected"],
            "flagged": sum(bool(getattr(e, "overlap", False)) for e in granted),
        },
    )


# --- reviewer queues ---------------------------------------------------------------------------


def _queue_page(request: HttpRequest, stage: str) -> HttpResponse:
    page = Paginator(review_queue(stage), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "permits/requests/queue.html",
        {"page": page, "stage": stage, "counts": review_queue_counts()},
    )


@allow(Role.DEPARTMENT_REVIEWER)
def review_queue_department(request: HttpRequest) -> HttpResponse:
    return _queue_page(request, "department")


@allow(Role.POLICE_REVIEWER)
def review_queue_police(request: HttpRequest) -> HttpResponse:
    return _queue_page(request, "police")


# --- the home page's reviewer section -----------------------------------------------------------


@register_home_section
def _home_links(request: HttpRequest, roles: frozenset[str]) -> dict[str, Any]:
    """Queue buttons with the number of requests waiting, for each reviewer role held."""
    if not roles & set(REVIEWERS):
        return {}
    counts = review_queue_counts()
    links = []
    if Role.DEPARTMENT_REVIEWER in roles:
        links.append(
            {
                "role": Role.DEPARTMENT_REVIEWER,
                "url": reverse("review-queue-department"),
                "label": _("Hàng chờ thẩm định"),
                "count": counts["department"],
            }
        )
    if Role.POLICE_REVIEWER in roles:
        links.append(
            {
                "role": Role.POLICE_REVIEWER,
                "url": reverse("review-queue-police"),
                "label": _("Hàng chờ phê duyệt"),
                "count": counts["police"],
            }
        )
    return {"reviewer_links": links}
