"""Issuing permits (permits/services/issuance.py): one signed permit per accepted person.

Requests reach approval through the real services (staff import, request create, submit,
both reviews); `unissued_approved_request` builds an approved request WITHOUT its permits
straight in the ORM, for the tests that call permit_issue_for_request themselves (the police
approval would already have issued them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import date, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from orgs.errors import Conflict, InvalidInput
from orgs.models import Area, AuditEvent
from permits import credential
from permits.models import (
    EntryDecision,
    Permit,
    PermitRequest,
    PermitStatus,
    RequestEntry,
    RequestStatus,
    SerialCounter,
    SigningKey,
)
from permits.services.issuance import (
    damm_check_digit,
    permit_issue_for_request,
    permit_revoke,
    serial_for_number,
    serial_is_well_formed,
    serial_numbers_reserve,
)
from permits.services.keys import (
    NoActiveSigningKey,
    signing_key_create,
    signing_key_retire,
    verification_keys,
)
from permits.services.requests import request_create, request_review, request_submit
from permits.services.staff import staff_import

CSV_HEADER = "full_name,id_number,date_of_birth,phone,job_title,home_address,vehicle_plate\n"
# Real-looking people: CCCD numbers agree with the birth year and century (normalize.py).
PEOPLE = [
    ("Nguyễn Thị Thu Hương", "001171492817", "30/05/1971", "0796667674", "29-B8 123.45"),
    ("Lê Công Lộc", "001091653397", "28/02/1991", "0328864766", ""),
    ("Bùi Công Phong", "079084199126", "12/10/1984", "0988588401", "29-E8 410.18"),
    ("Kiều Đức Phong", "001091426538", "17/05/1991", "0374261324", ""),
    ("Trần Văn Đức", "001085012345", "01/01/1985", "0912345678", "30A-123.45"),
]


# --- helpers shared by the permits and verification tests --------------------------------


def staff_csv(people: list[tuple[str, str, str, str, str]] = PEOPLE) -> bytes:
    rows = [f"{n},{i},{d},{p},Bưu tá,Hà Nội,{v}\n" for n, i, d, p, v in people]
    return (CSV_HEADER + "".join(rows)).encode("utf-8")


def approved_request(
    *,
    hr: Any,
    organization: Any,
    department: Any,
    police: Any,
    people: list[tuple[str, str, str, str, str]] = PEOPLE,
    areas: tuple[str, ...] = ("005", "006"),
    whole_city: bool = False,
    rejected: list[dict[str, str]] | None = None,
    days: int = 7,
) -> PermitRequest:
    """A request taken through every service up to the police approval, which issues."""
    staff_import(actor=hr, organization=organization, data=staff_csv(people), filename="s.csv")
    today = timezone.localdate()
    request = request_create(
        actor=hr,
        organization=organization,
        id_numbers=[p[1] for p in people],
        valid_from=today,
        valid_to=today + timedelta(days=days - 1),
        areas=areas,
        whole_city=whole_city,
        reason="Ứng cứu thông tin, bảo đảm mạng lưới",
    )
    request_submit(actor=hr, request=request)
    request_review(actor=department, request=request, decision="approve")
    request_review(actor=police, request=request, decision="approve", rejected=rejected or [])
    request.refresh_from_db()
    return request


def unissued_approved_request(
    *,
    organization: Any,
    created_by: Any,
    count: int = 3,
    areas: tuple[str, ...] = ("005",),
    whole_city: bool = False,
    start: int = 0,
) -> PermitRequest:
    """ORM only: an APPROVED request with `count` accepted entries and no permit yet."""
    today = timezone.localdate()
    request = PermitRequest.objects.create(
        organization=organization,
        created_by=created_by,
        status=RequestStatus.APPROVED,
        valid_from=today,
        valid_to=today + timedelta(days=6),
        whole_city=whole_city,
    )
    request.areas.set(Area.objects.filter(code__in=areas))
    RequestEntry.objects.bulk_create(
        RequestEntry(
            request=request,
            id_number=f"0010900{start + i:05d}",
            full_name=f"Nguyễn Văn Thứ {start + i}",
            date_of_birth=date(1990, 1, 1) + timedelta(days=i),
            vehicle_plate="29B112345" if i % 2 else "",
            decision=EntryDecision.ACCEPTED,
        )
        for i in range(count)
    )
    return request


def b45decode(text: str) -> bytes:
    """RFC 9285, written here from the RFC so the test does not trust credential.py."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = [alphabet.index(c) for c in text[i : i + 3]]
        n = sum(v * 45**k for k, v in enumerate(chunk))
        out += n.to_bytes(len(chunk) - 1, "big")
    return bytes(out)


