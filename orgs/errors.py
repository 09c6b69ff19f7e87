"""Domain errors: services raise them, views and the API map them to answers."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal a user can understand. `status` is the HTTP answer the API gives."""

    status = 400
    code = "invalid"

    def __init__(self, message: Any, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.details = details or []


class InvalidInput(DomainError):
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
