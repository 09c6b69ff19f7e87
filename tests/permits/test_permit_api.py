"""The permits API (GET a request's permits, POST revoke) and the permit pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from permits.models import Permit, PermitStatus
from permits.services.issuance import permit_issue_for_request
from permits.services.keys import signing_key_create
from tests.conftest import client_for
from tests.permits.test_issuance import PEOPLE, approved_request, unissued_approved_request

pytestmark = pytest.mark.django_db

FIELDS = {
    "serial",
    "id_number",
    "full_name",
    "valid_from",
    "valid_to",
    "areas",
    "vehicle_plate",
    "status",
    "qr",
}


@pytest.fixture(autouse=True)
def active_key(db: Any) -> Any:
    return signing_key_create(actor=None)


@pytest.fixture
def viettel_request(alice, charlie, dave, viettel) -> Any:
    return approved_request(hr=alice, organization=viettel, department=charlie, police=dave)


def api_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def permits_url(request: Any) -> str:
    return f"/api/v1/requests/{request.pk}/permits/"


def revoke_url(permit: Permit) -> str:
    return f"/api/v1/permits/{permit.serial}/revoke/"


# --- GET /api/v1/requests/{id}/permits/ ---------------------------------------------------------


def test_hr_lists_the_permits_of_their_request(alice, viettel_request):
    response = api_for(alice).get(permits_url(viettel_request))
    assert response.status_code == 200
    items = response.json()
    assert len(items) == len(PEOPLE)
    assert all(set(item) == FIELDS for item in items)
    item = next(i for i in items if i["id_number"] == PEOPLE[0][1])
    permit = Permit.objects.get(serial=item["serial"])
    assert item == {
        "serial": permit.serial,
        "id_number": PEOPLE[0][1],
        "full_name": "Nguyễn Thị Thu Hương",
        "valid_from": viettel_request.valid_from.isoformat(),
        "valid_to": viettel_request.valid_to.isoformat(),
        "areas": ["005", "006"],
        "vehicle_plate": "29B812345",
        "status": "active",
        "qr": permit.qr_text,
    }


def test_reviewers_list_any_enterprise_s_permits(charlie, dave, viettel_request):
    for reviewer in (charlie, dave):
        assert len(api_for(reviewer).get(permits_url(viettel_request)).json()) == len(PEOPLE)


def test_another_enterprise_s_permits_answer_404_like_a_missing_request(bob, viettel_request):
    response = api_for(bob).get(permits_url(viettel_request))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = api_for(bob).get("/api/v1/requests/00000000-0000-0000-0000-000000000001/permits/")
    assert missing.status_code == 404


def test_an_officer_may_not_list_permits_and_anonymous_callers_must_sign_in(erin, viettel_request):
    assert api_for(erin).get(permits_url(viettel_request)).status_code == 403
    assert APIClient().get(permits_url(viettel_request)).status_code == 401


def test_listing_takes_the_same_queries_for_three_or_thirty_permits(alice, viettel):
    def queries_for(count: int, start: int) -> int:
        request = unissued_approved_request(
            organization=viettel, created_by=alice, count=count, start=start
        )
        permit_issue_for_request(request=request, actor=None)
        api = api_for(User.objects.get(pk=alice.pk))  # a fresh user: no cached roles
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get(permits_url(request)).json()) == count
        return len(ctx.captured_queries)

    assert queries_for(3, 0) == queries_for(30, 100)


# --- POST /api/v1/permits/{serial}/revoke/ ------------------------------------------------------


def test_hr_revokes_a_permit_of_their_enterprise(alice, viettel_request):
    permit = viettel_request.permits.first()
    response = api_for(alice).post(revoke_url(permit), {"reason": "Nghỉ việc"}, format="json")
    assert (response.status_code, response.json()) == (200, {"status": "revoked"})
    permit.refresh_from_db()
    assert (permit.status, permit.revoke_reason) == (PermitStatus.REVOKED, "Nghỉ việc")


def test_a_reviewer_revokes_a_permit(dave, viettel_request):
    permit = viettel_request.permits.first()
    response = api_for(dave).post(revoke_url(permit), {"reason": "Sai đối tượng"}, format="json")
    assert response.status_code == 200


def test_revoking_without_a_reason_is_a_400_naming_the_field(alice, viettel_request):
    permit = viettel_request.permits.first()
    for body in ({}, {"reason": "   "}):
        response = api_for(alice).post(revoke_url(permit), body, format="json")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert [d["field"] for d in error["details"]] == ["reason"]
    assert Permit.objects.get(pk=permit.pk).status == PermitStatus.ACTIVE


def test_revoking_twice_is_a_409(alice, viettel_request):
    permit = viettel_request.permits.first()
    api_for(alice).post(revoke_url(permit), {"reason": "Nghỉ việc"}, format="json")
    response = api_for(alice).post(revoke_url(permit), {"reason": "Lần nữa"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_bob_gets_404_for_a_viettel_permit_and_nothing_changes(bob, viettel_request):
    permit = viettel_request.permits.first()
    response = api_for(bob).post(revoke_url(permit), {"reason": "Thử"}, format="json")
    assert response.status_code == 404
    missing = api_for(bob).post("/api/v1/permits/HN00000000/revoke/", {"reason": "Thử"})
    assert missing.status_code == 404
    assert response.json() == missing.json()
    assert Permit.objects.get(pk=permit.pk).status == PermitStatus.ACTIVE


def test_an_officer_may_not_revoke_and_anonymous_callers_must_sign_in(erin, viettel_request):
    permit = viettel_request.permits.first()
    assert api_for(erin).post(revoke_url(permit), {"reason": "Thử"}).status_code == 403
    assert APIClient().post(revoke_url(permit), {"reason": "Thử"}).status_code == 401
    assert Permit.objects.get(pk=permit.pk).status == PermitStatus.ACTIVE


def test_the_schema_documents_both_endpoints(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/requests/{id}/permits/" in schema["paths"]
    assert "/api/v1/permits/{serial}/revoke/" in schema["paths"]


# --- pages ------------------------------------------------------------------------------------


def test_the_permits_page_lists_every_permit_with_its_status(alice, viettel_request):
    permit = viettel_request.permits.first()
    api_for(alice).post(revoke_url(permit), {"reason": "Nghỉ việc"}, format="json")
    response = client_for(alice).get(f"/requests/{viettel_request.pk}/permits/")
    assert response.status_code == 200
    html = response.content.decode()
    for p in viettel_request.permits.all():
        assert p.serial in html
    assert "Đã thu hồi" in html and "Nghỉ việc" in html
    assert f"/permits/{permit.serial}/revoke/" not in html  # no revoke link once revoked
    assert "/permits/revoke/" in html  # revoke all of the request
    assert "/organizations/" not in html  # enterprise-wide revocation is for reviewers


def test_a_reviewer_sees_the_enterprise_wide_revocation_link(charlie, viettel, viettel_request):
    html = client_for(charlie).get(f"/requests/{viettel_request.pk}/permits/").content.decode()
    assert f"/organizations/{viettel.tax_code}/permits/revoke/" in html


def test_the_permits_page_of_another_enterprise_is_404(bob, viettel_request):
    assert client_for(bob).get(f"/requests/{viettel_request.pk}/permits/").status_code == 404


def test_the_permits_page_takes_the_same_queries_for_three_or_thirty_permits(alice, viettel):
    def queries_for(count: int, start: int) -> int:
        request = unissued_approved_request(
            organization=viettel, created_by=alice, count=count, start=start
        )
        permit_issue_for_request(request=request, actor=None)
        client = client_for(alice)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/requests/{request.pk}/permits/").status_code == 200
        return len(ctx.captured_queries)

    assert queries_for(3, 0) == queries_for(30, 100)


def test_revoking_one_permit_on_the_page_asks_for_confirmation_and_a_reason(alice, viettel_request):
    permit = viettel_request.permits.first()
    client = client_for(alice)
    url = f"/permits/{permit.serial}/revoke/"

    confirm = client.get(url)
    assert confirm.status_code == 200 and permit.serial in confirm.content.decode()
    assert Permit.objects.get(pk=permit.pk).status == PermitStatus.ACTIVE

    assert client.post(url, {"reason": "  "}).status_code == 400
    assert Permit.objects.get(pk=permit.pk).status == PermitStatus.ACTIVE

    done = client.post(url, {"reason": "Nghỉ việc"})
    assert done.status_code == 302 and done["Location"].endswith(
        f"/requests/{viettel_request.pk}/permits/"
    )
    assert Permit.objects.get(pk=permit.pk).status == PermitStatus.REVOKED


def test_revoking_a_whole_request_on_the_page(alice, viettel_request):
    client = client_for(alice)
    url = f"/requests/{viettel_request.pk}/permits/revoke/"
    assert f"{len(PEOPLE)} giấy" in client.get(url).content.decode()
    assert client.post(url, {"reason": "Hết nhiệm vụ"}).status_code == 302
    assert set(viettel_request.permits.values_list("status", flat=True)) == {"revoked"}


def test_only_reviewers_revoke_a_whole_enterprise_on_the_page(
    alice, charlie, viettel, viettel_request
):
    url = f"/organizations/{viettel.tax_code}/permits/revoke/"
    assert client_for(alice).post(url, {"reason": "Thử"}).status_code == 403
    assert set(viettel_request.permits.values_list("status", flat=True)) == {"active"}

    back = f"/requests/{viettel_request.pk}/permits/"
    response = client_for(charlie).post(url, {"reason": "Vi phạm", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert set(viettel_request.permits.values_list("status", flat=True)) == {"revoked"}


def test_the_enterprise_page_never_redirects_off_site(charlie, viettel, viettel_request):
    url = f"/organizations/{viettel.tax_code}/permits/revoke/"
    response = client_for(charlie).post(url, {"reason": "Vi phạm", "next": "https://evil.test/"})
    assert response["Location"] == "/"


def test_another_enterprise_s_permit_revoke_page_is_404(bob, viettel_request):
    permit = viettel_request.permits.first()
    assert client_for(bob).get(f"/permits/{permit.serial}/revoke/").status_code == 404
    assert (
        client_for(bob).post(f"/permits/{permit.serial}/revoke/", {"reason": "x"}).status_code
        == 404
    )
