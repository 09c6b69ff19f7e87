"""The requests API (contract §3): shapes, statuses, 404 for another enterprise, 409 out of turn."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from orgs.access import Role
from permits.models import Permit, PermitRequest, RequestHistory, RequestStatus
from permits.services.keys import signing_key_ensure
from permits.services.requests import request_review, request_submit
from tests.conftest import make_user
from tests.permits.test_request_services import (
    import_staff,
    new_request,
    people,
    today,
)

pytestmark = pytest.mark.django_db


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def viettel_staff(alice, viettel):
    return import_staff(alice, viettel, people(3))


@pytest.fixture
def vnpt_staff(bob, vnpt):
    return import_staff(bob, vnpt, people(2, start=100, gender_digit="1"))


@pytest.fixture
def draft(alice, viettel, viettel_staff):
    return new_request(alice, viettel, viettel_staff)


@pytest.fixture
def submitted(alice, draft):
    return request_submit(actor=alice, request=draft)


def body(people, **overrides):
    data = {
        "staff": [s.id_number for s in people],
        "valid_from": str(today()),
        "valid_to": str(today() + timedelta(days=6)),
        "areas": ["005", "006"],
        "reason": "Ứng cứu thông tin",
    }
    data.update(overrides)
    return data


# --- create ---------------------------------------------------------------------------------


def test_it_creates_a_draft_from_id_numbers(alice, viettel_staff):
    response = api_for(alice).post("/api/v1/requests/", body(viettel_staff), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft"
    assert data["areas"] == ["005", "006"] and data["whole_city"] is False
    request = PermitRequest.objects.get(pk=data["id"])
    assert data["reference"] == request.reference
    assert {e["id_number"] for e in data["entries"]} == {s.id_number for s in viettel_staff}
    assert set(data["entries"][0]) >= {"id_number", "full_name", "decision", "reason"}
    assert data["history"][0]["action"] == "create"


@pytest.mark.parametrize("extra", [{"areas": []}, {"areas": ["005"], "whole_city": True}])
def test_an_empty_area_list_or_the_whole_city_flag_asks_for_the_whole_city(
    alice, viettel_staff, extra
):
    response = api_for(alice).post("/api/v1/requests/", body(viettel_staff, **extra), format="json")
    assert response.status_code == 201
    assert response.json()["whole_city"] is True and response.json()["areas"] == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"staff": []}, "staff"),
        ({"staff": ["001190000100"]}, "staff"),  # bob's VNPT staff member
        ({"valid_from": "2000-01-01", "valid_to": "2000-01-02"}, "valid_from"),
        ({"valid_to": None}, "valid_to"),
        ({"areas": ["005", "099"]}, "areas"),
    ],
)
def test_it_refuses_bad_requests_in_the_error_shape(
    alice, viettel_staff, vnpt_staff, overrides, field
):
    data = body(viettel_staff, **overrides)
    response = api_for(alice).post("/api/v1/requests/", data, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] in {"request_invalid", "invalid"}
    assert field in [d["field"] for d in error["details"]]
    assert not PermitRequest.objects.exists()


def test_fifteen_days_is_refused_with_a_vietnamese_message(alice, viettel_staff):
    data = body(viettel_staff, valid_to=str(today() + timedelta(days=14)))
    error = api_for(alice).post("/api/v1/requests/", data, format="json").json()["error"]
    assert error["code"] == "request_invalid"
    assert error["details"] == [
        {
            "field": "valid_to",
            "message": "Giấy đi đường có hiệu lực tối đa 14 ngày (đang chọn 15).",
        }
    ]


def test_a_reviewer_cannot_create_a_request(charlie, viettel_staff):
    response = api_for(charlie).post("/api/v1/requests/", body(viettel_staff), format="json")
    assert response.status_code == 403


def test_an_outsider_and_an_anonymous_caller_are_refused(frank, erin):
    assert api_for(frank).get("/api/v1/requests/").status_code == 403
    assert api_for(erin).post("/api/v1/requests/", {}, format="json").status_code == 403
    assert APIClient().get("/api/v1/requests/").status_code in (401, 403)


# --- read -----------------------------------------------------------------------------------


def test_the_list_holds_what_the_caller_may_see(alice, bob, charlie, submitted, vnpt, vnpt_staff):
    new_request(bob, vnpt, vnpt_staff)
    mine = api_for(alice).get("/api/v1/requests/").json()
    assert mine["count"] == 1 and mine["results"][0]["id"] == str(submitted.pk)
    assert mine["results"][0]["entry_count"] == 3
    assert api_for(bob).get("/api/v1/requests/").json()["results"][0]["organization"] == (
        vnpt.tax_code
    )
    reviewer = api_for(charlie).get("/api/v1/requests/").json()
    assert [r["id"] for r in reviewer["results"]] == [str(submitted.pk)]  # no drafts
    assert api_for(alice).get("/api/v1/requests/?status=draft").json()["count"] == 0
    assert api_for(alice).get("/api/v1/requests/?status=submitted").json()["count"] == 1


def test_the_detail_has_entries_and_history(alice, charlie, submitted, viettel_staff):
    request_review(
        actor=charlie,
        request=submitted,
        decision="approve",
        note="Đạt",
        rejected=[(viettel_staff[0].id_number, "Sai đối tượng")],
    )
    data = api_for(alice).get(f"/api/v1/requests/{submitted.pk}/").json()
    assert data["status"] == "department_approved"
    entry = next(e for e in data["entries"] if e["id_number"] == viettel_staff[0].id_number)
    assert (entry["decision"], entry["reason"], entry["overlap"]) == (
        "rejected",
        "Sai đối tượng",
        None,
    )
    assert [(h["action"], h["from"], h["to"]) for h in data["history"]] == [
        ("create", "", "draft"),
        ("submit", "draft", "submitted"),
        ("approve", "submitted", "department_approved"),
    ]
    last = data["history"][-1]
    assert last["actor"] == "charlie" and last["note"] == "Đạt" and last["at"]


def test_another_organisation_s_request_answers_404_like_a_missing_one(bob, draft):
    for pk in (draft.pk, uuid.uuid4()):
        for method, url in [
            ("get", f"/api/v1/requests/{pk}/"),
            ("post", f"/api/v1/requests/{pk}/submit/"),
            ("patch", f"/api/v1/requests/{pk}/"),
        ]:
            response = getattr(api_for(bob), method)(url, {}, format="json")
            assert response.status_code == 404, (method, url)
            assert response.json()["error"]["code"] == "not_found"


def test_a_reviewer_cannot_see_a_draft(charlie, draft):
    assert api_for(charlie).get(f"/api/v1/requests/{draft.pk}/").status_code == 404


# --- submit ---------------------------------------------------------------------------------


def test_submit_answers_the_new_status_and_a_second_submit_is_409(alice, draft):
    client = api_for(alice)
    response = client.post(f"/api/v1/requests/{draft.pk}/submit/")
    assert response.status_code == 200
    assert response.json() == {"id": str(draft.pk), "status": "submitted"}
    again = client.post(f"/api/v1/requests/{draft.pk}/submit/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "transition_not_allowed"
    assert RequestHistory.objects.filter(request=draft, action="submit").count() == 1


def test_a_reviewer_cannot_submit(charlie, submitted):
    assert api_for(charlie).post(f"/api/v1/requests/{submitted.pk}/submit/").status_code == 403


# --- review ---------------------------------------------------------------------------------


def test_the_whole_path_over_the_api(alice, charlie, dave, draft, viettel_staff):
    signing_key_ensure()
    api_for(alice).post(f"/api/v1/requests/{draft.pk}/submit/")
    turned_down = viettel_staff[1].id_number
    response = api_for(charlie).post(
        f"/api/v1/requests/{draft.pk}/review/",
        {
            "decision": "approve",
            "note": "Đúng đối tượng",
            "rejected": [{"id_number": turned_down, "reason": "Không thuộc tổ ứng cứu"}],
        },
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "department_approved"
    response = api_for(dave).post(
        f"/api/v1/requests/{draft.pk}/review/", {"decision": "approve"}, format="json"
    )
    assert response.json() == {"id": str(draft.pk), "status": "approved"}
    assert Permit.objects.filter(request=draft).count() == 2
    assert not Permit.objects.filter(id_number=turned_down).exists()


def test_a_review_out_of_turn_is_409_and_changes_nothing(charlie, dave, submitted):
    response = api_for(dave).post(
        f"/api/v1/requests/{submitted.pk}/review/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "transition_not_allowed"
    assert PermitRequest.objects.get(pk=submitted.pk).status == RequestStatus.SUBMITTED
    api_for(charlie).post(
        f"/api/v1/requests/{submitted.pk}/review/", {"decision": "approve"}, format="json"
    )
    again = api_for(charlie).post(
        f"/api/v1/requests/{submitted.pk}/review/", {"decision": "approve"}, format="json"
    )
    assert again.status_code == 409


def test_the_same_person_never_makes_both_approvals(submitted):
    gina = make_user("gina", Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER)
    client = api_for(gina)
    url = f"/api/v1/requests/{submitted.pk}/review/"
    assert client.post(url, {"decision": "approve"}, format="json").status_code == 200
    response = client.post(url, {"decision": "approve"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "separation_of_duties"
    assert PermitRequest.objects.get(pk=submitted.pk).status == RequestStatus.DEPARTMENT_APPROVED


def test_hr_cannot_review_its_own_request(alice, submitted):
    response = api_for(alice).post(
        f"/api/v1/requests/{submitted.pk}/review/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 403


def test_a_bad_review_body_is_400(charlie, submitted):
    url = f"/api/v1/requests/{submitted.pk}/review/"
    assert api_for(charlie).post(url, {"decision": "maybe"}, format="json").status_code == 400
    response = api_for(charlie).post(url, {"decision": "reject"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "note"


def test_a_returned_request_is_patched_and_submitted_again(
    alice, charlie, submitted, viettel_staff
):
    api_for(charlie).post(
        f"/api/v1/requests/{submitted.pk}/review/",
        {"decision": "return", "note": "Bớt một người"},
        format="json",
    )
    response = api_for(alice).patch(
        f"/api/v1/requests/{submitted.pk}/",
        {"staff": [viettel_staff[0].id_number], "areas": []},
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "returned" and len(data["entries"]) == 1 and data["whole_city"]
    response = api_for(alice).post(f"/api/v1/requests/{submitted.pk}/submit/")
    assert response.json()["status"] == "submitted"


def test_patching_a_submitted_request_is_409(alice, submitted):
    response = api_for(alice).patch(
        f"/api/v1/requests/{submitted.pk}/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 409


def test_reviewers_see_overlap_flags_and_hr_does_not(
    alice, bob, charlie, dave, vnpt, viettel_staff
):
    signing_key_ensure()
    # Viettel's permit for a person, then VNPT asks for the same person (same CCCD).
    person = viettel_staff[0]
    first = new_request(alice, person.organization, [person])
    request_submit(actor=alice, request=first)
    request_review(actor=charlie, request=first, decision="approve")
    request_review(actor=dave, request=first, decision="approve")
    [twin] = import_staff(
        bob, vnpt, [(person.full_name, person.id_number, "15/03/1990", person.phone)]
    )
    second = request_submit(actor=bob, request=new_request(bob, vnpt, [twin], start=2, days=3))
    flagged = api_for(charlie).get(f"/api/v1/requests/{second.pk}/").json()["entries"][0]
    serial = Permit.objects.get(request=first).serial
    assert (
        flagged["overlap"]["serial"] == serial and flagged["overlap"]["organization"] == "VIETTEL"
    )
    assert (
        api_for(bob).get(f"/api/v1/requests/{second.pk}/").json()["entries"][0]["overlap"] is None
    )


def test_the_schema_documents_the_request_endpoints(client):
    schema = client.get("/api/schema/").content.decode()
    for path in (
        "/api/v1/requests/",
        "/api/v1/requests/{id}/",
        "/api/v1/requests/{id}/submit/",
        "/api/v1/requests/{id}/review/",
    ):
        assert path in schema
    assert "whole_city" in schema and "separation_of_duties" in schema
