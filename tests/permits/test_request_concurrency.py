"""Two reviewers deciding the same request at the same moment (PostgreSQL row locks).

Each thread has its own database connection; a barrier releases them together. The request
row lock (select_for_update) makes the second wait, re-read the status, and answer 409.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
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
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at once; return each result (or exception)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def department_approved(on_postgres, alice, charlie, viettel) -> PermitRequest:
    signing_key_ensure()
    staff = import_staff(alice, viettel, people(4))
    request = request_submit(actor=alice, request=new_request(alice, viettel, staff))
    return request_review(actor=charlie, request=request, decision="approve")


def test_two_police_reviewers_approving_at_once_issue_once(dave, department_approved):
    hien = make_user("hien", Role.POLICE_REVIEWER)
    url = f"/api/v1/requests/{department_approved.pk}/review/"
    responses = race(
        lambda: api_for(dave).post(url, {"decision": "approve"}, format="json"),
        lambda: api_for(hien).post(url, {"decision": "approve"}, format="json"),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["code"] == "transition_not_allowed"
    request = PermitRequest.objects.get(pk=department_approved.pk)
    assert request.status == RequestStatus.APPROVED
    approvals = RequestHistory.objects.filter(request=request, to_status=RequestStatus.APPROVED)
    assert approvals.count() == 1
    assert approvals.get().actor == request.approved_by
    assert Permit.objects.filter(request=request).count() == 4


def test_an_approval_and_a_rejection_at_once_leave_one_decision(
    on_postgres, alice, charlie, viettel
):
    staff = import_staff(alice, viettel, people(2))
    request = request_submit(actor=alice, request=new_request(alice, viettel, staff))
    other = make_user("khoa", Role.DEPARTMENT_REVIEWER)
    results = race(
        lambda: request_review(actor=charlie, request=request, decision="approve"),
        lambda: request_review(actor=other, request=request, decision="reject", note="Sai"),
    )
    winners = [r for r in results if isinstance(r, PermitRequest)]
    losers = [r for r in results if not isinstance(r, PermitRequest)]
    assert len(winners) == 1 and len(losers) == 1
    assert getattr(losers[0], "status", None) == 409
    request.refresh_from_db()
    assert request.status == winners[0].status
    decisions = RequestHistory.objects.filter(request=request).exclude(
        action__in=["create", "submit"]
    )
    assert decisions.count() == 1
