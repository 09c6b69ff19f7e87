"""Revoking permits (one, a request's, an enterprise's), re-issuing after a correction, and
the signed revocation list for offline devices (permits/services/issuance.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from django.utils import timezone

from orgs.errors import Conflict, Forbidden, InvalidInput
from orgs.models import AuditEvent
from permits import credential
from permits.credential import Outcome
from permits.models import Permit, PermitStatus, Staff
from permits.services.issuance import (
    permit_reissue,
    permit_revoke,
    permits_reissue_for_staff,
    permits_revoke_for_organization,
    permits_revoke_for_request,
    revocation_list,
)
from permits.services.keys import jwks, signing_key_create, signing_key_rotate, verification_keys
from permits.services.staff import staff_update
from tests.permits.test_issuance import PEOPLE, approved_request, key_from_jwk

pytestmark = pytest.mark.django_db

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(autouse=True)
def active_key(db: Any) -> Any:
    return signing_key_create(actor=None)


@pytest.fixture
def viettel_request(alice, charlie, dave, viettel) -> Any:
    return approved_request(hr=alice, organization=viettel, department=charlie, police=dave)


@pytest.fixture
def vnpt_request(bob, charlie, dave, vnpt) -> Any:
    return approved_request(hr=bob, organization=vnpt, department=charlie, police=dave)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def statuses(**filters: Any) -> set[str]:
    return set(Permit.objects.filter(**filters).values_list("status", flat=True))


# --- one permit ------------------------------------------------------------------------------


def test_hr_revokes_one_permit_of_their_enterprise_with_a_reason(alice, viettel_request):
    permit = viettel_request.permits.first()
    permit_revoke(actor=alice, permit=permit, reason="  Nghỉ việc   từ 10/9 ")
    permit.refresh_from_db()
    assert permit.status == PermitStatus.REVOKED
    assert (permit.revoked_by, permit.revoke_reason) == (alice, "Nghỉ việc từ 10/9")
    assert permit.revoked_at is not None
    event = AuditEvent.objects.get(action="permit.revoke")
    assert event.object_id == permit.serial
    assert event.details == {"reason_sha256": digest("Nghỉ việc từ 10/9")}  # no free text
    assert viettel_request.permits.filter(status=PermitStatus.ACTIVE).count() == len(PEOPLE) - 1


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 256])
def test_a_revocation_needs_a_reason_of_reasonable_length(alice, viettel_request, reason):
    permit = viettel_request.permits.first()
    with pytest.raises(InvalidInput):
        permit_revoke(actor=alice, permit=permit, reason=reason)
    assert statuses(request=viettel_request) == {"active"}
    assert not AuditEvent.objects.filter(action__startswith="permit.revoke").exists()


def test_a_revoked_permit_cannot_be_revoked_again(alice, viettel_request):
    permit = viettel_request.permits.first()
    permit_revoke(actor=alice, permit=permit, reason="Nghỉ việc")
    with pytest.raises(Conflict):
        permit_revoke(actor=alice, permit=permit, reason="Lần nữa")
    permit.refresh_from_db()
    assert permit.revoke_reason == "Nghỉ việc"


def test_a_reviewer_may_revoke_any_permit(charlie, dave, viettel_request):
    one, two = viettel_request.permits.all()[:2]
    permit_revoke(actor=charlie, permit=one, reason="Sai đối tượng")
    permit_revoke(actor=dave, permit=two, reason="Sai đối tượng")
    assert statuses(pk__in=[one.pk, two.pk]) == {"revoked"}


def test_hr_of_another_enterprise_and_an_officer_may_not_revoke(bob, erin, viettel_request):
    permit = viettel_request.permits.first()
    for actor in (bob, erin):
        with pytest.raises(Forbidden):
            permit_revoke(actor=actor, permit=permit, reason="Thử")
    assert statuses(request=viettel_request) == {"active"}


# --- a request, an enterprise ------------------------------------------------------------------


def test_revoking_a_request_revokes_its_live_permits_only(alice, viettel_request, vnpt_request):
    first = viettel_request.permits.first()
    permit_revoke(actor=alice, permit=first, reason="Nghỉ việc")

    revoked = permits_revoke_for_request(
        actor=alice, request=viettel_request, reason="Hết nhiệm vụ"
    )

    assert len(revoked) == len(PEOPLE) - 1
    assert statuses(request=viettel_request) == {"revoked"}
    assert statuses(request=vnpt_request) == {"active"}
    first.refresh_from_db()
    assert first.revoke_reason == "Nghỉ việc"  # the earlier decision stands
    event = AuditEvent.objects.get(action="permit.revoke_request")
    assert event.object_id == str(viettel_request.pk)
    assert event.details["count"] == len(revoked)
    assert sorted(event.details["serials"]) == sorted(p.serial for p in revoked)
    assert event.details["reason_sha256"] == digest("Hết nhiệm vụ")


def test_revoking_a_request_with_nothing_live_changes_nothing(alice, viettel_request):
    permits_revoke_for_request(actor=alice, request=viettel_request, reason="Hết nhiệm vụ")
    assert permits_revoke_for_request(actor=alice, request=viettel_request, reason="Lại") == []
    assert AuditEvent.objects.filter(action="permit.revoke_request").count() == 1


def test_hr_of_another_enterprise_may_not_revoke_a_request(bob, viettel_request):
    with pytest.raises(Forbidden):
        permits_revoke_for_request(actor=bob, request=viettel_request, reason="Thử")
    assert statuses(request=viettel_request) == {"active"}


def test_a_reviewer_revokes_every_live_permit_of_an_enterprise(
    charlie, viettel, viettel_request, vnpt_request
):
    revoked = permits_revoke_for_organization(
        actor=charlie, organization=viettel, reason="Doanh nghiệp vi phạm quy định"
    )
    assert len(revoked) == len(PEOPLE)
    assert statuses(organization=viettel) == {"revoked"}
    assert statuses(request=vnpt_request) == {"active"}
    event = AuditEvent.objects.get(action="permit.revoke_organization")
    assert (event.object_type, event.object_id) == ("organization", str(viettel.pk))
    assert event.details["count"] == len(PEOPLE)


def test_hr_may_not_revoke_a_whole_enterprise_not_even_their_own(alice, viettel, viettel_request):
    with pytest.raises(Forbidden):
        permits_revoke_for_organization(actor=alice, organization=viettel, reason="Thử")
    assert statuses(organization=viettel) == {"active"}


# --- corrections re-issue ---------------------------------------------------------------------


def staff_data(staff: Staff, **changes: Any) -> dict[str, Any]:
    data = {
        "full_name": staff.full_name,
        "id_number": staff.id_number,
        "date_of_birth": staff.date_of_birth,
        "phone": staff.phone,
        "job_title": staff.job_title,
        "home_address": staff.home_address,
        "vehicle_plate": staff.vehicle_plate,
    }
    return {**data, **changes}


def test_correcting_a_name_reissues_the_permit_and_revokes_the_old(alice, viettel_request):
    staff = Staff.objects.get(organization=viettel_request.organization, id_number=PEOPLE[1][1])
    old = Permit.objects.get(request=viettel_request, id_number=staff.id_number)

    # The staff list's edit re-issues by itself; nobody has to remember a second step.
    staff = staff_update(actor=alice, staff=staff, data=staff_data(staff, full_name="Lê Công Lực"))
    assert permits_reissue_for_staff(actor=alice, staff=staff) == []  # nothing left to do

    old.refresh_from_db()
    new = Permit.objects.get(request=viettel_request, id_number=staff.id_number, status="active")
    assert old.status == PermitStatus.REVOKED and old.revoked_by == alice
    assert new.supersedes == old and new.serial != old.serial
    assert new.full_name == "Lê Công Lực"
    assert (new.valid_from, new.valid_to, new.area_codes) == (
        old.valid_from,
        old.valid_to,
        old.area_codes,
    )
    result = credential.verify(new.qr_text, verification_keys(), today=new.valid_from)
    assert result.outcome == Outcome.VALID and result.claims is not None
    assert result.claims.full_name == "Lê Công Lực"
    assert old.serial in revocation_list()["serials"]
    event = AuditEvent.objects.get(action="permit.reissue")
    assert event.details["replaced"] == [old.serial]
    assert event.details["fields"] == ["full_name"]
    assert "Lê Công Lực" not in json.dumps(event.details, ensure_ascii=False)


def test_a_plate_and_a_birth_date_correction_reach_the_qr(alice, viettel_request):
    staff = Staff.objects.get(organization=viettel_request.organization, id_number=PEOPLE[0][1])
    old = Permit.objects.get(request=viettel_request, id_number=staff.id_number)
    staff.vehicle_plate, staff.date_of_birth = "", staff.date_of_birth + timedelta(days=1)

    (new,) = permits_reissue_for_staff(actor=alice, staff=staff)

    _kid, claims = credential.decode(new.qr_text)
    assert claims.vehicle_plate is None and new.vehicle_plate == ""
    assert claims.date_of_birth == staff.date_of_birth
    assert claims.full_name == old.full_name


def test_correcting_an_id_number_follows_the_staff_row_to_the_new_number(alice, viettel_request):
    staff = Staff.objects.get(organization=viettel_request.organization, id_number=PEOPLE[3][1])
    old = Permit.objects.get(request=viettel_request, id_number=staff.id_number)
    corrected = staff.id_number[:-4] + "6539"

    staff = staff_update(actor=alice, staff=staff, data=staff_data(staff, id_number=corrected))
    permits_reissue_for_staff(actor=alice, staff=staff)

    new = Permit.objects.get(supersedes=old)
    assert new.id_number == corrected and new.status == PermitStatus.ACTIVE
    assert credential.decode(new.qr_text)[1].id_last4 == "6539"
    assert AuditEvent.objects.get(action="permit.reissue").details["fields"] == ["id_number"]


def test_an_unchanged_person_keeps_their_permit(alice, viettel_request):
    staff = Staff.objects.get(organization=viettel_request.organization, id_number=PEOPLE[0][1])
    staff_update(actor=alice, staff=staff, data=staff_data(staff, phone="0912000111"))
    assert permits_reissue_for_staff(actor=alice, staff=staff) == []
    assert statuses(request=viettel_request) == {"active"}
    assert not AuditEvent.objects.filter(action="permit.reissue").exists()


def test_a_reissued_permit_is_signed_with_the_current_key(alice, viettel_request):
    new_key = signing_key_rotate(actor=None)
    permit = viettel_request.permits.first()
    new = permit_reissue(actor=alice, permit=permit, corrected={"full_name": "Phan Văn Mới"})
    assert new.kid == new_key.kid != permit.kid


def test_permit_reissue_refuses_unknown_fields_and_no_change(alice, viettel_request):
    permit = viettel_request.permits.first()
    with pytest.raises(InvalidInput):
        permit_reissue(actor=alice, permit=permit, corrected={"valid_to": "2099-01-01"})
    with pytest.raises(InvalidInput):
        permit_reissue(actor=alice, permit=permit, corrected={"full_name": permit.full_name})
    assert statuses(request=viettel_request) == {"active"}


def test_another_enterprise_may_not_reissue(bob, viettel_request):
    permit = viettel_request.permits.first()
    with pytest.raises(Forbidden):
        permit_reissue(actor=bob, permit=permit, corrected={"full_name": "Phan Văn Mới"})


# --- the signed revocation list -----------------------------------------------------------------


def test_the_revocation_list_holds_revoked_unexpired_serials_only(alice, viettel_request):
    revoked, expired, _active = viettel_request.permits.all()[:3]
    permit_revoke(actor=alice, permit=revoked, reason="Nghỉ việc")
    permit_revoke(actor=alice, permit=expired, reason="Nghỉ việc")
    Permit.objects.filter(pk=expired.pk).update(
        valid_from=timezone.localdate() - timedelta(days=9),
        valid_to=timezone.localdate() - timedelta(days=1),
    )
    assert revocation_list()["serials"] == [revoked.serial]


def test_the_revocation_list_signature_verifies_with_the_jwks_key(alice, viettel_request):
    for permit in viettel_request.permits.all()[:3]:
        permit_revoke(actor=alice, permit=permit, reason="Nghỉ việc")
    now = datetime(2021, 9, 20, 6, 0, 0, 123456, tzinfo=HANOI)
    Permit.objects.update(valid_to=now.date() + timedelta(days=5), valid_from=now.date())

    signed = revocation_list(now=now)

    assert signed["issued_at"] == "2021-09-20T06:00:00+07:00"
    assert len(signed["serials"]) == 3
    (jwk,) = [k for k in jwks()["keys"] if k["kid"] == signed["kid"]]
    # The message as permit-format.md §7 spells it, built here without credential.py ...
    message = json.dumps(
        {"issued_at": signed["issued_at"], "serials": sorted(signed["serials"])},
        separators=(",", ":"),
    ).encode()
    assert message == credential.revocation_list_message(
        issued_at=signed["issued_at"], serials=signed["serials"]
    )
    # ... and the signature checked with cryptography directly.
    raw = base64.urlsafe_b64decode(signed["signature"] + "=" * (-len(signed["signature"]) % 4))
    assert len(raw) == 64 and "=" not in signed["signature"]
    der = utils.encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key_from_jwk(jwk).verify(der, message, ec.ECDSA(hashes.SHA256()))


def test_the_revocation_list_is_signed_with_the_active_key_after_a_rotation(db):
    new_key = signing_key_rotate(actor=None)
    signed = revocation_list()
    assert signed["kid"] == new_key.kid and signed["serials"] == []
    assert signed["issued_at"].endswith("+07:00")
