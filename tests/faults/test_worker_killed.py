"""A task worker dies (kill -9) or stalls in the middle of a print job.

The job must still end as exactly one complete PDF: the worker's heartbeat stops, the timer's
`manage.py requeue_print_jobs` queues the job again, another worker claims it (attempts 2) and
renders every permit once; a stalled worker that wakes up later writes nothing (it no longer
owns the job). Real processes: `manage.py db_worker` with the database task backend on a
PostgreSQL database of the test's own.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    LIVENESS,
    Database,
    Processes,
    World,
    app_env,
    configured_postgres,
    decode_pdf,
    manage,
    migrate_and_seed,
    wait_for,
)

pytestmark = pytest.mark.postgres

# Enough permits for a job of several seconds on a busy machine (about 300 permits/s on one
# core, docs/decisions/0004), so that the worker can be caught in the middle of it.
STAFF = 600
STALLED_SUBSET = 200
DONE = "done"
RUNNING = "running"

CREATE_JOB = r"""
import os
from permits.models import PermitRequest, Permit
from permits.services.printing import print_job_create
from django.contrib.auth.models import User
req = PermitRequest.objects.get(pk=os.environ["FAULTS_REQUEST"])
count = int(os.environ.get("FAULTS_SERIALS") or 0)
serials = list(Permit.objects.filter(request=req).order_by("serial")
               .values_list("serial", flat=True)[:count]) if count else []
job = print_job_create(actor=User.objects.get(username="hr"), request=req, serials=serials)
print(job.pk)
"""


@dataclass
class Printing:
    database: Database
    env: dict[str, str]
    world: World
    media: Path


@pytest.fixture(scope="module")
def printing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Printing]:
    database = configured_postgres()
    database.create()
    try:
        media = tmp_path_factory.mktemp("media")
        env = app_env(database, media)
        world = migrate_and_seed(env, staff=STAFF)
        yield Printing(database, env, world, media)
    finally:
        database.drop()


@dataclass
class Job:
    status: str
    done: int
    total: int
    attempts: int
    file: str


def create_job(printing: Printing, serials: int = 0) -> str:
    env = {**printing.env, "FAULTS_REQUEST": printing.world.request, "FAULTS_SERIALS": str(serials)}
    return manage(env, "shell", "-c", CREATE_JOB).strip().splitlines()[-1]


def job_state(conn: Any, job: str) -> Job:
    row = conn.execute(
        "SELECT status, done, total, attempts, file FROM permits_printjob WHERE id = %s", (job,)
    ).fetchone()
    return Job(*row)


def task_results(conn: Any, job: str) -> list[tuple[str, list[str]]]:
    """The django-tasks results of this job's tasks: (status, worker ids), oldest first."""
    rows = conn.execute(
        "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult "
        "WHERE args_kwargs -> 'kwargs' ->> 'job_id' = %s ORDER BY enqueued_at",
        (job,),
    ).fetchall()
    return [(status, list(workers)) for status, workers in rows]


def catch_in_the_middle(conn: Any, job: str) -> Job:
    """Wait until the worker has written progress (done > 0) but not finished."""
    state = wait_for(
        lambda: (s := job_state(conn, job)).done > 0 and s,
        every=0.05,
        what="the worker to report progress",
    )
    return state  # type: ignore[no-any-return]


def requeue_until_taken_back(env: dict[str, str]) -> None:
    """The timer beside the workers, every second: requeue jobs whose heartbeat is 2 s old."""
    wait_for(
        lambda: "requeued 1 " in manage(env, "requeue_print_jobs", "--stale-seconds", "2"),
        every=1.0,
        what="requeue_print_jobs to queue the orphaned job again",
    )


def stored_qr_texts(printing: Printing, conn: Any, serials: int = 0) -> Counter[str]:
    rows = conn.execute(
        "SELECT qr_text FROM permits_permit WHERE request_id = %s ORDER BY serial",
        (printing.world.request,),
    ).fetchall()
    texts = [r[0] for r in rows]
    return Counter(texts[:serials] if serials else texts)


