"""Issuing, revoking and re-issuing permits, and the signed revocation list.

Serial numbers
    "HN" + 7 digits + 1 Damm check digit, e.g. "HN40357192": 10 characters, inside the QR
    budget of docs/permit-format.md §6. The 7 digits are a fixed permutation of a counter
    (SerialCounter "permit"), so serials never repeat, yet a serial does not read as "the
    153rd permit" (style habit 9). The permutation is public and fixed for ever, not a secret:
    access control, not the serial, keeps a permit private. The check digit catches every
    single-digit slip and every swap of two neighbouring digits when a serial is typed in.

Lock order (to never deadlock): the request or permit rows, then the audit chain head
(audit_record), then the serial counter. So every function here records its audit event
before it reserves serial numbers.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orgs.access import REVIEWERS, has_role, hr_organizations
from orgs.audit import audit_record
from orgs.errors import Conflict, Forbidden, InvalidInput
from orgs.models import Organization
from permits import credential
from permits.models import (
    EntryDecision,
    Permit,
    PermitRequest,
    PermitStatus,
    RequestEntry,
    RequestStatus,
    SerialCounter,
    Staff,
)
from permits.services.keys import active_signing_key

SERIAL_PREFIX = "HN"
SERIAL_COUNTER = "permit"
_SERIAL_SPACE = 10**7  # 7 digits
# n -> (A*n + B) mod 10**7 is a bijection because A is coprime with 10**7 (odd, not 5k).
_SCRAMBLE_A = 3_794_807
_SCRAMBLE_B = 5_120_391
# Damm's quasigroup of order 10 (H. M. Damm, 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_BATCH_SIZE = 1000
MAX_REASON_LENGTH = 255
REVOKED_FIELDS = ["status", "revoked_at", "revoked_by", "revoke_reason"]
# What a correction of a person's data may change on a live permit.
CORRECTABLE_FIELDS = ("full_name", "id_number", "date_of_birth", "vehicle_plate")


# --- serial numbers ---------------------------------------------------------------------


def damm_check_digit(digits: str) -> str:
    interim = 0
    for d in digits:
        interim = _DAMM[interim][int(d)]
    return str(interim)


def serial_for_number(number: int) -> str:
    """The serial of counter value `number` (1 to 9,999,999)."""
    if not 0 < number < _SERIAL_SPACE:
        raise ValueError("serial numbers run from 1 to 9,999,999")
    digits = f"{(_SCRAMBLE_A * number + _SCRAMBLE_B) % _SERIAL_SPACE:07d}"
    return SERIAL_PREFIX + digits + damm_check_digit(digits)


def serial_is_well_formed(serial: str) -> bool:
    """True for "HN" + 8 digits whose last is the right check digit (catches typos early)."""
    digits = serial[len(SERIAL_PREFIX) :]
    return (
        serial.startswith(SERIAL_PREFIX)
        and len(digits) == 8
        and digits.isascii()
        and digits.isdigit()
        and damm_check_digit(digits) == "0"
    )


def serial_numbers_reserve(*, count: int) -> range:
    """Reserve `count` consecutive counter values; the SerialCounter row stays locked until
    the caller's transaction ends, so no two transactions ever get the same number.

    Never max()+1 over permits: two transactions would read the same max. Numbers of a
    transaction that rolls back are lost, which is harmless (serials need no continuity).
    """
    if count < 1:
        raise ValueError("reserve at least one number")
    with transaction.atomic():
        counter = SerialCounter.objects.select_for_update().filter(name=SERIAL_COUNTER).first()
        if counter is None:
            try:
                with transaction.atomic():  # savepoint: a concurrent first insert may win
                    SerialCounter.objects.create(name=SERIAL_COUNTER, value=0)
            except IntegrityError:
                pass
            counter = SerialCounter.objects.select_for_update().get(name=SERIAL_COUNTER)
        first, last = counter.value + 1, counter.value + count
        if last >= _SERIAL_SPACE:
            raise Conflict(_("Đã dùng hết dải số giấy đi đường; cần mở dải số mới."))
        counter.value = last
        counter.save(update_fields=["value"])
    return range(first, last + 1)


# --- issuing ----------------------------------------------------------------------------


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _request_areas(request: PermitRequest) -> tuple[str, ...]:
    if request.whole_city:
        return ()
    codes = tuple(sorted(request.areas.values_list("code", flat=True)))
    if not codes:
        # () would mean the whole city in the QR: never let "no district chosen" grant that.
        raise InvalidInput(_("Đề nghị %(ref)s chưa chọn địa bàn nào.") % {"ref": request.reference})
    return codes


def _encode(claims: credential.Claims, private_key: Any, *, who: str) -> str:
    try:
        return credential.encode(claims, private_key)
    except ValueError as exc:
        raise InvalidInput(
            _("Không ký được giấy đi đường cho %(who)s: %(why)s") % {"who": who, "why": exc}
        ) from exc


def _insert(permits: list[Permit]) -> list[Permit]:
    try:
        with transaction.atomic():  # savepoint: the caller's transaction stays usable
            return Permit.objects.bulk_create(permits, batch_size=_BATCH_SIZE)
    except IntegrityError as exc:  # permit_one_active_per_entry, or a serial clash
        raise Conflict(
            _("Giấy đi đường vừa được cấp bởi một thao tác khác; hãy tải lại trang.")
        ) from exc


@transaction.atomic
def permit_issue_for_request(*, request: PermitRequest, actor: Any) -> list[Permit]:
    """Issue one signed permit per accepted entry of an approved request; return the new ones.

    Called by the police approval inside its transaction, with the request row locked (locked
    here again, so a direct call is just as safe). Idempotent: an entry that already has a
    permit, live or revoked, gets none — running this again never undoes a revocation; the
    constraint permit_one_active_per_entry backs it under races. Writes Permit rows (one
    bulk insert), the serial counter and one audit event (request id, count, kid: no personal
    data). Sends nothing.
    """
    locked = (
        PermitRequest.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=request.pk)
    )
    if locked.status != RequestStatus.APPROVED:
        raise Conflict(
            _("Đề nghị %(ref)s chưa được phê duyệt nên chưa thể cấp giấy.")
            % {"ref": locked.reference}
        )
    entries = list(
        RequestEntry.objects.filter(request=locked, decision=EntryDecision.ACCEPTED)
        .exclude(permits__isnull=False)
        .only("id_number", "full_name", "date_of_birth", "vehicle_plate")
        .order_by("pk")
    )
    if not entries:
        return []
    areas = _request_areas(locked)
    key, private_key = active_signing_key()
    org_short_name = _nfc(locked.organization.short_name)
    audit_record(
        actor=actor,
        action="permit.issue",
        object_type="permit_request",
        object_id=str(locked.pk),
        details={"count": len(entries), "kid": key.kid},
    )
    now = timezone.now()
    permits = []
    for entry, number in zip(entries, serial_numbers_reserve(count=len(entries)), strict=True):
        plate = entry.vehicle_plate or None
        claims = credential.Claims(
            serial=serial_for_number(number),
            full_name=_nfc(entry.full_name),
            id_last4=entry.id_number[-4:],
            date_of_birth=entry.date_of_birth,
            org_short_name=org_short_name,
            valid_from=locked.valid_from,
            valid_to=locked.valid_to,
            areas=areas,
            vehicle_plate=plate,
        )
        permits.append(
            Permit(
                serial=claims.serial,
                entry=entry,
                request=locked,
                organization_id=locked.organization_id,
                id_number=entry.id_number,
                full_name=claims.full_name,
                valid_from=claims.valid_from,
                valid_to=claims.valid_to,
                area_codes=list(areas),
                vehicle_plate=plate or "",
                kid=key.kid,
                qr_text=_encode(claims, private_key, who=f"{entry.full_name} ({entry.id_number})"),
                status=PermitStatus.ACTIVE,
                issued_at=now,
            )
        )
    return _insert(permits)


# --- revoking ---------------------------------------------------------------------------


def _clean_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(
            _("Cần ghi lý do thu hồi."), details=[{"field": "reason", "message": _("Bắt buộc.")}]
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            _("Lý do thu hồi dài quá %(n)d ký tự.") % {"n": MAX_REASON_LENGTH},
            details=[{"field": "reason", "message": _("Quá dài.")}],
        )
    return reason


def _reason_digest(reason: str) -> str:
    # The audit chain keeps no free text (it may name people); the hash binds the reason
    # stored on the permits to the audit event without copying it there.
    return hashlib.sha256(reason.encode("utf-8")).hexdigest()


def may_revoke(actor: Any, organization_id: int) -> bool:
    """A reviewer, or an HR clerk with revoke_permit on the holder's enterprise.

    None is the system (a management command run by an operator).
    """
    if actor is None or has_role(actor, *REVIEWERS):
        return True
    return hr_organizations(actor, "orgs.revoke_permit").filter(pk=organization_id).exists()


def _require_may_revoke(actor: Any, organization_id: int) -> None:
    if not may_revoke(actor, organization_id):
        raise Forbidden(_("Bạn không có quyền thu hồi giấy đi đường này."))


def _mark_revoked(permits: Sequence[Permit], *, actor: Any, reason: str) -> None:
    now = timezone.now()
    for permit in permits:
        permit.status = PermitStatus.REVOKED
        permit.revoked_at, permit.revoked_by, permit.revoke_reason = now, actor, reason
    Permit.objects.bulk_update(permits, REVOKED_FIELDS, batch_size=_BATCH_SIZE)


def _locked_active(filter_: Q) -> list[Permit]:
    # pk order: two bulk revocations over overlapping sets lock rows in the same order.
    return list(
        Permit.objects.select_for_update()
        .filter(filter_, status=PermitStatus.ACTIVE)
        .order_by("pk")
    )


@transaction.atomic
def permit_revoke(*, actor: Any, permit: Permit, reason: str) -> Permit:
    """Revoke one permit. Writes the permit and an audit event (serial, hash of the reason).

    Conflict if it is revoked already; Forbidden unless the actor may revoke it.
    """
    reason = _clean_reason(reason)
    _require_may_revoke(actor, permit.organization_id)
    locked = Permit.objects.select_for_update().get(pk=permit.pk)
    if locked.status != PermitStatus.ACTIVE:
        raise Conflict(_("Giấy %(serial)s đã bị thu hồi trước đó.") % {"serial": locked.serial})
    _mark_revoked([locked], actor=actor, reason=reason)
    audit_record(
        actor=actor,
        action="permit.revoke",
        object_type="permit",
        object_id=locked.serial,
        details={"reason_sha256": _reason_digest(reason)},
    )
    return locked


def _revoke_scope(
    *, actor: Any, filter_: Q, reason: str, action: str, object_type: str, object_id: str
) -> list[Permit]:
    permits = _locked_active(filter_)
    if not permits:
        return []
    _mark_revoked(permits, actor=actor, reason=reason)
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details={
            "count": len(permits),
            "serials": [p.serial for p in permits],
            "reason_sha256": _reason_digest(reason),
        },
    )
    return permits


@transaction.atomic
def permits_revoke_for_request(*, actor: Any, request: PermitRequest, reason: str) -> list[Permit]:
    """Revoke every live permit of a request; return them ([] when none was live).

    Writes the permits and one audit event listing their serials.
    """
    reason = _clean_reason(reason)
    _require_may_revoke(actor, request.organization_id)
    return _revoke_scope(
        actor=actor,
        filter_=Q(request_id=request.pk),
        reason=reason,
        action="permit.revoke_request",
        object_type="permit_request",
        object_id=str(request.pk),
    )


@transaction.atomic
def permits_revoke_for_organization(
    *, actor: Any, organization: Organization, reason: str
) -> list[Permit]:
    """Revoke every live permit of an enterprise (reviewers only); return them.

    Writes the permits and one audit event listing their serials.
    """
    reason = _clean_reason(reason)
    if actor is not None and not has_role(actor, *REVIEWERS):
        raise Forbidden(
            _("Chỉ cán bộ Sở TT&TT hoặc Công an được thu hồi giấy của cả doanh nghiệp.")
        )
    return _revoke_scope(
        actor=actor,
        filter_=Q(organization_id=organization.pk),
        reason=reason,
        action="permit.revoke_organization",
        object_type="organization",
        object_id=str(organization.pk),
    )


# --- re-issuing after a correction -------------------------------------------------------


def _corrections(
    permit: Permit, current: credential.Claims, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields of `data` that differ from what the permit says, in stored form."""
    unknown = set(data) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            _("Không thể đính chính các trường: %(f)s.") % {"f": ", ".join(sorted(unknown))}
        )
    now_says = {
        "full_name": permit.full_name,
        "id_number": permit.id_number,
        "date_of_birth": current.date_of_birth,
        "vehicle_plate": permit.vehicle_plate,
    }
    wanted = dict(data)
    if "full_name" in wanted:
        wanted["full_name"] = _nfc(str(wanted["full_name"]).strip())
    if "vehicle_plate" in wanted:
        wanted["vehicle_plate"] = wanted["vehicle_plate"] or ""
    return {k: v for k, v in wanted.items() if now_says[k] != v}


