"""Sign-in, sign-out and the home page of each role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from orgs.access import PUBLIC, SIGNED_IN, Role, allow, hr_organizations, user_roles
from orgs.forms import LoginForm


@method_decorator(never_cache, name="dispatch")
class LoginView(auth_views.LoginView):
    access_roles = frozenset({PUBLIC})
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    access_roles = frozenset({PUBLIC})


@allow(SIGNED_IN)
def home(request: HttpRequest) -> HttpResponse:
    """One page whatever the roles: a section per role the user holds."""
    roles = user_roles(request.user)
    context: dict[str, Any] = {"held_roles": [Role(r) for r in Role.values if r in roles]}
    if Role.ORG_HR in roles:
        context["organizations"] = list(hr_organizations(request.user))
    for hook in _home_sections:
        context.update(hook(request, roles))
    return render(request, "orgs/home.html", context)


# Later apps add their figures to the home page (queues, counts) without orgs importing them.
_home_sections: list[Any] = []


def register_home_section(hook: Any) -> Any:
    _home_sections.append(hook)
    return hook


@allow(Role.ORG_HR)
def organization_detail(request: HttpRequest, tax_code: str) -> HttpResponse:
    """An HR clerk's own enterprise. Another enterprise answers 404, as a missing one does."""
    org = get_object_or_404(hr_organizations(request.user), tax_code=tax_code)
    return render(request, "orgs/organization_detail.html", {"org": org})