def key_from_jwk(jwk: dict[str, str]) -> ec.EllipticCurvePublicKey:
    def coordinate(s: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")

    numbers = ec.EllipticCurvePublicNumbers(
        coordinate(jwk["x"]), coordinate(jwk["y"]), ec.SECP256R1()
    )
    key = numbers.public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()[:8]).rstrip(b"=").decode()
    assert kid == jwk["kid"], "the JWKS kid is the SPKI hash of its own key"
    return key


def verify_independently(qr_text: str, jwks: dict[str, Any]) -> dict[int, Any]:
    """Decode and check a QR text with base45 above, cbor2 and cryptography: the payload."""
    assert qr_text.startswith("TP1:")
    cose = cbor2.loads(b45decode(qr_text[4:]))
    assert isinstance(cose, cbor2.CBORTag) and cose.tag == 18
    protected, unprotected, payload, signature = cose.value
    assert unprotected == {}
    header = cbor2.loads(protected)
    assert header[1] == -7
    kid = base64.urlsafe_b64encode(header[4]).rstrip(b"=").decode()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    key_from_jwk(jwk).verify(der, sig_structure, ec.ECDSA(hashes.SHA256()))  # raises if bad
    result: dict[int, Any] = cbor2.loads(payload)
    return result


def days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


@pytest.fixture
def active_key(db: Any) -> SigningKey:
    return signing_key_create(actor=None)


pytestmark = pytest.mark.django_db


# --- the police approval issues ------------------------------------------------------------


def test_the_police_approval_issues_one_permit_per_accepted_person(
    alice, charlie, dave, viettel, active_key
):
    request = approved_request(hr=alice, organization=viettel, department=charlie, police=dave)
    permits = list(Permit.objects.filter(request=request))
    assert len(permits) == len(PEOPLE)
    assert {p.id_number for p in permits} == {p[1] for p in PEOPLE}
    assert all(p.status == PermitStatus.ACTIVE and p.kid == active_key.kid for p in permits)
    assert all(p.organization_id == viettel.pk for p in permits)
    assert len({p.serial for p in permits}) == len(permits)


def test_a_person_the_police_turn_down_gets_no_permit(alice, charlie, dave, viettel, active_key):
    turned_down = PEOPLE[1][1]
    request = approved_request(
        hr=alice,
        organization=viettel,
        department=charlie,
        police=dave,
        rejected=[{"id_number": turned_down, "reason": "Không thuộc lực lượng trực"}],
    )
    numbers = set(Permit.objects.filter(request=request).values_list("id_number", flat=True))
    assert turned_down not in numbers
    assert len(numbers) == len(PEOPLE) - 1


def test_a_fresh_permit_verifies_independently_with_the_key_from_the_jwks_endpoint(
    alice, charlie, dave, viettel, active_key
):
    request = approved_request(hr=alice, organization=viettel, department=charlie, police=dave)
    permit = Permit.objects.get(request=request, id_number=PEOPLE[0][1])
    jwks = APIClient().get("/.well-known/permit-keys.json").json()

    payload = verify_independently(permit.qr_text, jwks)

    assert payload == {
        1: permit.serial,
        2: "Nguyễn Thị Thu Hương",
        3: "2817",
        4: 19710530,
        5: "VIETTEL",
        6: days(request.valid_from),
        7: days(request.valid_to),
        8: [5, 6],
        9: "29B812345",
    }


