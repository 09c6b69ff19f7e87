"""The TP1 permit credential: build, sign, encode, decode and verify the QR text.

docs/permit-format.md specifies the format so that a checkpoint device, a browser or another
agency can verify a permit with nothing but that page and the published JWKS; this module is
the reference implementation. It is a pure core: no Django, no apps, and keys and "today"
come in as arguments, so it is tested with golden vectors and works offline.

QR text = "TP1:" + base45(COSE_Sign1); COSE_Sign1 = tag 18 [protected, {}, payload, sig].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

PREFIX = "TP1:"
MAX_TEXT_LENGTH = 4296  # the most a QR symbol holds (40-L, alphanumeric): longer is no scan
BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BASE45_VALUE = {c: i for i, c in enumerate(BASE45_ALPHABET)}
_ALG_ES256 = -7
_EPOCH = date(1970, 1, 1)
_MAX_DAYS = (date.max - _EPOCH).days

# Field rules, the same for encoding and decoding: a text decodes only if this module could
# have produced it. The serial cap is part of the QR version 12 budget (permit-format.md).
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,11}")
_ID_LAST4 = re.compile(r"[0-9]{4}")
_PLATE = re.compile(r"[A-Z0-9]{4,12}")
_AREA = re.compile(r"[0-9]{3}")
_MAX_NAME, _MAX_ORG, _MAX_AREA = 64, 16, 999
_MAX_CBOR_DEPTH = 16  # the payload has no nesting of its own; this bounds hostile input


class Outcome(StrEnum):
    """A verifier's verdict. After VALID, listed in the order verify() checks them."""

    VALID = "valid"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    INVALID_SIGNATURE = "invalid_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Claims:
    """What a permit asserts. Dates are local (Asia/Ho_Chi_Minh) calendar dates.

    ``areas`` holds 3-digit district codes such as "005", () meaning the whole city.
    ``valid_to`` is inclusive: the permit is good through the end of that day.
    """

    serial: str
    full_name: str
    id_last4: str
    date_of_birth: date
    org_short_name: str
    valid_from: date
    valid_to: date
    areas: tuple[str, ...]
    vehicle_plate: str | None = None


@dataclass(frozen=True)
class Verification:
    """The verdict on one text.

    ``claims`` is set only once the signature holds (NOT_YET_VALID, EXPIRED, VALID), so a
    forged name is never shown to an officer; ``kid`` whenever the text was well-formed.
    """

    outcome: Outcome
    claims: Claims | None
    kid: bytes | None
    reason: str


class CredentialError(Exception):
    """Base of the errors this module raises."""


class Malformed(CredentialError):
    """The text is not a well-formed TP1 credential (nothing about its signature)."""