def files_of(printing: Printing, job: str) -> list[str]:
    folder = printing.media / "print-jobs"
    return sorted(p.name for p in folder.glob(f"*-{job.replace('-', '')[:8]}-*.pdf"))


def test_a_job_whose_worker_is_killed_is_requeued_and_printed_once(
    printing: Printing, processes: Processes
) -> None:
    with printing.database.connect() as conn:
        processes.worker("worker-a", printing.env)
        job = create_job(printing)
        middle = catch_in_the_middle(conn, job)
        processes.signal("worker-a", signal.SIGKILL)
        processes.running["worker-a"].wait(timeout=LIVENESS)
        assert middle.status == RUNNING and middle.attempts == 1
        assert 0 < middle.done < middle.total == STAFF, middle

        # A new worker alone cannot take the job: the dead worker's claim stands until the
        # heartbeat is stale and the timer queues the job again.
        processes.worker("worker-b", printing.env)
        requeue_until_taken_back(printing.env)
        finished = wait_for(
            lambda: (s := job_state(conn, job)).status in (DONE, "failed") and s,
            timeout=LIVENESS * 2,
            what="the requeued job to finish",
        )
        assert finished.status == DONE, (finished, processes.log("worker-b")[-3000:])
        assert finished.attempts == 2
        assert finished.done == finished.total == STAFF

        # Worker A's task result stays "running" forever (it died holding it); the requeue
        # enqueued a second task, which worker B ran.
        # The job row is written before the task framework records its own result: wait.
        expected = [("RUNNING", ["worker-a"]), ("SUCCESSFUL", ["worker-b"])]
        wait_for(
            lambda: task_results(conn, job) == expected,
            timeout=LIVENESS,
            what="worker B's task result",
        )

        # One PDF, the second attempt's, with every permit's QR code exactly once.
        assert files_of(printing, job) == [Path(finished.file).name]
        assert finished.file.endswith("-2.pdf")
        decoded = Counter(decode_pdf(printing.media / finished.file))
        assert decoded == stored_qr_texts(printing, conn)


def test_a_stalled_worker_that_wakes_up_after_the_requeue_writes_nothing(
    printing: Printing, processes: Processes
) -> None:
    with printing.database.connect() as conn:
        processes.worker("worker-slow", printing.env)
        job = create_job(printing, serials=STALLED_SUBSET)
        catch_in_the_middle(conn, job)
        processes.signal("worker-slow", signal.SIGSTOP)
        stalled = job_state(conn, job)
        assert stalled.status == RUNNING and stalled.attempts == 1
        assert stalled.done < stalled.total == STALLED_SUBSET

        processes.worker("worker-fast", printing.env)
        requeue_until_taken_back(printing.env)
        finished = wait_for(
            lambda: (s := job_state(conn, job)).status in (DONE, "failed") and s,
            timeout=LIVENESS * 2,
            what="the requeued job to finish",
        )
        assert finished.status == DONE and finished.attempts == 2, finished

        # The stalled worker goes on where it stopped, renders its copy, and finds at the end
        # that the job is no longer its own: it keeps nothing and changes nothing.
        processes.signal("worker-slow", signal.SIGCONT)
        wait_for(
            lambda: task_results(conn, job)[0][0] in ("SUCCESSFUL", "FAILED"),
            what="the woken worker to finish its task",
        )
        assert task_results(conn, job) == [
            ("SUCCESSFUL", ["worker-slow"]),
            ("SUCCESSFUL", ["worker-fast"]),
        ]
        assert job_state(conn, job) == finished
        assert files_of(printing, job) == [Path(finished.file).name]
        decoded = Counter(decode_pdf(printing.media / finished.file))
        assert decoded == stored_qr_texts(printing, conn, STALLED_SUBSET)
