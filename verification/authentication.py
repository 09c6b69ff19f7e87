"""Token authentication for the checkpoint API, with the officer remembered per process.

A phone sends the same token with every scan. DRF's TokenAuthentication looks the token and
its user up on every request, and the role check and the officer's checkpoint take one query
each after it: three round trips before any permit is looked at. `CachedTokenAuthentication`
keeps, per process, token key → (user, roles, checkpoint) for `VERIFY_CACHE_SECONDS`
(default 30 s) and builds `request.user` from that copy.

The bound, and what it means: a change made to an officer is seen by the verify endpoints at
most VERIFY_CACHE_SECONDS after it was made, in every process (each process re-reads the
entry once it is that old; nothing is shared between processes, so no invalidation message
can be lost). That covers a deleted token (sign-out, a lost phone), a deactivated user, a
removed checkpoint_officer role and a moved or deactivated checkpoint. A new token, a new
officer or a role granted works at once (unknown tokens are never cached). The rest of the
API keeps DRF's uncached TokenAuthentication. Setting VERIFY_CACHE_SECONDS to 0 turns the
cache off.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from drf_spectacular.authentication import TokenScheme
from rest_framework.authentication import TokenAuthentication

from orgs.access import user_roles
from verification.services import OFFICER_PLACE_ATTR, OfficerPlace, officer_place

DEFAULT_TTL = 30.0
MAX_ENTRIES = 10_000  # one per signed-in phone; a full table is emptied and refilled


def cache_seconds() -> float:
    """How long a process trusts its copy of a token's officer (VERIFY_CACHE_SECONDS)."""
    return float(getattr(settings, "VERIFY_CACHE_SECONDS", DEFAULT_TTL))


@dataclass(frozen=True)
class _Entry:
    fetched: float  # time.monotonic() when read from the database
    user: Any
    token: Any
    roles: frozenset[str]
    place: OfficerPlace


_entries: dict[str, _Entry] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _entries.clear()


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` as DRF's, the answer kept VERIFY_CACHE_SECONDS per process.

    Costs no query while the entry is fresh; three (token and user, roles, checkpoint) when
    it is not. Invalid tokens and inactive users are refused exactly as by DRF (and not
    remembered).
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        ttl = cache_seconds()
        now = time.monotonic()
        entry = _entries.get(key)
        if entry is None or now - entry.fetched >= ttl:
            user, token = super().authenticate_credentials(key)
            entry = _Entry(now, user, token, user_roles(user), officer_place(user))
            if ttl > 0:
                with _lock:
                    if len(_entries) >= MAX_ENTRIES:
                        _entries.clear()
                    _entries[key] = entry
        # A copy per request: the cached instance is shared by every thread of the process.
        user = copy.copy(entry.user)
        user._roles_cache = entry.roles  # read by orgs.access.user_roles (RolePermission)
        setattr(user, OFFICER_PLACE_ATTR, entry.place)  # read by verification.services
        return user, entry.token


class CachedTokenScheme(TokenScheme):
    """The OpenAPI security scheme: the same `Authorization: Token <key>` header as DRF's,
    under a name of its own (drf-spectacular wants one name per authentication class)."""

    target_class = "verification.authentication.CachedTokenAuthentication"
    name = "officerTokenAuth"
    priority = 0