# --- keys and JWKS ----------------------------------------------------------------------


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ES256 (P-256) signing key."""
    return ec.generate_private_key(ec.SECP256R1())


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """First 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo.

    Derived, not assigned, so anyone can check that a JWKS kid belongs to its key; 8 bytes
    keep the QR small while making accidental collisions between our few keys impossible.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()[:8]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: object) -> bytes:
    """Strict unpadded base64url: one spelling per value, so kids compare as strings."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    if _b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def kid_b64(kid: bytes) -> str:
    """The JWKS spelling of a kid: unpadded base64url of its 8 bytes."""
    return _b64url(kid)


def kid_from_b64(s: str) -> bytes:
    """Inverse of kid_b64; ValueError unless ``s`` spells exactly 8 bytes."""
    kid = _b64url_decode(s)
    if len(kid) != 8:
        raise ValueError("a kid is 8 bytes")
    return kid


def _require_p256(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("TP1 keys are ECDSA P-256")


def public_jwk(public_key: ec.EllipticCurvePublicKey, *, status: str) -> dict[str, str]:
    """One JWKS entry; ``status`` tells devices whether the key still signs new permits."""
    _require_p256(public_key)
    if status not in ("active", "retired"):
        raise ValueError("status is 'active' or 'retired'")
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "kid": kid_b64(key_id(public_key)),
        "alg": "ES256",
        "use": "sig",
        "status": status,
    }


def _key_from_jwk(jwk: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("not a P-256 key")
    if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
        raise ValueError("not an ES256 signing key")
    x, y = _b64url_decode(jwk.get("x")), _b64url_decode(jwk.get("y"))
    if len(x) != 32 or len(y) != 32:
        raise ValueError("coordinates are 32 bytes")
    point = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    )
    key = point.public_key()  # ValueError if the point is not on the curve
    if jwk.get("kid") != kid_b64(key_id(key)):
        raise ValueError("kid does not match the key")
    return key


def keys_from_jwks(jwks: dict[str, Any]) -> dict[bytes, ec.EllipticCurvePublicKey]:
    """The keys of a JWKS by kid, whatever their status.

    Retired keys stay in: they sign nothing new, but what they signed is good until it
    expires. Malformed entries, other key types and entries whose kid does not match their
    key are skipped, so one bad entry cannot stop a device from verifying the rest.
    """
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    keys: dict[bytes, ec.EllipticCurvePublicKey] = {}
    for entry in entries if isinstance(entries, list) else []:
        try:
            key = _key_from_jwk(entry)
        except (ValueError, TypeError):
            continue
        keys[key_id(key)] = key
    return keys


# --- raw signatures and the revocation list ---------------------------------------------


def sign_bytes(data: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """ES256 over ``data`` as 64 bytes r||s, the form COSE and WebCrypto use (not DER)."""
    _require_p256(private_key)
    r, s = utils.decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_bytes(data: bytes, signature: bytes, public_key: ec.EllipticCurvePublicKey) -> bool:
    """True iff ``signature`` is a valid 64-byte r||s ES256 signature of ``data``."""
    if not isinstance(signature, bytes) or len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32]), int.from_bytes(signature[32:])
    der = utils.encode_dss_signature(r, s)
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def revocation_list_message(*, issued_at: str, serials: list[str]) -> bytes:
    """The bytes signed for GET /api/v1/revocations/.

    UTF-8 of ``{"issued_at":"...","serials":[...]}``, no spaces, serials sorted. All values
    are ASCII without quotes or backslashes, so a browser's JSON.stringify of the same object
    gives the very same bytes and WebCrypto can check the signature.
    """
    try:
        aware = datetime.fromisoformat(issued_at).tzinfo is not None
    except (TypeError, ValueError):
        aware = False
    if not aware or not issued_at.isascii():
        raise ValueError("issued_at is an ASCII ISO 8601 date-time with an offset")
    if not all(isinstance(s, str) and _SERIAL.fullmatch(s) for s in serials):
        raise ValueError("serials hold something that is not a serial")
    if len(set(serials)) != len(serials):
        raise ValueError("serials repeat")
    body = {"issued_at": issued_at, "serials": sorted(serials)}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


# --- base45 (RFC 9285) ------------------------------------------------------------------


def b45encode(data: bytes) -> str:
    """Every 2 bytes become 3 characters of the QR alphanumeric set, least significant first."""
    out = []
    for i in range(0, len(data), 2):
        n, width = (data[i] * 256 + data[i + 1], 3) if i + 1 < len(data) else (data[i], 2)
        for _ in range(width):
            n, digit = divmod(n, 45)
            out.append(BASE45_ALPHABET[digit])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Inverse of b45encode; ValueError on any text b45encode could not have produced."""
    if len(text) % 3 == 1:
        raise ValueError("base45 length leaves a single character")
    try:
        values = [_BASE45_VALUE[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"not a base45 character: {exc.args[0]!r}") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(chunk))
        size = len(chunk) - 1  # 3 characters carry 2 bytes, 2 carry 1
        if n >= 256**size:
            raise ValueError("base45 group out of range")
        out += n.to_bytes(size, "big")
    return bytes(out)


# --- claims <-> payload -----------------------------------------------------------------


def _check_text(value: object, field: str, max_len: int) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise ValueError(f"{field} is text of 1 to {max_len} characters")
    if value != value.strip() or any(unicodedata.category(c)[0] == "C" for c in value):
        raise ValueError(f"{field} has surrounding spaces or control characters")
    if not unicodedata.is_normalized("NFC", value):
        raise ValueError(f"{field} is not NFC")


def _check_date(value: object, field: str, earliest: date) -> None:
    # datetime is a date subclass; a timestamp here means a caller mixed up types.
    if not isinstance(value, date) or isinstance(value, datetime) or value < earliest:
        raise ValueError(f"{field} is a date from {earliest.isoformat()}")


