"""The request pages: HR's list, form and detail; reviewers' queues, review and confirmation.

Query-count tests prove the queue and detail pages cost the same with 5 entries as with 500.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgs.access import Role
from permits.models import EntryDecision, Permit, PermitRequest, RequestHistory, RequestStatus
from permits.services.keys import signing_key_ensure
from permits.services.requests import request_review, request_submit
from tests.conftest import client_for, make_user
from tests.permits.test_request_services import import_staff, new_request, people, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def viettel_staff(alice, viettel):
    return import_staff(alice, viettel, people(3))


@pytest.fixture
def draft(alice, viettel, viettel_staff):
    return new_request(alice, viettel, viettel_staff)


@pytest.fixture
def submitted(alice, draft):
    return request_submit(actor=alice, request=draft)


@pytest.fixture
def department_approved(charlie, submitted):
    return request_review(actor=charlie, request=submitted, decision="approve")


def page_text(response: Any) -> str:
    return response.content.decode()


def status_of(request: PermitRequest) -> str:
    return PermitRequest.objects.get(pk=request.pk).status


# --- HR: list -------------------------------------------------------------------------------


def test_the_list_shows_the_clerk_s_own_requests_with_their_status(alice, bob, submitted):
    page = page_text(client_for(alice).get("/requests/"))
    assert submitted.reference in page
    assert "Chờ Sở TT&amp;TT thẩm định" in page
    assert submitted.reference not in page_text(client_for(bob).get("/requests/"))


def test_the_list_filters_by_status(alice, viettel, viettel_staff, submitted):
    other = new_request(alice, viettel, viettel_staff[:1])
    drafts = page_text(client_for(alice).get("/requests/?status=draft"))
    assert other.reference in drafts and submitted.reference not in drafts
    assert "Không có đề nghị nào ở trạng thái này." in page_text(
        client_for(alice).get("/requests/?status=approved")
    )


def test_reviewers_have_queues_not_the_hr_list(charlie):
    assert client_for(charlie).get("/requests/").status_code == 403


# --- HR: create and edit --------------------------------------------------------------------


def test_the_form_offers_the_staff_the_districts_and_the_whole_city(alice, viettel_staff):
    page = page_text(client_for(alice).get("/requests/new/"))
    for person in viettel_staff:
        assert person.full_name in page and person.id_number in page
    assert "Chọn tất cả" in page and "Toàn thành phố" in page
    assert "Cầu Giấy" in page and 'value="005"' in page
    assert "js/requests.js" in page
    assert "style=" not in page and "onclick" not in page  # ready for a strict CSP


def test_the_form_filters_staff_without_javascript(alice, viettel_staff):
    person = viettel_staff[0]
    page = page_text(client_for(alice).get("/requests/new/?q=" + person.id_number))
    assert person.full_name in page
    assert viettel_staff[1].id_number not in page


def form_data(chosen, **overrides):
    data = {
        "staff": [str(s.pk) for s in chosen],
        "valid_from": today().strftime("%d/%m/%Y"),
        "valid_to": (today() + timedelta(days=6)).isoformat(),
        "areas": ["005", "007"],
        "reason": "Bảo dưỡng trạm BTS",
    }
    data.update(overrides)
    return data


def test_a_clerk_creates_a_draft_through_the_form(alice, viettel_staff):
    client = client_for(alice)
    response = client.post("/requests/new/", form_data(viettel_staff[:2]))
    request = PermitRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{request.pk}/"
    assert request.entries.count() == 2
    assert sorted(request.areas.values_list("code", flat=True)) == ["005", "007"]
    page = page_text(client.get(response["Location"]))
    assert "Đã lưu nháp đề nghị" in page and "Gửi đề nghị" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"valid_to": None}, "tối đa 14 ngày"),
        ({"staff": []}, "Chọn ít nhất một nhân sự."),
        ({"areas": []}, "Chọn ít nhất một quận/huyện, hoặc toàn thành phố."),
        ({"valid_from": "01/01/2021", "valid_to": "02/01/2021"}, "không được trước hôm nay"),
    ],
)
def test_the_form_shows_the_refusals_in_vietnamese(alice, viettel_staff, overrides, message):
    if overrides.get("valid_to", "") is None:
        overrides = {"valid_to": (today() + timedelta(days=14)).isoformat()}
    response = client_for(alice).post("/requests/new/", form_data(viettel_staff, **overrides))
    assert response.status_code == 400
    assert message in page_text(response)
    assert not PermitRequest.objects.exists()


def test_the_form_refuses_another_enterprise_s_staff(alice, bob, vnpt, viettel_staff):
    [other] = import_staff(bob, vnpt, people(1, start=200))
    response = client_for(alice).post("/requests/new/", form_data([viettel_staff[0], other]))
    assert response.status_code == 400
    assert "không thuộc danh sách nhân sự của doanh nghiệp" in page_text(response)


def test_a_returned_request_is_edited_then_sent_again(alice, charlie, submitted, viettel_staff):
    request_review(actor=charlie, request=submitted, decision="return", note="Thiếu người")
    client = client_for(alice)
    detail = page_text(client.get(f"/requests/{submitted.pk}/"))
    assert "Đề nghị bị trả lại:" in detail and "Thiếu người" in detail
    edit = page_text(client.get(f"/requests/{submitted.pk}/edit/"))
    assert f'value="{viettel_staff[0].pk}" id="staff-{viettel_staff[0].pk}" checked' in edit
    response = client.post(
        f"/requests/{submitted.pk}/edit/", form_data(viettel_staff[:1], areas=[], whole_city="on")
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.whole_city and submitted.entries.count() == 1
    client.post(f"/requests/{submitted.pk}/submit/")
    assert status_of(submitted) == RequestStatus.SUBMITTED


def test_a_submitted_request_cannot_be_edited(alice, submitted):
    response = client_for(alice).get(f"/requests/{submitted.pk}/edit/", follow=True)
    assert "Chỉ sửa được đề nghị đang là nháp hoặc bị trả lại." in page_text(response)


# --- detail and submit ----------------------------------------------------------------------


def test_another_enterprise_s_request_is_404_like_a_missing_one(bob, draft):
    client = client_for(bob)
    for pk in (draft.pk, uuid.uuid4()):
        assert client.get(f"/requests/{pk}/").status_code == 404
        assert client.get(f"/requests/{pk}/edit/").status_code == 404
        assert client.post(f"/requests/{pk}/submit/").status_code == 404


def test_reviewers_do_not_see_drafts_and_outsiders_are_refused(charlie, erin, frank, draft):
    assert client_for(charlie).get(f"/requests/{draft.pk}/").status_code == 404
    for outsider in (erin, frank):
        assert client_for(outsider).get(f"/requests/{draft.pk}/").status_code == 403


def test_the_clerk_submits_and_a_second_submit_changes_nothing(alice, draft):
    client = client_for(alice)
    response = client.post(f"/requests/{draft.pk}/submit/", follow=True)
    assert "Đã gửi đề nghị" in page_text(response)
    assert status_of(draft) == RequestStatus.SUBMITTED
    response = client.post(f"/requests/{draft.pk}/submit/", follow=True)
    assert "không thể “Gửi đề nghị”" in page_text(response)
    assert RequestHistory.objects.filter(request=draft, action="submit").count() == 1


def test_the_detail_page_shows_entries_and_the_history(alice, submitted, viettel_staff):
    page = page_text(client_for(alice).get(f"/requests/{submitted.pk}/"))
    assert viettel_staff[0].full_name in page
    assert "Quá trình xử lý" in page and "Lập đề nghị" in page and "Gửi đề nghị" in page
    assert "Nguyễn Thị Thu Hương" in page  # alice, the actor
    assert "Cầu Giấy, Đống Đa" in page
    assert "Từ chối cả đề nghị" not in page  # HR sees no review buttons


# --- review ---------------------------------------------------------------------------------


def test_the_department_approves_with_one_person_rejected(charlie, submitted, viettel_staff):
    client = client_for(charlie)
    page = page_text(client.get(f"/requests/{submitted.pk}/"))
    assert "Thẩm định đạt, chuyển Công an TP" in page
    no = viettel_staff[0].id_number
    response = client.post(
        f"/requests/{submitted.pk}/review/",
        {"decision": "approve", "reject": [no], f"reason-{no}": "Không thuộc diện", "note": ""},
    )
    assert response.status_code == 302 and response["Location"] == "/review/department/"
    assert status_of(submitted) == RequestStatus.DEPARTMENT_APPROVED
    entry = submitted.entries.get(id_number=no)
    assert (entry.decision, entry.reason) == (EntryDecision.REJECTED, "Không thuộc diện")


def test_one_reason_serves_every_ticked_person(charlie, submitted, viettel_staff):
    ticked = [s.id_number for s in viettel_staff[:2]]
    client_for(charlie).post(
        f"/requests/{submitted.pk}/review/",
        {"decision": "approve", "reject": ticked, "bulk_reason": "Trùng đề nghị khác"},
    )
    reasons = dict(submitted.entries.values_list("id_number", "reason"))
    assert [reasons[n] for n in ticked] == ["Trùng đề nghị khác"] * 2


def test_a_ticked_person_without_a_reason_is_refused_and_nothing_changes(
    charlie, submitted, viettel_staff
):
    no = viettel_staff[0].id_number
    response = client_for(charlie).post(
        f"/requests/{submitted.pk}/review/", {"decision": "approve", "reject": [no]}
    )
    assert response.status_code == 400
    page = page_text(response)
    assert "Cần ghi lý do từ chối" in page
    assert f'value="{no}" id="reject-{no}" aria-label' in page and "checked" in page
    assert status_of(submitted) == RequestStatus.SUBMITTED


def test_returning_needs_a_note(charlie, submitted):
    response = client_for(charlie).post(
        f"/requests/{submitted.pk}/review/", {"decision": "return", "note": ""}
    )
    assert response.status_code == 400 and "Cần ghi lý do" in page_text(response)
    assert status_of(submitted) == RequestStatus.SUBMITTED


def test_the_police_approval_asks_for_confirmation_first(dave, department_approved, viettel_staff):
    signing_key_ensure()
    client = client_for(dave)
    no = viettel_staff[1].id_number
    url = f"/requests/{department_approved.pk}/review/"
    post = {"decision": "approve", "reject": [no], f"reason-{no}": "Đã có giấy", "note": "Ok"}
    confirm = client.post(url, post)
    assert confirm.status_code == 200
    page = page_text(confirm)
    assert "Xác nhận phê duyệt đề nghị" in page and "Xác nhận phê duyệt và cấp 2 giấy" in page
    assert "Đã có giấy" in page
    assert status_of(department_approved) == RequestStatus.DEPARTMENT_APPROVED
    assert not Permit.objects.exists()
    response = client.post(url, {**post, "confirmed": "True"})
    assert response.status_code == 302 and response["Location"] == "/review/police/"
    assert status_of(department_approved) == RequestStatus.APPROVED
    assert Permit.objects.filter(request=department_approved).count() == 2


def test_the_department_approver_cannot_approve_as_police(submitted):
    gina = make_user("gina", Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER)
    request_review(actor=gina, request=submitted, decision="approve")
    client = client_for(gina)
    page = page_text(client.get(f"/requests/{submitted.pk}/"))
    assert "Bạn đã thẩm định đề nghị này ở cấp Sở TT&TT nên không thể phê duyệt" in page
    response = client.post(
        f"/requests/{submitted.pk}/review/",
        {"decision": "approve", "confirmed": "True"},
        follow=True,
    )
    assert "phải do một cán bộ khác thực hiện" in page_text(response)
    assert status_of(submitted) == RequestStatus.DEPARTMENT_APPROVED


def test_a_review_out_of_turn_changes_nothing(dave, submitted):
    response = client_for(dave).post(
        f"/requests/{submitted.pk}/review/", {"decision": "reject", "note": "x"}, follow=True
    )
    assert "không thể “Từ chối”" in page_text(response)
    assert status_of(submitted) == RequestStatus.SUBMITTED


# --- queues ---------------------------------------------------------------------------------


def test_the_queues_list_the_oldest_first_with_counts_per_stage(
    alice, charlie, dave, viettel, viettel_staff
):
    first = request_submit(actor=alice, request=new_request(alice, viettel, viettel_staff))
    second = request_submit(actor=alice, request=new_request(alice, viettel, viettel_staff[:1]))
    third = request_submit(actor=alice, request=new_request(alice, viettel, viettel_staff[:2]))
    request_review(actor=charlie, request=third, decision="approve")
    page = page_text(client_for(charlie).get("/review/department/"))
    assert page.index(first.reference) < page.index(second.reference)
    assert third.reference not in page
    assert "Chờ Sở TT&TT thẩm định: <strong>2</strong>" in page
    assert "Chờ Công an TP phê duyệt: <strong>1</strong>" in page
    assert third.reference in page_text(client_for(dave).get("/review/police/"))
    assert client_for(dave).get("/review/department/").status_code == 403
    assert client_for(alice).get("/review/police/").status_code == 403


def test_the_queue_is_paginated(monkeypatch, alice, charlie, viettel, viettel_staff):
    monkeypatch.setattr("permits.views.requests.PAGE_SIZE", 2)
    made = [
        request_submit(actor=alice, request=new_request(alice, viettel, viettel_staff))
        for _ in range(3)
    ]
    client = client_for(charlie)
    first = page_text(client.get("/review/department/"))
    assert "Trang 1 / 2" in first and made[2].reference not in first
    assert made[2].reference in page_text(client.get("/review/department/?page=2"))


def test_home_shows_each_reviewer_their_queue_with_its_count(charlie, dave, submitted):
    page = page_text(client_for(charlie).get("/"))
    assert "Hàng chờ thẩm định" in page and '<span class="badge">1</span>' in page
    page = page_text(client_for(dave).get("/"))
    assert "Hàng chờ phê duyệt" in page and '<span class="badge">0</span>' in page


# --- constant queries ------------------------------------------------------------------------


def queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.fixture
def small_and_big(alice, bob, charlie, dave, viettel, vnpt):
    """VNPT's request of 5 people (submitted) and one of 500 (a draft); three of the people
    already hold a Viettel permit, so both carry overlap flags.
    """
    signing_key_ensure()
    crowd = import_staff(alice, viettel, people(500, start=1000))
    holders = new_request(alice, viettel, crowd[:3])
    request_submit(actor=alice, request=holders)
    request_review(actor=charlie, request=holders, decision="approve")
    request_review(actor=dave, request=holders, decision="approve")
    # VNPT lists the same people: they are flagged in its requests.
    twins = import_staff(bob, vnpt, people(500, start=1000))
    small = request_submit(actor=bob, request=new_request(bob, vnpt, twins[:5], start=1))
    big = new_request(bob, vnpt, twins, start=1)
    return small, big


def test_the_detail_page_costs_the_same_with_5_or_500_entries(
    bob, charlie, small_and_big, django_assert_num_queries
):
    small, big = small_and_big
    request_submit(actor=bob, request=big)
    client = client_for(charlie)
    baseline = queries(client, f"/requests/{small.pk}/")
    with django_assert_num_queries(baseline):
        response = client.get(f"/requests/{big.pk}/")
    assert page_text(response).count('name="reject"') == 500
    assert "⚠" in page_text(response)


def test_the_hr_detail_page_costs_the_same_with_5_or_500_entries(bob, small_and_big):
    small, big = small_and_big
    client = client_for(bob)
    assert queries(client, f"/requests/{small.pk}/") == queries(client, f"/requests/{big.pk}/")


def test_the_queue_pages_cost_the_same_with_5_or_500_entries(
    bob, charlie, dave, vnpt, small_and_big, django_assert_num_queries
):
    small, big = small_and_big
    client = client_for(charlie)
    baseline = queries(client, "/review/department/")
    request_submit(actor=bob, request=big)
    with django_assert_num_queries(baseline):
        page = page_text(client.get("/review/department/"))
    assert big.reference in page and small.reference in page
    # The police queue, with the same two requests moved on.
    request_review(actor=charlie, request=small, decision="approve")
    police = client_for(dave)
    baseline = queries(police, "/review/police/")
    request_review(actor=charlie, request=big, decision="approve")
    with django_assert_num_queries(baseline):
        police.get("/review/police/")
