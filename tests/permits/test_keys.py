"""Signing keys (permits/services/keys.py and `manage.py signing_key`).

Decision tested here: a compromised key is removed from the trusted set, so every permit it
signed answers `unknown_key` (docs/permit-format.md §1: "A key that must no longer be
trusted at all is removed from the set"), never `invalid_signature` — its signatures are
mathematically fine, it is the key that is no longer believed.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from orgs.errors import Conflict, NotFound
from orgs.models import AuditEvent
from permits import credential
from permits.credential import Outcome
from permits.models import KeyStatus, Permit, SigningKey
from permits.services.issuance import permit_issue_for_request
from permits.services.keys import (
    active_signing_key,
    jwks,
    signing_key_compromise,
    signing_key_create,
    signing_key_ensure,
    signing_key_retire,
    signing_key_rotate,
    verification_keys,
)
from tests.permits.test_issuance import unissued_approved_request

pytestmark = pytest.mark.django_db


def issue(organization: Any, created_by: Any, *, start: int = 0, count: int = 1) -> list[Permit]:
    request = unissued_approved_request(
        organization=organization, created_by=created_by, count=count, start=start
    )
    return permit_issue_for_request(request=request, actor=None)


def outcome(permit: Permit, *, days: int = 0) -> Outcome:
    today = permit.valid_from + timedelta(days=days)
    return credential.verify(permit.qr_text, verification_keys(), today=today).outcome


def run(*args: str) -> str:
    out = StringIO()
    call_command("signing_key", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- storage -------------------------------------------------------------------------------


def test_the_private_key_is_stored_encrypted(settings):
    key = signing_key_create(actor=None)
    stored = bytes(SigningKey.objects.get(pk=key.pk).private_key_encrypted)
    assert b"PRIVATE KEY" not in stored and b"-----BEGIN" not in stored
    pem = Fernet(settings.PERMIT_KEY_ENCRYPTION_KEY).decrypt(stored)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    private_key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(private_key.curve, ec.SECP256R1)


def test_the_kid_is_derived_from_the_public_key(db):
    key = signing_key_create(actor=None)
    public_key = serialization.load_pem_public_key(key.public_key_pem.encode())
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()[:8]).rstrip(b"=")
    assert key.kid == expected.decode()
    assert "PRIVATE" not in key.public_key_pem


def test_in_development_without_an_encryption_key_it_derives_one_from_the_secret_key(settings):
    settings.PERMIT_KEY_ENCRYPTION_KEY = ""
    settings.DEBUG = True
    key = signing_key_create(actor=None)
    derived = base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())
    assert Fernet(derived).decrypt(bytes(key.private_key_encrypted)).startswith(b"-----BEGIN")
    assert active_signing_key()[0] == key


def test_a_different_encryption_key_fails_loudly_instead_of_signing(settings):
    signing_key_create(actor=None)
    settings.PERMIT_KEY_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(ImproperlyConfigured, match="PERMIT_KEY_ENCRYPTION_KEY"):
        active_signing_key()


def test_a_malformed_encryption_key_fails_loudly(settings):
    settings.PERMIT_KEY_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured, match="Fernet"):
        signing_key_create(actor=None)
    assert not SigningKey.objects.exists()


# --- create, rotate, retire, compromise, ensure ------------------------------------------


def test_create_makes_the_active_key_and_records_it(db):
    key = signing_key_create(actor=None)
    assert key.status == KeyStatus.ACTIVE
    assert active_signing_key()[0] == key
    assert AuditEvent.objects.filter(action="signing_key.create", object_id=key.kid).exists()


def test_create_refuses_while_a_key_is_active(db):
    key = signing_key_create(actor=None)
    with pytest.raises(Conflict):
        signing_key_create(actor=None)
    assert list(SigningKey.objects.all()) == [key]


def test_rotation_keeps_old_permits_valid_and_signs_new_ones_with_the_new_key(alice, viettel):
    old_key = signing_key_create(actor=None)
    (old_permit,) = issue(viettel, alice)
    new_key = signing_key_rotate(actor=None)
    (new_permit,) = issue(viettel, alice, start=10)

    old_key.refresh_from_db()
    assert old_key.status == KeyStatus.RETIRED and old_key.retired_at is not None
    assert new_key.status == KeyStatus.ACTIVE
    assert old_permit.kid == old_key.kid and new_permit.kid == new_key.kid
    assert credential.decode(new_permit.qr_text)[0] == credential.kid_from_b64(new_key.kid)
    assert outcome(old_permit) == Outcome.VALID
    assert outcome(new_permit) == Outcome.VALID
    event = AuditEvent.objects.get(action="signing_key.rotate")
    assert (event.object_id, event.details) == (new_key.kid, {"retired": old_key.kid})


def test_rotation_without_an_active_key_creates_one(db):
    key = signing_key_create(actor=None)
    signing_key_compromise(actor=None, kid=key.kid)
    new_key = signing_key_rotate(actor=None)
    assert active_signing_key()[0] == new_key


def test_a_retired_key_signs_nothing_new_but_still_verifies(alice, viettel):
    key = signing_key_create(actor=None)
    (permit,) = issue(viettel, alice)
    signing_key_retire(actor=None, kid=key.kid)
    assert outcome(permit) == Outcome.VALID
    assert not SigningKey.objects.filter(status=KeyStatus.ACTIVE).exists()
    assert AuditEvent.objects.filter(action="signing_key.retire", object_id=key.kid).exists()


def test_only_the_active_key_can_be_retired(db):
    key = signing_key_create(actor=None)
    signing_key_rotate(actor=None)
    with pytest.raises(Conflict):
        signing_key_retire(actor=None, kid=key.kid)
    with pytest.raises(NotFound):
        signing_key_retire(actor=None, kid="AAAAAAAAAAA")


def test_the_permits_of_a_compromised_key_answer_unknown_key(alice, viettel):
    key = signing_key_create(actor=None)
    (permit,) = issue(viettel, alice)
    signing_key_rotate(actor=None)
    (later,) = issue(viettel, alice, start=10)

    signing_key_compromise(actor=None, kid=key.kid)

    assert outcome(permit) == Outcome.UNKNOWN_KEY
    assert outcome(later) == Outcome.VALID  # the successor key is unaffected
    assert credential.kid_from_b64(key.kid) not in verification_keys()
    event = AuditEvent.objects.get(action="signing_key.compromise")
    assert (event.object_id, event.details) == (key.kid, {"previous_status": "retired"})


def test_compromising_the_active_key_stops_issuing_until_a_rotation(alice, viettel):
    key = signing_key_create(actor=None)
    signing_key_compromise(actor=None, kid=key.kid)
    assert not SigningKey.objects.filter(status=KeyStatus.ACTIVE).exists()
    with pytest.raises(Conflict):
        signing_key_compromise(actor=None, kid=key.kid)


def test_ensure_creates_a_key_only_when_none_is_active(db):
    first = signing_key_ensure()
    assert signing_key_ensure() == first
    assert SigningKey.objects.count() == 1
    signing_key_retire(actor=None, kid=first.kid)
    second = signing_key_ensure()
    assert second != first and second.status == KeyStatus.ACTIVE


# --- verification outcomes through verification_keys() -------------------------------------


def test_each_outcome_through_the_published_keys(alice, viettel):
    signing_key_create(actor=None)
    (permit,) = issue(viettel, alice)
    span = (permit.valid_to - permit.valid_from).days

    assert outcome(permit) == Outcome.VALID
    assert outcome(permit, days=-1) == Outcome.NOT_YET_VALID
    assert outcome(permit, days=span + 1) == Outcome.EXPIRED

    forged = credential.encode(
        credential.decode(permit.qr_text)[1], credential.generate_private_key()
    )
    keys = verification_keys()
    assert credential.verify(forged, keys, today=permit.valid_from).outcome == Outcome.UNKNOWN_KEY

    # The right kid, but the payload changed after signing: the signature no longer holds.
    _kid, claims = credential.decode(permit.qr_text)
    private_key = active_signing_key()[1]
    other = credential.encode(
        credential.Claims(**{**claims.__dict__, "full_name": "Kẻ Mạo Danh"}), private_key
    )
    cose = credential.b45decode(other[4:])
    genuine = credential.b45decode(permit.qr_text[4:])
    spliced = genuine[:-64] + cose[-64:]  # the genuine payload with another permit's signature
    tampered = "TP1:" + credential.b45encode(spliced)
    assert credential.verify(tampered, keys, today=permit.valid_from).outcome == (
        Outcome.INVALID_SIGNATURE
    )
    assert credential.verify("TP1:???", keys, today=permit.valid_from).outcome == (
        Outcome.MALFORMED
    )


# --- the public key set ----------------------------------------------------------------------


def test_the_key_set_lists_active_and_retired_keys_never_compromised_nor_private(db):
    retired = signing_key_create(actor=None)
    compromised = signing_key_rotate(actor=None)
    current = signing_key_rotate(actor=None)
    signing_key_compromise(actor=None, kid=compromised.kid)

    keys = jwks()["keys"]

    assert [(k["kid"], k["status"]) for k in keys] == [
        (current.kid, "active"),
        (retired.kid, "retired"),
    ]
    for k in keys:
        assert set(k) == {"kty", "crv", "x", "y", "kid", "alg", "use", "status"}
        assert (k["kty"], k["crv"], k["alg"], k["use"]) == ("EC", "P-256", "ES256", "sig")
    assert credential.keys_from_jwks(jwks()) == verification_keys()


# --- the command -----------------------------------------------------------------------------


def test_the_command_creates_lists_rotates_and_retires(db):
    kid = run("create").split()[0]
    assert SigningKey.objects.get(kid=kid).status == KeyStatus.ACTIVE
    new_kid = run("rotate").split()[0]
    listing = run("list")
    assert f"{new_kid}\tactive" in listing and f"{kid}\tretired" in listing
    run("retire", new_kid)
    assert SigningKey.objects.get(kid=new_kid).status == KeyStatus.RETIRED
    assert run("ensure").split()[0] not in (kid, new_kid)


def test_the_command_marks_a_key_compromised(db):
    kid = run("create").split()[0]
    assert "compromised" in run("compromise", kid)
    assert SigningKey.objects.get(kid=kid).status == KeyStatus.COMPROMISED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create",), "rotate"),
        (("retire",), "needs a KID"),
        (("retire", "AAAAAAAAAAA"), "AAAAAAAAAAA"),
        (("rotate", "AAAAAAAAAAA"), "takes no KID"),
        (("compromise", "nope"), "nope"),
        (("explode",), "invalid choice"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line_and_changes_nothing(args, message):
    key = signing_key_create(actor=None)
    with pytest.raises(CommandError, match=message) as failure:
        run(*args)
    assert "\n" not in str(failure.value)
    assert list(SigningKey.objects.values_list("kid", "status")) == [(key.kid, "active")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_rotations_leave_exactly_one_active_key(on_postgres):
    from tests.permits.test_issuance import _in_threads

    first = signing_key_create(actor=None)
    results = _in_threads(
        lambda: signing_key_rotate(actor=None), lambda: signing_key_rotate(actor=None)
    )
    assert all(isinstance(r, SigningKey | Conflict) for r in results), results
    assert SigningKey.objects.filter(status=KeyStatus.ACTIVE).count() == 1
    first.refresh_from_db()
    assert first.status == KeyStatus.RETIRED


def test_a_kid_starting_with_a_dash_is_taken_as_a_kid(db):
    """Base64url key ids may begin with "-"; the command must not read them as options."""
    kid = run("create").split()[0]
    SigningKey.objects.filter(kid=kid).update(kid="-9wGqXbV1kY")
    assert "-9wGqXbV1kY" in run("retire", "-9wGqXbV1kY")
    assert SigningKey.objects.get(kid="-9wGqXbV1kY").status == "retired"
