"""URL conf. Every view declares who may call it (orgs.access); tests walk this file."""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.utils.decorators import method_decorator
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import permits.urls
import verification.urls
from config.health import healthz
from orgs import api as orgs_api
from orgs import otp as orgs_otp
from orgs import views as orgs_views
from orgs.access import PUBLIC, allow


class SchemaView(SpectacularAPIView):
    access_roles = frozenset({PUBLIC})


@method_decorator(csp_update({"style-src": ["'unsafe-inline'"]}), name="dispatch")
class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI injects its own <style>; only this page relaxes style-src for it."""

    access_roles = frozenset({PUBLIC})


api_v1 = [
    path("auth/token/", orgs_api.TokenView.as_view(), name="api-token"),
    path("me/", orgs_api.MeView.as_view(), name="api-me"),
    *permits.urls.api,
    *verification.urls.api,
]

urlpatterns = [
    path("", orgs_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("login/", orgs_views.LoginView.as_view(), name="login"),
    path("logout/", orgs_views.LogoutView.as_view(), name="logout"),
    path("login/otp/", orgs_otp.otp_verify, name="otp-verify"),
    path("account/otp/", orgs_otp.otp_setup, name="otp-setup"),
    path("org/<str:tax_code>/", orgs_views.organization_detail, name="organization-detail"),
    path("i18n/setlang/", allow(PUBLIC)(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(permits.urls.pages)),
    path("", include(verification.urls.pages)),
    path("", include(verification.urls.root)),
]
