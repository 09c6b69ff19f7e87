"""GET /.well-known/permit-keys.json (public JWKS) and GET /api/v1/revocations/ (signed list)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from rest_framework.test import APIClient

from permits import credential
from permits.models import Permit
from permits.services.issuance import permit_issue_for_request, permit_revoke
from permits.services.keys import (
    signing_key_compromise,
    signing_key_create,
    signing_key_retire,
    signing_key_rotate,
)
from tests.permits.test_issuance import key_from_jwk, unissued_approved_request

pytestmark = pytest.mark.django_db

JWKS_URL = "/.well-known/permit-keys.json"
REVOCATIONS_URL = "/api/v1/revocations/"


def api_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


# --- the key set ------------------------------------------------------------------------------


def test_anyone_may_fetch_the_key_set_and_caches_may_keep_it_five_minutes(db):
    key = signing_key_create(actor=None)
    response = APIClient().get(JWKS_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Access-Control-Allow-Origin"] == "*"
    (jwk,) = response.json()["keys"]
    assert jwk["kid"] == key.kid and jwk["status"] == "active"
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    key_from_jwk(jwk)  # the kid is the SPKI hash of x, y


def test_the_key_set_lists_active_and_retired_never_compromised(db):
    retired = signing_key_create(actor=None)
    compromised = signing_key_rotate(actor=None)
    active = signing_key_rotate(actor=None)
    signing_key_compromise(actor=None, kid=compromised.kid)

    keys = APIClient().get(JWKS_URL).json()["keys"]

    assert {(k["kid"], k["status"]) for k in keys} == {
        (active.kid, "active"),
        (retired.kid, "retired"),
    }


def test_the_key_set_holds_no_private_material(db):
    key = signing_key_create(actor=None)
    body = APIClient().get(JWKS_URL).content
    for k in json.loads(body)["keys"]:
        assert set(k) == {"kty", "crv", "x", "y", "kid", "alg", "use", "status"}
    assert b"PRIVATE" not in body and b'"d"' not in body
    assert bytes(key.private_key_encrypted)[:16] not in body


def test_an_empty_key_set_is_still_a_valid_jwks(db):
    assert APIClient().get(JWKS_URL).json() == {"keys": []}


def test_the_key_set_is_read_only(db):
    assert APIClient().post(JWKS_URL).status_code == 405


def test_a_verifier_trusts_exactly_the_published_keys(alice, viettel):
    signing_key_create(actor=None)
    request = unissued_approved_request(organization=viettel, created_by=alice)
    permit = permit_issue_for_request(request=request, actor=None)[0]
    keys = credential.keys_from_jwks(APIClient().get(JWKS_URL).json())
    verdict = credential.verify(permit.qr_text, keys, today=permit.valid_from)
    assert verdict.outcome == credential.Outcome.VALID


# --- the signed revocation list ------------------------------------------------------------------


@pytest.fixture
def revoked(alice, viettel) -> list[Permit]:
    signing_key_create(actor=None)
    request = unissued_approved_request(organization=viettel, created_by=alice, count=4)
    permits = permit_issue_for_request(request=request, actor=None)
    for permit in permits[:2]:
        permit_revoke(actor=alice, permit=permit, reason="Nghỉ việc")
    return permits[:2]


def test_an_officer_gets_a_signed_list_that_verifies_with_the_jwks_key(erin, revoked):
    response = api_for(erin).get(REVOCATIONS_URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()
    assert set(body) == {"issued_at", "serials", "kid", "signature"}
    assert sorted(body["serials"]) == sorted(p.serial for p in revoked)

    (jwk,) = [k for k in APIClient().get(JWKS_URL).json()["keys"] if k["kid"] == body["kid"]]
    message = credential.revocation_list_message(
        issued_at=body["issued_at"], serials=body["serials"]
    )
    raw = base64.urlsafe_b64decode(body["signature"] + "=" * (-len(body["signature"]) % 4))
    der = utils.encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key_from_jwk(jwk).verify(der, message, ec.ECDSA(hashes.SHA256()))


def test_a_tampered_list_no_longer_verifies(erin, revoked):
    body = api_for(erin).get(REVOCATIONS_URL).json()
    keys = credential.keys_from_jwks(APIClient().get(JWKS_URL).json())
    raw = base64.urlsafe_b64decode(body["signature"] + "=" * (-len(body["signature"]) % 4))
    shorter = credential.revocation_list_message(
        issued_at=body["issued_at"], serials=body["serials"][1:]
    )
    assert not credential.verify_bytes(shorter, raw, keys[credential.kid_from_b64(body["kid"])])


def test_reviewers_may_fetch_the_list_hr_may_not_and_anonymous_callers_must_sign_in(
    alice, charlie, dave, revoked
):
    assert api_for(charlie).get(REVOCATIONS_URL).status_code == 200
    assert api_for(dave).get(REVOCATIONS_URL).status_code == 200
    assert api_for(alice).get(REVOCATIONS_URL).status_code == 403
    assert APIClient().get(REVOCATIONS_URL).status_code == 401


def test_without_an_active_key_the_list_answers_503_in_the_error_shape(erin):
    key = signing_key_create(actor=None)
    signing_key_retire(actor=None, kid=key.kid)
    response = api_for(erin).get(REVOCATIONS_URL)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_signing_key"