def test_the_qr_has_no_plate_key_without_a_vehicle_and_no_areas_for_the_whole_city(
    alice, charlie, dave, viettel, active_key
):
    request = approved_request(
        hr=alice, organization=viettel, department=charlie, police=dave, whole_city=True
    )
    permit = Permit.objects.get(request=request, id_number=PEOPLE[1][1])
    _kid, claims = credential.decode(permit.qr_text)
    assert claims.vehicle_plate is None and permit.vehicle_plate == ""
    assert claims.areas == () and permit.area_codes == []
    assert claims.id_last4 == "3397"


def test_the_full_id_number_is_never_in_the_qr(alice, charlie, dave, viettel, active_key):
    request = approved_request(hr=alice, organization=viettel, department=charlie, police=dave)
    for permit in Permit.objects.filter(request=request):
        assert permit.id_number.encode() not in b45decode(permit.qr_text[4:])


def test_every_fresh_permit_verifies_as_valid_with_the_published_keys(
    alice, charlie, dave, viettel, active_key
):
    request = approved_request(hr=alice, organization=viettel, department=charlie, police=dave)
    for permit in Permit.objects.filter(request=request):
        result = credential.verify(permit.qr_text, verification_keys(), today=request.valid_from)
        assert result.outcome == credential.Outcome.VALID
        assert result.claims is not None and result.claims.serial == permit.serial


# --- idempotence ---------------------------------------------------------------------------


def test_issuing_twice_for_the_same_request_makes_no_second_permit(alice, viettel, active_key):
    request = unissued_approved_request(organization=viettel, created_by=alice, count=4)
    first = permit_issue_for_request(request=request, actor=None)
    second = permit_issue_for_request(request=request, actor=None)
    assert len(first) == 4 and second == []
    assert Permit.objects.filter(request=request).count() == 4


def test_running_issuance_again_does_not_undo_a_revocation(alice, viettel, active_key):
    request = unissued_approved_request(organization=viettel, created_by=alice, count=2)
    permit, _other = permit_issue_for_request(request=request, actor=None)
    permit_revoke(actor=None, permit=permit, reason="Nghỉ việc")
    assert permit_issue_for_request(request=request, actor=None) == []
    assert not Permit.objects.filter(entry=permit.entry, status=PermitStatus.ACTIVE).exists()


def test_it_refuses_a_request_that_is_not_approved(alice, viettel, active_key):
    request = unissued_approved_request(organization=viettel, created_by=alice)
    PermitRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DEPARTMENT_APPROVED)
    with pytest.raises(Conflict):
        permit_issue_for_request(request=request, actor=None)
    assert not Permit.objects.exists()


def test_it_never_reads_no_district_as_the_whole_city(alice, viettel, active_key):
    request = unissued_approved_request(organization=viettel, created_by=alice, areas=())
    with pytest.raises(InvalidInput):
        permit_issue_for_request(request=request, actor=None)
    assert not Permit.objects.exists()


def test_without_an_active_key_it_issues_nothing(alice, viettel, active_key):
    signing_key_retire(actor=None, kid=active_key.kid)
    request = unissued_approved_request(organization=viettel, created_by=alice)
    with pytest.raises(NoActiveSigningKey):
        permit_issue_for_request(request=request, actor=None)
    assert not Permit.objects.exists()
    assert not AuditEvent.objects.filter(action="permit.issue").exists()


# --- audit and queries -----------------------------------------------------------------------


def test_one_audit_event_records_the_batch_without_personal_data(alice, viettel, active_key):
    request = unissued_approved_request(organization=viettel, created_by=alice, count=3)
    permits = permit_issue_for_request(request=request, actor=alice)
    (event,) = AuditEvent.objects.filter(action="permit.issue")
    assert (event.object_type, event.object_id) == ("permit_request", str(request.pk))
    assert event.details == {"count": 3, "kid": active_key.kid}
    assert event.actor_username == "alice"
    dumped = json.dumps(event.details, ensure_ascii=False)
    for permit in permits:
        assert permit.full_name not in dumped and permit.id_number not in dumped


def test_issuing_takes_the_same_queries_for_three_or_thirty_people(alice, viettel, active_key):
    def queries_for(count: int, start: int) -> int:
        request = unissued_approved_request(
            organization=viettel, created_by=alice, count=count, start=start
        )
        with CaptureQueriesContext(connection) as ctx:
            assert len(permit_issue_for_request(request=request, actor=None)) == count
        return len(ctx.captured_queries)

    queries_for(1, 900)  # the serial counter row is created once
    assert queries_for(3, 0) == queries_for(30, 100)


