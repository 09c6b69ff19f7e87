"""Issuing and revoking permits. (Stub: the Signed permits issue fills it in.)"""

from __future__ import annotations

from typing import Any

from permits.models import Permit, PermitRequest


def permit_issue_for_request(*, request: PermitRequest, actor: Any) -> list[Permit]:
    """Issue one signed permit per accepted entry of an approved request.

    Called by the police approval inside its transaction, with the request row locked.
    Idempotent: an entry that already has an active permit gets no second one.
    """
    return []
