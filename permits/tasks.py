"""Background tasks (django-tasks; the database worker runs them, tests run them at once)."""

from __future__ import annotations

from django_tasks import task

from permits.services.printing import print_job_run


@task()
def render_print_job(job_id: str) -> None:
    print_job_run(job_id=job_id)