# --- serial numbers --------------------------------------------------------------------------


def test_serials_are_hn_seven_digits_and_a_damm_check_digit():
    serial = serial_for_number(1)
    assert len(serial) == 10 and serial.startswith("HN") and serial[2:].isdigit()
    assert serial_is_well_formed(serial)
    assert damm_check_digit("572") == "4"  # Damm's published example


def test_the_check_digit_catches_a_mistyped_digit_and_a_swap_of_neighbours():
    serial = serial_for_number(12345)
    digits = serial[2:]
    for i in range(8):
        for d in "0123456789":
            if d != digits[i]:
                assert not serial_is_well_formed("HN" + digits[:i] + d + digits[i + 1 :])
    for i in range(7):
        if digits[i] != digits[i + 1]:
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            assert not serial_is_well_formed("HN" + swapped)


def test_consecutive_numbers_give_distinct_serials_that_do_not_read_as_a_count():
    serials = [serial_for_number(n) for n in range(1, 20001)]
    assert len(set(serials)) == len(serials)
    assert serials[0] != "HN00000013"  # not simply the counter
    assert all(credential._SERIAL.fullmatch(s) for s in serials)


def test_the_counter_hands_out_consecutive_blocks_that_never_overlap(db):
    first = serial_numbers_reserve(count=5)
    second = serial_numbers_reserve(count=3)
    assert list(first) == [1, 2, 3, 4, 5] and list(second) == [6, 7, 8]
    assert SerialCounter.objects.get(name="permit").value == 8


def test_a_rolled_back_reservation_leaves_the_counter_as_it_was(db):
    try:
        with transaction.atomic():
            serial_numbers_reserve(count=10)
            raise RuntimeError
    except RuntimeError:
        pass
    again = serial_numbers_reserve(count=2)
    assert list(again) == [1, 2]  # the rollback undid the reservation: nothing was issued


# --- concurrency on PostgreSQL ---------------------------------------------------------------


def _in_threads(*jobs: Any) -> list[Any]:
    """Run each job in its own thread and connection, all released at once by a barrier."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Any) -> None:
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_issuances_of_one_request_issue_each_permit_once(
    on_postgres, alice, viettel
):
    signing_key_create(actor=None)
    request = unissued_approved_request(organization=viettel, created_by=alice, count=20)

    results = _in_threads(
        lambda: permit_issue_for_request(request=request, actor=None),
        lambda: permit_issue_for_request(request=request, actor=None),
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r) for r in results) == [0, 20]
    permits = Permit.objects.filter(request=request)
    assert permits.count() == 20
    assert permits.values("entry").distinct().count() == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_issuances_of_two_requests_never_share_a_serial(on_postgres, alice, viettel):
    signing_key_create(actor=None)
    one = unissued_approved_request(organization=viettel, created_by=alice, count=30)
    two = unissued_approved_request(organization=viettel, created_by=alice, count=30, start=100)

    results = _in_threads(
        lambda: permit_issue_for_request(request=one, actor=None),
        lambda: permit_issue_for_request(request=two, actor=None),
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    serials = list(Permit.objects.values_list("serial", flat=True))
    assert len(serials) == 60 == len(set(serials))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_counter_reservations_get_disjoint_blocks(on_postgres):
    serial_numbers_reserve(count=1)  # the counter row exists; both now race for its lock

    def reserve() -> range:
        with transaction.atomic():
            block = serial_numbers_reserve(count=50)
            threading.Event().wait(0.2)  # hold the lock while the other thread waits
            return block

    one, two = _in_threads(reserve, reserve)
    assert isinstance(one, range) and isinstance(two, range)
    assert not set(one) & set(two)
    assert SerialCounter.objects.get(name="permit").value == 101


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_first_reservations_create_the_counter_once(on_postgres):
    one, two = _in_threads(
        lambda: serial_numbers_reserve(count=5), lambda: serial_numbers_reserve(count=5)
    )
    assert sorted([list(one), list(two)]) == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
