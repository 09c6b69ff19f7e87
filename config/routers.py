"""Send verification reads to the read replica when DATABASE_REPLICA_URL is set.

Checkpoint scans are the bulk of the traffic and only read keys, permits and checkpoints; the
verification service wraps its reads in `replica_reads()`, and this router sends them to the
replica so the primary keeps its capacity for writes. Everything else, and every write (the
scan log included), goes to the primary. Without a replica configured, nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

REPLICA_MODELS = {
    ("permits", "permit"),
    ("permits", "signingkey"),
    ("orgs", "checkpoint"),
    ("orgs", "area"),
}
_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        meta = model._meta
        if (
            _replica_reads.get()
            and "replica" in settings.DATABASES
            and (meta.app_label, meta.model_name) in REPLICA_MODELS
        ):
            return "replica"
        return None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "default"
