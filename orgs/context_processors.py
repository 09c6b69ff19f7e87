from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from orgs.access import Role, user_roles


def _nav_items(request: HttpRequest, held: frozenset[str]) -> list[dict[str, Any]]:
    """Links of every app (AppConfig.nav_entries: (roles, url name, label)) the user may use.

    Apps declare their own links, so orgs never imports them.
    """
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for config in apps.get_app_configs():
        for roles, url_name, label in getattr(config, "nav_entries", ()):
            if url_name in seen or not held & set(roles):
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            seen.add(url_name)
            items.append(
                {"url": url, "label": label, "current": request.path.startswith(url) and url != "/"}
            )
    return items


def roles(request: HttpRequest) -> dict[str, Any]:
    """Expose the user's roles and navigation to templates."""
    held = user_roles(request.user)
    return {
        "roles": held,
        "Role": {r.name: r.value for r in Role},
        "nav_items": _nav_items(request, held) if held else [],
    }
