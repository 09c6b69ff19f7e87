from typing import Any

from django.http import HttpRequest

from orgs.access import Role, user_roles


def roles(request: HttpRequest) -> dict[str, Any]:
    """Expose the user's roles to templates (navigation shows only what the user may use)."""
    held = user_roles(request.user)
    return {"roles": held, "Role": {r.name: r.value for r in Role}}
