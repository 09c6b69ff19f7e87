"""Signing keys: create, rotate, retire, mark compromised; load them to sign and to verify.

A key is `active` (signs new permits; at most one, a database constraint), `retired` (signs
nothing new, still verifies what it signed until that expires) or `compromised` (trusted for
nothing: it leaves the JWKS and verification_keys(), so its permits answer `unknown_key`, as
docs/permit-format.md §1 says of a key "removed from the set").

The private half is stored as a Fernet token of its PKCS#8 PEM, under
settings.PERMIT_KEY_ENCRYPTION_KEY; a development set-up without that setting (DEBUG only,
the settings module refuses it otherwise) derives a Fernet key from SECRET_KEY. Every change
writes an audit event naming the kid, which is public.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orgs.audit import audit_record
from orgs.errors import Conflict, DomainError, NotFound
from permits import credential
from permits.models import KeyStatus, SigningKey

TRUSTED_STATUSES = (KeyStatus.ACTIVE, KeyStatus.RETIRED)


class NoActiveSigningKey(DomainError):
    """Nothing can be signed until an operator runs `manage.py signing_key create|rotate`."""

    status = 503
    code = "no_signing_key"


# --- encryption at rest -----------------------------------------------------------------


def _fernet() -> Fernet:
    configured = settings.PERMIT_KEY_ENCRYPTION_KEY
    if configured:
        try:
            return Fernet(configured)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                "PERMIT_KEY_ENCRYPTION_KEY is not a Fernet key (urlsafe base64 of 32 bytes)."
            ) from exc
    if not settings.DEBUG:  # settings.py refuses this already; never fall back in production
        raise ImproperlyConfigured("PERMIT_KEY_ENCRYPTION_KEY is not set.")
    derived = hashlib.sha256(settings.SECRET_KEY.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _encrypt_private_key(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _fernet().encrypt(pem)


def _decrypt_private_key(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    try:
        pem = _fernet().decrypt(bytes(key.private_key_encrypted))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            f"Cannot decrypt signing key {key.kid}: PERMIT_KEY_ENCRYPTION_KEY is not the key "
            "it was stored with."
        ) from exc
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured(f"Signing key {key.kid} is not an EC key.")
    # A row whose private half does not match its kid would sign permits nobody can verify.
    if credential.kid_b64(credential.key_id(private_key.public_key())) != key.kid:
        raise ImproperlyConfigured(f"Signing key {key.kid}: private key does not match its kid.")
    return private_key


@lru_cache(maxsize=64)
def _public_key(kid: str, pem: str) -> ec.EllipticCurvePublicKey:
    # A kid names one public key for ever, so parsing it once per process is safe.
    public_key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ImproperlyConfigured(f"Signing key {kid} is not an EC key.")
    if credential.kid_b64(credential.key_id(public_key)) != kid:
        raise ImproperlyConfigured(f"Signing key {kid}: public key does not match its kid.")
    return public_key


# --- writes -----------------------------------------------------------------------------


def _insert_active_key() -> SigningKey:
    """A new active key. The caller holds the transaction and has retired the old one."""
    private_key = credential.generate_private_key()
    public_key = private_key.public_key()
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    try:
        with transaction.atomic():  # savepoint: the caller's transaction survives a refusal
            return SigningKey.objects.create(
                kid=credential.kid_b64(credential.key_id(public_key)),
                public_key_pem=pem,
                private_key_encrypted=_encrypt_private_key(private_key),
                status=KeyStatus.ACTIVE,
            )
    except IntegrityError as exc:  # signing_key_one_active: somebody else was quicker
        raise Conflict(
            _("Đã có một khóa đang ký; dùng “signing_key rotate” để thay khóa.")
        ) from exc


def _locked_key(kid: str) -> SigningKey:
    key = SigningKey.objects.select_for_update().filter(kid=kid).first()
    if key is None:
        raise NotFound(_("Không có khóa ký %(kid)s.") % {"kid": kid})
    return key


@transaction.atomic
def signing_key_create(*, actor: Any | None) -> SigningKey:
    """Create the first active key. Writes SigningKey and an audit event.

    Refuses (Conflict) when a key is already active: replacing it is signing_key_rotate.
    """
    if SigningKey.objects.select_for_update().filter(status=KeyStatus.ACTIVE).exists():
        raise Conflict(_("Đã có một khóa đang ký; dùng “signing_key rotate” để thay khóa."))
    key = _insert_active_key()
    audit_record(
        actor=actor, action="signing_key.create", object_type="signing_key", object_id=key.kid
    )
    return key


@transaction.atomic
def signing_key_rotate(*, actor: Any | None) -> SigningKey:
    """Retire the active key (if any) and create a new active one, in one transaction.

    Writes both SigningKey rows and one audit event. Permits signed with the old key stay
    valid: it is retired, not withdrawn. With no active key (after a compromise), it is a
    create.
    """
    old = SigningKey.objects.select_for_update().filter(status=KeyStatus.ACTIVE).first()
    if old is not None:
        old.status, old.retired_at = KeyStatus.RETIRED, timezone.now()
        old.save(update_fields=["status", "retired_at"])
    key = _insert_active_key()
    audit_record(
        actor=actor,
        action="signing_key.rotate",
        object_type="signing_key",
        object_id=key.kid,
        details={"retired": old.kid if old else None},
    )
    return key


@transaction.atomic
def signing_key_retire(*, actor: Any | None, kid: str) -> SigningKey:
    """Stop signing with an active key; its permits keep verifying until they expire.

    Writes SigningKey and an audit event. Retiring the active key without a successor leaves
    nothing to sign with: issuing then fails until `create` or `rotate`.
    """
    key = _locked_key(kid)
    if key.status != KeyStatus.ACTIVE:
        raise Conflict(
            _("Khóa %(kid)s không phải khóa đang ký (trạng thái: %(status)s).")
            % {"kid": kid, "status": key.status}
        )
    key.status, key.retired_at = KeyStatus.RETIRED, timezone.now()
    key.save(update_fields=["status", "retired_at"])
    audit_record(actor=actor, action="signing_key.retire", object_type="signing_key", object_id=kid)
    return key


@transaction.atomic
def signing_key_compromise(*, actor: Any | None, kid: str) -> SigningKey:
    """Withdraw all trust from a key, active or retired. Writes SigningKey and an audit event.

    The key leaves the JWKS and verification_keys() at once, so every permit it signed
    answers `unknown_key` from then on, online and (after their next JWKS fetch) offline.
    """
    key = _locked_key(kid)
    if key.status == KeyStatus.COMPROMISED:
        raise Conflict(_("Khóa %(kid)s đã được đánh dấu bị lộ.") % {"kid": kid})
    previous = key.status
    key.status, key.compromised_at = KeyStatus.COMPROMISED, timezone.now()
    key.save(update_fields=["status", "compromised_at"])
    audit_record(
        actor=actor,
        action="signing_key.compromise",
        object_type="signing_key",
        object_id=kid,
        details={"previous_status": previous},
    )
    return key


def signing_key_ensure(*, actor: Any | None = None) -> SigningKey:
    """The active key, created first if there is none (start-up of `make run`)."""
    key = SigningKey.objects.filter(status=KeyStatus.ACTIVE).first()
    if key is not None:
        return key
    try:
        return signing_key_create(actor=actor)
    except Conflict:  # another process created one between our read and our insert
        return SigningKey.objects.get(status=KeyStatus.ACTIVE)


# --- reads ------------------------------------------------------------------------------


def active_signing_key() -> tuple[SigningKey, ec.EllipticCurvePrivateKey]:
    """The key that signs new permits and revocation lists, decrypted.

    Raises NoActiveSigningKey when none is active.
    """
    key = SigningKey.objects.filter(status=KeyStatus.ACTIVE).first()
    if key is None:
        raise NoActiveSigningKey(
            _("Chưa có khóa ký đang hoạt động; quản trị viên cần chạy “signing_key create”.")
        )
    return key, _decrypt_private_key(key)


def _trusted_keys() -> list[SigningKey]:
    # Active first, then the newest retired ones: the order the JWKS lists them in.
    keys = SigningKey.objects.filter(status__in=TRUSTED_STATUSES).only(
        "kid", "public_key_pem", "status", "created_at"
    )
    return sorted(keys, key=lambda k: (k.status != KeyStatus.ACTIVE, -k.created_at.timestamp()))


def verification_keys() -> dict[bytes, ec.EllipticCurvePublicKey]:
    """Keys a permit may be verified with, by raw 8-byte kid: active and retired, never
    compromised."""
    return {
        credential.kid_from_b64(k.kid): _public_key(k.kid, k.public_key_pem)
        for k in _trusted_keys()
    }


def jwks() -> dict[str, list[dict[str, str]]]:
    """The public key set of GET /.well-known/permit-keys.json: public halves only."""
    return {
        "keys": [
            credential.public_jwk(_public_key(k.kid, k.public_key_pem), status=str(k.status))
            for k in _trusted_keys()
        ]
    }