def _check_claims(c: Claims) -> None:
    """The field rules, shared by encode (ValueError) and decode (Malformed)."""
    if not isinstance(c.serial, str) or not _SERIAL.fullmatch(c.serial):
        raise ValueError("serial is 1-12 ASCII letters, digits or '-'")
    _check_text(c.full_name, "full_name", _MAX_NAME)
    if not isinstance(c.id_last4, str) or not _ID_LAST4.fullmatch(c.id_last4):
        raise ValueError("id_last4 is 4 digits")
    _check_date(c.date_of_birth, "date_of_birth", date(1000, 1, 1))  # 8 digits as YYYYMMDD
    _check_text(c.org_short_name, "org_short_name", _MAX_ORG)
    _check_date(c.valid_from, "valid_from", _EPOCH)
    _check_date(c.valid_to, "valid_to", c.valid_from)
    if not isinstance(c.areas, tuple) or not all(
        isinstance(a, str) and _AREA.fullmatch(a) and a != "000" for a in c.areas
    ):
        raise ValueError("areas is a tuple of district codes '001' to '999'")
    if len(set(c.areas)) != len(c.areas):
        raise ValueError("areas repeat")
    plate = c.vehicle_plate
    if plate is not None and not (isinstance(plate, str) and _PLATE.fullmatch(plate)):
        raise ValueError("vehicle_plate is normalised: 4-12 of A-Z and 0-9")


def _payload(c: Claims) -> dict[int, Any]:
    dob = c.date_of_birth
    payload: dict[int, Any] = {
        1: c.serial,
        2: c.full_name,
        3: c.id_last4,
        4: dob.year * 10000 + dob.month * 100 + dob.day,
        5: c.org_short_name,
        6: (c.valid_from - _EPOCH).days,
        7: (c.valid_to - _EPOCH).days,
        8: [int(a) for a in c.areas],
    }
    if c.vehicle_plate is not None:
        payload[9] = c.vehicle_plate
    return payload


def _uint(value: object, what: str, maximum: int) -> int:
    if type(value) is not int or not 0 <= value <= maximum:  # type(): bool is not a uint
        raise ValueError(f"{what} is not a uint up to {maximum}")
    return value


def _claims(payload: object) -> Claims:
    """Payload map -> Claims, strictly typed; keys other than 1-9 are ignored."""
    if not isinstance(payload, Mapping):
        raise ValueError("payload is not a map")
    if missing := {1, 2, 3, 4, 5, 6, 7, 8} - payload.keys():
        raise ValueError(f"payload lacks keys {sorted(missing)}")
    if any(type(k) is not int for k in payload if k in range(1, 10)):
        raise ValueError("payload keys are integers")  # CBOR true would pass for 1
    dob = _uint(payload[4], "key 4", 99991231)
    try:
        date_of_birth = date(dob // 10000, dob // 100 % 100, dob % 100)
    except ValueError:
        raise ValueError("key 4 is not a YYYYMMDD date") from None
    if not isinstance(payload[8], list | tuple):
        raise ValueError("key 8 is not an array")
    if 9 in payload and not isinstance(payload[9], str):
        raise ValueError("key 9 is not text")  # absent means no vehicle; null is an error
    epoch = _EPOCH.toordinal()
    claims = Claims(
        serial=payload[1],
        full_name=payload[2],
        id_last4=payload[3],
        date_of_birth=date_of_birth,
        org_short_name=payload[5],
        valid_from=date.fromordinal(epoch + _uint(payload[6], "key 6", _MAX_DAYS)),
        valid_to=date.fromordinal(epoch + _uint(payload[7], "key 7", _MAX_DAYS)),
        areas=tuple(f"{_uint(a, 'an area', _MAX_AREA):03d}" for a in payload[8]),
        vehicle_plate=payload.get(9),
    )
    _check_claims(claims)
    return claims


# --- COSE_Sign1 -------------------------------------------------------------------------


def _dumps(obj: object) -> bytes:
    # Deterministic encoding (RFC 8949 §4.2.1): shortest forms, map keys sorted bytewise.
    return cbor2.dumps(obj, canonical=True)


def _loads(data: bytes) -> Any:
    return cbor2.loads(
        data, max_depth=_MAX_CBOR_DEPTH, allow_indefinite=False, allow_duplicate_keys=False
    )


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return _dumps(["Signature1", protected, b"", payload])


def _nfc(value: str) -> str:
    # Non-text is left as is, for _check_claims to refuse with a clear message.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def encode(claims: Claims, private_key: ec.EllipticCurvePrivateKey) -> str:
    """Sign ``claims`` and return the QR text "TP1:...". ValueError on bad claims.

    Text is NFC-normalised first: a name typed on Windows (NFC) and on macOS (NFD) must
    give the same signed bytes, or a reprint would not match the original.
    """
    _require_p256(private_key)
    name, org = _nfc(claims.full_name), _nfc(claims.org_short_name)
    claims = replace(claims, full_name=name, org_short_name=org)
    _check_claims(claims)
    protected = _dumps({1: _ALG_ES256, 4: key_id(private_key.public_key())})
    payload = _dumps(_payload(claims))
    signature = sign_bytes(_sig_structure(protected, payload), private_key)
    return PREFIX + b45encode(_dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])))


