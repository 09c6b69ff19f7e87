"""The audit hash chain: append and verify."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from orgs.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(details: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so that what we hash is exactly what the JSONField stores.
    result: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return result


def compute_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_username: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any],
) -> str:
    body = json.dumps(
        [
            prev_hash,
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor_id,
            actor_username,
            action,
            object_type,
            object_id,
            details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def audit_record(
    *,
    actor: Any | None,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Locks the chain head; call inside the caller's transaction."""
    with transaction.atomic():
        head, _created = AuditHead.objects.select_for_update().get_or_create(id=1)
        seq = head.seq + 1
        # The chain stores microseconds; truncate nothing by taking the clock once.
        at = timezone.now()
        actor_id = getattr(actor, "pk", None) if actor is not None else None
        actor_username = getattr(actor, "username", "") if actor is not None else ""
        clean = _canonical(details or {})
        digest = compute_hash(
            prev_hash=head.hash,
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_username=actor_username,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=clean,
        )
        event = AuditEvent.objects.create(
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_username=actor_username,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=clean,
            prev_hash=head.hash,
            hash=digest,
        )
        head.seq, head.hash = seq, digest
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)


def audit_verify_chain() -> ChainBreak | None:
    """Return the first break in the chain, or None when every row is intact."""
    prev_hash, expected_seq = GENESIS, 1
    for event in _events():
        if event.seq != expected_seq:
            return ChainBreak(expected_seq, "missing row (deleted)")
        if event.prev_hash != prev_hash:
            return ChainBreak(event.seq, "previous-hash link broken")
        digest = compute_hash(
            prev_hash=event.prev_hash,
            seq=event.seq,
            at=event.at,
            actor_id=event.actor_id,
            actor_username=event.actor_username,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            details=event.details,
        )
        if digest != event.hash:
            return ChainBreak(event.seq, "row content altered")
        prev_hash, expected_seq = event.hash, expected_seq + 1
    head = AuditHead.objects.filter(id=1).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != prev_hash):
        return ChainBreak(last_seq + 1, "newest rows deleted (chain head mismatch)")
    return None
