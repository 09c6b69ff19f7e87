"""GET /healthz: the database answers and the task worker keeps up with its queue."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from orgs.access import PUBLIC, allow

# A task waiting longer than this means no worker is taking jobs.
WORKER_LAG = timedelta(minutes=5)


@never_cache
@allow(PUBLIC)
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # any database failure is "down", never a 500
        checks["database"] = "down"
        return JsonResponse({"status": "down", "checks": checks}, status=503)
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.ready().filter(enqueued_at__lt=timezone.now() - WORKER_LAG)
    checks["worker"] = "lagging" if waiting.exists() else "ok"
    status = "ok" if checks["worker"] == "ok" else "degraded"
    return JsonResponse({"status": status, "checks": checks}, status=200)