def _parse(text: object) -> tuple[bytes, Claims, bytes, bytes]:
    """(kid, claims, Sig_structure, signature): all but the signature check; only Malformed."""
    if not isinstance(text, str):
        raise Malformed("not text")
    text = text.strip("\r\n")  # scanners that type into a field end with CR/LF
    if len(text) > MAX_TEXT_LENGTH or not text.startswith(PREFIX):
        raise Malformed("not a TP1 text")
    try:
        cose = b45decode(text[len(PREFIX) :])
    except ValueError as exc:
        raise Malformed(f"bad base45: {exc}") from None
    try:
        outer = _loads(cose)
        ok = (
            isinstance(outer, cbor2.CBORTag)
            and outer.tag == 18
            and isinstance(outer.value, list | tuple)  # cbor2 freezes what a tag holds
            and len(outer.value) == 4
            # Re-encoding must give the same bytes: no trailing data, no other spellings.
            and _dumps(outer) == cose
        )
    except Exception:  # cbor2 raises many kinds of error on hostile input
        ok = False
    if not ok:
        raise Malformed("not a COSE_Sign1 in deterministic CBOR")
    protected, unprotected, payload, signature = outer.value
    if not all(isinstance(v, bytes) for v in (protected, payload, signature)):
        raise Malformed("COSE_Sign1 fields have the wrong types")
    if unprotected != {} or len(signature) != 64:
        raise Malformed("unprotected header not empty or signature not 64 bytes")
    try:
        header = _loads(protected)
        kid = header[4]
        ok = header == {1: _ALG_ES256, 4: kid} and _dumps(header) == protected
        ok = ok and type(header[1]) is int and isinstance(kid, bytes) and len(kid) == 8
    except Exception:
        ok = False
    if not ok:
        raise Malformed("protected header is not exactly {1: -7, 4: 8-byte kid}")
    try:
        claims = _claims(_loads(payload))
    except Exception as exc:
        raise Malformed(f"bad payload: {exc}") from None
    return kid, claims, _sig_structure(protected, payload), signature


def decode(text: str) -> tuple[bytes, Claims]:
    """(kid, claims) WITHOUT checking the signature; raises Malformed.

    For diagnostics and display of what a text claims; only verify() may grant passage.
    """
    kid, claims, _, _ = _parse(text)
    return kid, claims


def verify(
    text: str, keys: Mapping[bytes, ec.EllipticCurvePublicKey], *, today: date
) -> Verification:
    """Check a scanned text against trusted keys on the local date ``today``.

    Never raises for a str: a checkpoint must always get an answer. The checks run in the
    order MALFORMED, UNKNOWN_KEY, INVALID_SIGNATURE, NOT_YET_VALID, EXPIRED, else VALID.
    A datetime for ``today`` is a caller's bug (which day is it in Hanoi?), refused at once.
    """
    if not isinstance(today, date) or isinstance(today, datetime):
        raise TypeError("today is the local date, not a datetime")
    try:
        kid, claims, signed, signature = _parse(text)
    except Malformed as exc:
        return Verification(Outcome.MALFORMED, None, None, str(exc))
    key = keys.get(kid)
    if key is None:
        return Verification(Outcome.UNKNOWN_KEY, None, kid, f"no key with kid {kid_b64(kid)}")
    if not verify_bytes(signed, signature, key):
        return Verification(Outcome.INVALID_SIGNATURE, None, kid, "signature does not verify")
    if today < claims.valid_from:
        return Verification(Outcome.NOT_YET_VALID, claims, kid, f"valid from {claims.valid_from}")
    if today > claims.valid_to:
        return Verification(Outcome.EXPIRED, claims, kid, f"expired after {claims.valid_to}")
    return Verification(Outcome.VALID, claims, kid, f"valid through {claims.valid_to}")
