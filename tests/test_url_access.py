"""Walk the URL conf: every URL declares who may call it, and the declaration is enforced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, PathConverter, StringConverter, UUIDConverter

from orgs.access import PUBLIC, SIGNED_IN, Role, declared_access
from tests.conftest import client_for, make_user

# Third-party sites that carry their own access control.
EXEMPT_NAMESPACES = {"admin"}


def walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, Any, Any]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            if ns in EXEMPT_NAMESPACES:
                continue
            yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback, p.pattern


ALL = list(walk(get_resolver().url_patterns))
SAMPLE = {
    IntConverter: "1",
    UUIDConverter: str(uuid.UUID(int=1)),
    StringConverter: "x",
    PathConverter: "x",
}


def concrete(route: str, pattern: Any) -> str | None:
    """A URL for a route with made-up arguments, or None for regex routes we can't fill."""
    converters = getattr(pattern, "converters", {})
    url = route
    for name, conv in converters.items():
        value = SAMPLE.get(type(conv), "x")
        url = url.replace(f"<{type(conv).__name__}:{name}>", value)
        for key in ("int", "str", "uuid", "path", "slug"):
            url = url.replace(f"<{key}:{name}>", value)
        url = url.replace(f"<{name}>", value)
    if "<" in url or "(" in url or "^" in url:
        return None
    return "/" + url.lstrip("^").rstrip("$")


def test_the_url_conf_is_not_empty():
    assert len(ALL) > 5


@pytest.mark.parametrize(
    ("route", "callback"), [(r, c) for r, c, _ in ALL], ids=[r for r, _, _ in ALL]
)
def test_every_url_declares_who_may_call_it(route, callback):
    roles = declared_access(callback)
    assert roles, f"{route} declares no access (wrap it in orgs.access.allow or set access_roles)"
    assert roles <= {PUBLIC, SIGNED_IN, *Role.values}, f"{route} declares unknown roles {roles}"


GUARDED = [(r, c, p) for r, c, p in ALL if PUBLIC not in (declared_access(c) or {PUBLIC})]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "callback", "pattern"), GUARDED, ids=[r for r, _, _ in GUARDED])
def test_guarded_urls_refuse_anonymous_callers(client, route, callback, pattern):
    url = concrete(route, pattern)
    if url is None:
        pytest.skip("regex route")
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), (method, url, response.status_code)
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response["Location"].startswith("/login/")


ROLE_GUARDED = [(r, c, p) for r, c, p in GUARDED if SIGNED_IN not in (declared_access(c) or set())]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "callback", "pattern"), ROLE_GUARDED, ids=[r for r, _, _ in ROLE_GUARDED]
)
def test_guarded_urls_refuse_every_role_they_do_not_name(route, callback, pattern, viettel):
    url = concrete(route, pattern)
    if url is None:
        pytest.skip("regex route")
    allowed = declared_access(callback) or frozenset()
    for role in set(Role.values) - set(allowed):
        kwargs = {"organization": viettel} if role == Role.ORG_HR else {}
        user = make_user(f"u_{role}", role, **kwargs)
        client = client_for(user)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 403, (role, method, url, response.status_code)
