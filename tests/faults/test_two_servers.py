"""Two app servers and two task workers on one database, as deployed behind a reverse proxy.

Print jobs filed alternately through both servers' API are each rendered exactly once (one
claim, one PDF), the two workers share the queue, any server serves any job's progress and
file, and both servers answer /healthz and verify. Real processes: gunicorn and
`manage.py db_worker` with the database task backend, on a PostgreSQL database of the test's
own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.faults.conftest import (
    LIVENESS,
    Database,
    Processes,
    app_env,
    call,
    decode_pdf,
    migrate_and_seed,
    token_for,
    verify,
    wait_for,
)

pytestmark = pytest.mark.postgres

JOBS = 12
STAFF = 12  # three A4 sheets a job: small jobs, many of them


def test_two_servers_and_two_workers_print_each_job_once(
    fresh_database: Database, processes: Processes, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    env = app_env(fresh_database, media)
    world = migrate_and_seed(env, staff=STAFF)
    # Both workers poll before the first job arrives.
    processes.worker("worker-1", env)
    processes.worker("worker-2", env)
    servers = [
        processes.gunicorn("web-1", env, threads=2),
        processes.gunicorn("web-2", env, threads=2),
    ]
    tokens = [token_for(base, "hr") for base in servers]

    jobs: list[str] = []
    for i in range(JOBS):
        base, token = servers[i % 2], tokens[i % 2]
        answer = call(
            base, "POST", f"/api/v1/requests/{world.request}/print/", {"layout": "a4x4"},
            token=token,
        )  # fmt: skip
        assert answer.status == 202, answer
        jobs.append(answer.data["job"])
    assert len(set(jobs)) == JOBS

    def all_done() -> list[dict[str, object]] | None:
        # Progress asked of the server that did not file the job: any server sees any job.
        states = [
            call(servers[(i + 1) % 2], "GET", f"/api/v1/print-jobs/{job}/", token=tokens[0]).data
            for i, job in enumerate(jobs)
        ]
        return states if all(s.get("status") in ("done", "failed") for s in states) else None

    states = wait_for(all_done, timeout=LIVENESS * 2, every=0.5, what="all print jobs to finish")
    assert [s["status"] for s in states] == ["done"] * JOBS, (
        states,
        processes.log("worker-1")[-2000:],
        processes.log("worker-2")[-2000:],
    )
    assert all(s["done"] == s["total"] == STAFF for s in states)

    with fresh_database.connect() as conn:
        rows = conn.execute(
            "SELECT id::text, attempts, file FROM permits_printjob ORDER BY created_at"
        ).fetchall()
        tasks = conn.execute(
            "SELECT args_kwargs -> 'kwargs' ->> 'job_id', status, worker_ids "
            "FROM django_tasks_database_dbtaskresult"
        ).fetchall()
        stored = Counter(
            r[0]
            for r in conn.execute(
                "SELECT qr_text FROM permits_permit WHERE request_id = %s", (world.request,)
            ).fetchall()
        )

    # Each job claimed once: one attempt, one task run by one worker, one PDF of its own.
    assert sorted(r[0] for r in rows) == sorted(jobs)
    assert [r[1] for r in rows] == [1] * JOBS
    assert sorted(t[0] for t in tasks) == sorted(jobs)
    assert all(status == "SUCCESSFUL" and len(workers) == 1 for _, status, workers in tasks)
    files = sorted(r[2] for r in rows)
    assert len(set(files)) == JOBS
    assert sorted(p.name for p in (media / "print-jobs").iterdir()) == [Path(f).name for f in files]
    # Both workers took part: the queue is shared, not owned by the first worker to poll.
    used = Counter(workers[0] for _, _, workers in tasks)
    assert set(used) == {"worker-1", "worker-2"}, used

    for name in files:
        assert Counter(decode_pdf(media / name)) == stored, name

    # Any server hands out any job's file (they share MEDIA_ROOT here, as a deployment must).
    for i, base in enumerate(servers):
        job = jobs[i]
        download = call(base, "GET", f"/api/v1/print-jobs/{job}/", token=tokens[i]).data["download"]
        assert download
        pdf = call(base, "GET", download, token=tokens[i])
        assert pdf.status == 200 and isinstance(pdf.data, bytes) and pdf.data.startswith(b"%PDF")

    # Both servers are healthy and verify a permit.
    officer = token_for(servers[0], "chot_01")
    for base in servers:
        health = call(base, "GET", "/healthz")
        assert health.status == 200 and health.data["status"] == "ok", health
        assert verify(base, officer, world.valid).result == "valid"
