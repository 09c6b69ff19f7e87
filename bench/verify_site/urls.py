"""The service's URLs plus /bench/ping/: the smallest Django JSON view, as the baseline."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as service_urlpatterns
from orgs.access import PUBLIC, allow


@allow(PUBLIC)
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/ping/", ping, name="bench-ping"), *service_urlpatterns]
