"""How the verify API holds up under load, against the smallest Django view on the same server.

Serves the project with gunicorn on 127.0.0.1 (production settings, DEBUG off, PostgreSQL),
then sends a fixed number of requests from client threads over keep-alive connections:

- baseline: `GET /bench/ping/`, a JSON view through the full middleware stack and nothing
  else (bench/verify_site/urls.py);
- verify: `POST /api/v1/verify/` as a checkpoint officer's phone sends it (token
  authentication, a valid signed permit, the officer's checkpoint): key lookup, ES256
  verification, revocation and copy checks, one Scan row written per request.

Reports requests/s and p50/p99 latency of each and the ratio. Goal (docs/benchmarks.md):
verify at least 70 % of the baseline's throughput, p99 under 50 ms.

    .venv/bin/python bench/verify_load.py                       # the figures in the docs
    .venv/bin/python bench/verify_load.py --requests 2000 --clients 8 --workers 2

The script works in a database of its own (`permits_bench_verify` on the PostgreSQL of
`--server`), dropped, re-created and migrated at each run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "permits_bench_verify"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per endpoint")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests first")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL, without a database name",
    )
    return parser.parse_args()


def environment(server: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.verify_site.settings",
        "DATABASE_URL": f"{server}/{DB_NAME}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "PERMIT_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "VERIFY_RATE": "1000000/min",  # one officer sends everything: no rate limit here
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",
        "CONN_MAX_AGE": "600",
    }


def recreate_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


SETUP = r"""
import json
from datetime import timedelta
from django.utils import timezone
from rest_framework.authtoken.models import Token
from orgs.access import Role
from orgs.services import checkpoint_create, user_create
from permits import credential
from permits.services.keys import active_signing_key, signing_key_create

signing_key_create(actor=None)
checkpoint = checkpoint_create(actor=None, code="CP-01", name="Chốt Chương Dương", district="004")
officer = user_create(actor=None, username="bench-officer", password="Correct-Horse-Staple-2021",
                      roles=[Role.CHECKPOINT_OFFICER], checkpoint=checkpoint)
today = timezone.localdate()
claims = credential.Claims(
    serial="BENCH-0001", full_name="Nguyễn Thị Thu Hương", id_last4="2817",
    date_of_birth=today.replace(year=1971), org_short_name="VNPT",
    valid_from=today - timedelta(days=1), valid_to=today + timedelta(days=10),
    areas=("004", "005"), vehicle_plate="29B812345")
print(json.dumps({"token": Token.objects.create(user=officer).key,
                  "qr": credential.encode(claims, active_signing_key()[1])}))
"""


def prepare(env: dict[str, str]) -> dict[str, str]:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    out = subprocess.run([*manage, "shell", "-c", SETUP], env=env, cwd=ROOT, capture_output=True)
    if out.returncode:
        raise SystemExit(f"set-up failed:\n{out.stderr.decode()}")
    fixture: dict[str, str] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return fixture


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> Any:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", "gthread",
        "--keep-alive", "30",
        "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def load(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str], *,
    total: int, clients: int, check: str,
) -> tuple[float, list[float]]:  # fmt: skip
    """Send `total` requests from `clients` threads, each on its own keep-alive connection."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [total]
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200 or check.encode() not in data:
                errors.append(f"{response.status} {data[:200]!r}")
                break
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{path}: unexpected answer {errors[0]}")
    return elapsed, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    env = environment(args.server)
    recreate_database(args.server)
    fixture = prepare(env)
    port = free_port()
    server = start_gunicorn(env, port, args.workers, args.threads)
    cases = {
        "baseline GET /bench/ping/": ("GET", "/bench/ping/", None, '"ok"'),
        "verify POST /api/v1/verify/": (
            "POST",
            "/api/v1/verify/",
            json.dumps({"qr": fixture["qr"]}).encode(),
            '"valid"',
        ),
    }
    headers = {"Authorization": f"Token {fixture['token']}", "Content-Type": "application/json"}
    results: dict[str, tuple[float, float, float]] = {}
    try:
        for name, (method, path, body, check) in cases.items():
            load(port, method, path, body, headers, total=args.warmup, clients=args.clients,
                 check=check)  # fmt: skip
            elapsed, latencies = load(
                port, method, path, body, headers, total=args.requests, clients=args.clients,
                check=check,
            )  # fmt: skip
            rate = len(latencies) / elapsed
            p50 = statistics.median(latencies) * 1000
            p99 = percentile(latencies, 99) * 1000
            results[name] = (rate, p50, p99)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(
        f"{args.requests} requests per case, {args.clients} client threads, gunicorn "
        f"{args.workers} workers x {args.threads} threads (gthread), PostgreSQL\n"
    )
    print("| case | req/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |")
    for name, (rate, p50, p99) in results.items():
        print(f"| {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} |")
    (base, *_), (verify, _, verify_p99) = results.values()
    ratio = verify / base
    print(f"\nverify / baseline throughput: {ratio:.0%} (goal >= 70 %); verify p99 "
          f"{verify_p99:.1f} ms (goal < 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