def _reissue(
    pairs: Sequence[tuple[Permit, dict[str, Any]]], *, actor: Any, reason: str
) -> list[Permit]:
    """Revoke each old permit and issue its successor (same dates and districts, corrected
    person data, the active key, `supersedes` the old). Rows are locked by the caller."""
    olds = [old for old, _fields in pairs]
    _mark_revoked(olds, actor=actor, reason=reason)
    key, private_key = active_signing_key()
    audit_record(
        actor=actor,
        action="permit.reissue",
        object_type="permit",
        object_id=olds[0].serial if len(olds) == 1 else "",
        details={
            "count": len(olds),
            "replaced": [old.serial for old in olds],
            "fields": sorted({name for _old, fields in pairs for name in fields}),
            "kid": key.kid,
        },
    )
    now = timezone.now()
    numbers = serial_numbers_reserve(count=len(pairs))
    successors = []
    for (old, fields), number in zip(pairs, numbers, strict=True):
        _kid, claims = credential.decode(old.qr_text)
        id_number = fields.get("id_number", old.id_number)
        plate = fields.get("vehicle_plate", old.vehicle_plate) or None
        claims = replace(
            claims,
            serial=serial_for_number(number),
            full_name=fields.get("full_name", old.full_name),
            id_last4=id_number[-4:],
            date_of_birth=fields.get("date_of_birth", claims.date_of_birth),
            vehicle_plate=plate,
        )
        successors.append(
            Permit(
                serial=claims.serial,
                entry_id=old.entry_id,
                request_id=old.request_id,
                organization_id=old.organization_id,
                id_number=id_number,
                full_name=claims.full_name,
                valid_from=old.valid_from,
                valid_to=old.valid_to,
                area_codes=list(old.area_codes),
                vehicle_plate=plate or "",
                kid=key.kid,
                qr_text=_encode(claims, private_key, who=f"{claims.full_name} ({id_number})"),
                status=PermitStatus.ACTIVE,
                issued_at=now,
                supersedes=old,
            )
        )
    return _insert(successors)


