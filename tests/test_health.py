import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database_and_the_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "worker": "ok"}}


def test_healthz_reports_a_worker_that_does_not_take_jobs(client):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="permits.tasks.render_print_job",
        backend_name="default",
        run_after=timezone.now() - timedelta(hours=1),
    )
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["checks"]["worker"] == "lagging"
