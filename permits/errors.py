"""Domain errors of the permits app (style habit 8): services raise them, views map them.

Each is one of orgs.errors' kinds, so the API answers the right status without knowing them.
"""

from __future__ import annotations

from orgs.errors import Conflict, InvalidInput


class TransitionNotAllowed(Conflict):
    """The request is not in a state where this action may happen (out of turn): 409."""

    code = "transition_not_allowed"


class SeparationOfDuties(Conflict):
    """The same person would make both approvals of one request: 409."""

    code = "separation_of_duties"


class RequestInvalid(InvalidInput):
    """The request's data break a rule; `details` lists [{"field", "message"}...]: 400."""

    code = "request_invalid"