def _reissue_reason() -> str:
    return _("Cấp lại do đính chính thông tin người được cấp.")


@transaction.atomic
def permit_reissue(*, actor: Any, permit: Permit, corrected: Mapping[str, Any]) -> Permit:
    """Replace a live permit by one with corrected person data; return the new permit.

    `corrected` may hold full_name, id_number, date_of_birth and vehicle_plate (stored,
    normalised forms). Writes the old permit (revoked), the new one (`supersedes` the old),
    the serial counter and one audit event (serials and field names, no values). InvalidInput
    when nothing would change.
    """
    _require_may_revoke(actor, permit.organization_id)
    locked = Permit.objects.select_for_update().get(pk=permit.pk)
    if locked.status != PermitStatus.ACTIVE:
        raise Conflict(_("Giấy %(serial)s đã bị thu hồi trước đó.") % {"serial": locked.serial})
    fields = _corrections(locked, credential.decode(locked.qr_text)[1], corrected)
    if not fields:
        raise InvalidInput(_("Thông tin đính chính giống hệt thông tin trên giấy."))
    return _reissue([(locked, fields)], actor=actor, reason=_reissue_reason())[0]


def _staff_data(staff: Staff) -> dict[str, Any]:
    return {name: getattr(staff, name) for name in CORRECTABLE_FIELDS}


