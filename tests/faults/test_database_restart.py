"""PostgreSQL restarts under a running app server (gunicorn, production settings).

What a checkpoint needs from the server when its database goes away for a moment:
- no false answer while it is down: a verify that cannot reach the database fails (5xx, or no
  answer at all) instead of answering "valid", and a revoked permit never reads "valid";
- /healthz says so (503) while it is down, so a load balancer takes the server out;
- the same server process comes back by itself as soon as the database does: persistent
  connections (CONN_MAX_AGE) broken by the restart are noticed before use
  (CONN_HEALTH_CHECKS) instead of failing the first request of each thread.

The database is a private cluster (initdb + pg_ctl in a temporary directory, a free port),
so stopping it disturbs no one else.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.conftest import (
    LIVENESS,
    Answer,
    PrivateCluster,
    Processes,
    app_env,
    call,
    migrate_and_seed,
    token_for,
    verify,
    wait_for,
)

pytestmark = pytest.mark.postgres

THREADS = 4
OUTAGE_SECONDS = 3.0


@dataclass
class Sample:
    kind: str  # "valid" / "revoked" (which permit was verified) or "healthz"
    started: float
    ended: float
    answer: Answer


def gunicorn_workers(master: int) -> set[int]:
    """The worker processes of a gunicorn master (Linux /proc), empty if unreadable."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").glob("*"):
        try:
            children |= {int(pid) for pid in (task / "children").read_text().split()}
        except OSError:
            continue
    return children


def test_a_database_restart_gives_no_false_answer_and_the_same_server_recovers(
    private_cluster: PrivateCluster, processes: Processes, tmp_path: Path
) -> None:
    database = private_cluster.database("permits_faults")
    database.create()
    env = app_env(database, tmp_path / "media")
    world = migrate_and_seed(env, staff=3, revoke=True)
    assert world.revoked
    base = processes.gunicorn("web", env, threads=THREADS)
    master = processes.running["web"].pid
    workers = gunicorn_workers(master)
    token = token_for(base, "chot_01")
    qr = {"valid": world.valid, "revoked": world.revoked}

    assert verify(base, token, qr["valid"]).result == "valid"
    assert verify(base, token, qr["revoked"]).result == "revoked"
    assert call(base, "GET", "/healthz").status == 200

    # 1. A quiet restart. Every thread that served a request keeps its connection open
    # (CONN_MAX_AGE); the restart breaks them all. The first requests after it must still be
    # answered: each thread's health check notices its dead connection and opens a new one.
    with ThreadPoolExecutor(THREADS * 2) as pool:
        warm = list(pool.map(lambda _: verify(base, token, qr["valid"]), range(THREADS * 4)))
    assert {a.result for a in warm} == {"valid"}, warm
    private_cluster.stop()
    private_cluster.start()
    after = [verify(base, token, qr["valid"]) for _ in range(THREADS * 2)]
    assert [a.status for a in after] == [200] * len(after), (
        "requests after a database restart failed: stale persistent connections were used "
        f"without a health check: {after}"
    )
    assert {a.result for a in after} == {"valid"}
    assert call(base, "GET", "/healthz").status == 200

    # 2. An outage under traffic: a phone keeps scanning both permits and a load balancer keeps
    # probing /healthz while PostgreSQL is stopped for a few seconds, then started again.
    samples: list[Sample] = []
    stop = threading.Event()

    def traffic() -> None:
        kinds = ("valid", "revoked", "healthz")
        i = 0
        while not stop.is_set():
            kind = kinds[i % len(kinds)]
            i += 1
            started = time.monotonic()
            if kind == "healthz":
                answer = call(base, "GET", "/healthz", timeout=10)
            else:
                answer = verify(base, token, qr[kind], timeout=10)
            samples.append(Sample(kind, started, time.monotonic(), answer))
            time.sleep(0.02)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(samples) >= 6, what="traffic before the outage")
        private_cluster.stop()  # pg_ctl -m fast -w: returns once the server is down
        down_at = time.monotonic()
        health_down = call(base, "GET", "/healthz")
        verify_down = verify(base, token, qr["valid"])
        time.sleep(OUTAGE_SECONDS)
        up_at = time.monotonic()
        private_cluster.start()
        back = wait_for(
            lambda: verify(base, token, qr["valid"]).result == "valid" and time.monotonic(),
            timeout=LIVENESS,
            what="verify to answer valid after the database came back",
        )
        wait_for(
            lambda: call(base, "GET", "/healthz").status == 200,
            what="/healthz to answer 200 after the database came back",
        )
        time.sleep(1.0)  # some traffic after recovery too
    finally:
        stop.set()
        thread.join(timeout=30)

    assert health_down.status == 503 and health_down.data["checks"]["database"] == "down"
    assert verify_down.status is None or verify_down.status >= 500, verify_down

    outage = [s for s in samples if s.started >= down_at and s.ended <= up_at]
    recovered = [s for s in samples if s.started >= back]
    assert len([s for s in outage if s.kind != "healthz"]) >= 2, "no traffic during the outage"
    assert len(recovered) >= 3, "no traffic after recovery"

    # While the database is down nothing is answered as if it had been asked.
    for s in outage:
        if s.kind == "healthz":
            assert s.answer.status == 503, s
        else:
            assert s.answer.status is None or s.answer.status >= 500, s
    # Whenever an answer comes, it is the true one: never "valid" for the revoked permit.
    for s in samples:
        if s.answer.status == 200 and s.kind != "healthz":
            assert s.answer.result == s.kind, s
    # After recovery every request succeeds again.
    assert all(s.answer.status == 200 for s in recovered), [
        s for s in recovered if s.answer.status != 200
    ]
    assert {s.answer.result for s in recovered if s.kind == "valid"} == {"valid"}
    assert {s.answer.result for s in recovered if s.kind == "revoked"} == {"revoked"}

    # The same server did it: same master, same worker process, no restart in between.
    assert processes.running["web"].poll() is None
    if workers:
        assert gunicorn_workers(master) == workers, "gunicorn replaced its worker"