@transaction.atomic
def permits_reissue_for_staff(*, actor: Any, staff: Staff | Iterable[Staff]) -> list[Permit]:
    """After a person's data changed in the staff list, re-issue their live permits that say
    something else, revoking the old ones; return the new permits ([] when none differ).

    "Their" permits: issued from a request entry of that staff row, or in the same enterprise
    under the same ID number; "live": active and not yet expired. Call it inside the
    transaction that saved the staff row(s). Writes as permit_reissue, one audit event.
    """
    people = [staff] if isinstance(staff, Staff) else list(staff)
    if not people:
        return []
    # One clause per enterprise, not per person: an import may correct thousands at once.
    numbers_by_org: dict[int, set[str]] = {}
    for person in people:
        numbers_by_org.setdefault(person.organization_id, set()).add(person.id_number)
    match = Q(entry__staff_id__in=[p.pk for p in people])
    for org_id, numbers in numbers_by_org.items():
        match |= Q(organization_id=org_id, id_number__in=sorted(numbers))
    today = timezone.localdate()
    live = _locked_active(match & Q(valid_to__gte=today))
    by_pk = {p.pk: p for p in people}
    by_number = {(p.organization_id, p.id_number): p for p in people}
    entry_staff: dict[int, int | None] = dict(
        RequestEntry.objects.filter(pk__in={p.entry_id for p in live}).values_list("pk", "staff_id")
    )
    pairs = []
    for permit in live:
        staff_id = entry_staff.get(permit.entry_id)
        holder = by_pk.get(staff_id) if staff_id is not None else None
        holder = holder or by_number.get((permit.organization_id, permit.id_number))
        if holder is None:
            continue
        fields = _corrections(permit, credential.decode(permit.qr_text)[1], _staff_data(holder))
        if fields:
            _require_may_revoke(actor, permit.organization_id)
            pairs.append((permit, fields))
    if not pairs:
        return []
    return _reissue(pairs, actor=actor, reason=_reissue_reason())


# --- the signed revocation list ------------------------------------------------------------


def revocation_list(*, now: datetime | None = None) -> dict[str, Any]:
    """The list an offline checkpoint device downloads, signed as docs/permit-format.md §7.

    Serials of revoked permits that have not expired yet (an expired permit is refused
    anyway); `issued_at` in Hanoi time with its offset, to the second. Signed with the active
    key (NoActiveSigningKey when there is none). Writes nothing.
    """
    now = now or timezone.now()
    today: date = timezone.localdate(now)
    serials = sorted(
        Permit.objects.filter(status=PermitStatus.REVOKED, valid_to__gte=today).values_list(
            "serial", flat=True
        )
    )
    issued_at = timezone.localtime(now).replace(microsecond=0).isoformat()
    key, private_key = active_signing_key()
    message = credential.revocation_list_message(issued_at=issued_at, serials=serials)
    signature = credential.sign_bytes(message, private_key)
    return {
        "issued_at": issued_at,
        "serials": serials,
        "kid": key.kid,
        "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii"),
    }
