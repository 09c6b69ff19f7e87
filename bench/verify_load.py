"""How the verify API holds up under load, against the smallest Django view on the same server.

Serves the project with gunicorn on 127.0.0.1 (production settings, DEBUG off, PostgreSQL),
then drives it with `wrk` (a C load generator: it takes far less of the CPU it measures than
Python client threads did) over a fixed number of keep-alive connections:

- baseline: `GET /bench/ping/`, a JSON view through the full middleware stack and nothing
  else (bench/verify_site/urls.py);
- verify: `POST /api/v1/verify/` as a checkpoint officer's phone sends it (token
  authentication, a valid signed permit, the officer's checkpoint): key lookup, ES256
  verification, revocation and copy checks, one Scan row written per request.

Both cases run on the same server process (same gunicorn workers and threads, chosen once),
interleaved, `--repeat` times; each phase is a bounded, closed-loop load: a fixed number of
connections, each sending its next request when the answer to the last one arrives, for a fixed
`--duration`, preceded by an untimed warm-up. Reports requests/s, p50/p99 latency (wrk's own
histogram), the CPU time per request of the gunicorn workers and of their PostgreSQL backends
(figures the other jobs on a shared machine barely disturb), and the verify/baseline ratio
of each round and its median. wrk's full latency distribution goes to stderr.
Goal (docs/benchmarks.md): verify at least 70 % of the baseline's throughput, p99 under 50 ms.

    .venv/bin/python bench/verify_load.py                       # the figures in the docs
    .venv/bin/python bench/verify_load.py --duration 15 --connections 8 --repeat 3

The permits scanned rotate over `--permits` distinct serials, as at a real checkpoint; with
`--permits 1` every scan is the same serial and the copy-window lookup has to step over all
the previous scans of the run (as the old single-permit bench did).

The script works in a database of its own (`permits_bench_verify` on the PostgreSQL of
`--server`), dropped, re-created and migrated at each run. Needs `wrk` (apt install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "permits_bench_verify"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15, help="timed seconds per phase")
    parser.add_argument("--warmup", type=float, default=3, help="untimed seconds first")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of baseline + verify")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--permits", type=int, default=500, help="distinct permits scanned")
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
import json, sys
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
private = active_signing_key()[1]
qrs = [credential.encode(credential.Claims(
    serial=f"BENCH-{i:05d}", full_name="Nguyễn Thị Thu Hương", id_last4="2817",
    date_of_birth=today.replace(year=1971), org_short_name="VNPT",
    valid_from=today - timedelta(days=1), valid_to=today + timedelta(days=10),
    areas=("004", "005"), vehicle_plate="29B812345"), private) for i in range(PERMITS)]
print(json.dumps({"token": Token.objects.create(user=officer).key, "qrs": qrs}))
"""


def prepare(env: dict[str, str], permits: int) -> dict[str, Any]:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    setup = SETUP.replace("PERMITS", str(permits))
    out = subprocess.run([*manage, "shell", "-c", setup], env=env, cwd=ROOT, capture_output=True)
    if out.returncode:
        raise SystemExit(f"set-up failed:\n{out.stderr.decode()}")
    fixture: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
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


# One wrk thread is plenty for a few thousand requests/s and leaves the cores to the server.
# The script takes the bodies in turn from a file (one per line) and checks every answer.
# (wrk 4 cannot stop after N requests: its main thread sleeps for --duration whatever the
# script does, so each phase is a fixed duration at a fixed number of connections.)
WRK_SCRIPT = r"""
local method, path, bodies_file, check, token = nil, nil, nil, nil, nil
local requests, n, sent = {}, 0, 0
bad = 0

function init(args)
  method, path, bodies_file, check, token = args[1], args[2], args[3], args[4], args[5]
  local headers = {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"}
  if bodies_file ~= "-" then
    for line in io.lines(bodies_file) do
      n = n + 1
      requests[n] = wrk.format(method, path, headers, line)
    end
  else
    n = 1
    requests[1] = wrk.format(method, path, headers, nil)
  end
end

function request()
  sent = sent + 1
  return requests[(sent - 1) % n + 1]
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, check, 1, true) then
    bad = bad + 1
    if bad == 1 then io.stderr:write("unexpected answer: ", status, " ", body:sub(1, 200), "\n") end
  end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "bad": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, bad_total,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def cpu_seconds(gunicorn_pid: int) -> tuple[float, float]:
    """CPU time (user + system) of the gunicorn workers, and of their PostgreSQL backends."""
    tick = os.sysconf("SC_CLK_TCK")
    app = db = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid, session = int(fields[1]), int(fields[3])
        used = int(fields[11]) + int(fields[12])  # utime, stime
        if session == gunicorn_pid and ppid != 1 and int(entry.name) != gunicorn_pid:
            app += used
        elif cmdline.startswith("postgres: ") and f" {DB_NAME} " in cmdline:
            db += used
    return app / tick, db / tick


def wrk(
    script: Path, port: int, method: str, path: str, bodies: str, check: str, token: str, *,
    seconds: float, connections: int,
) -> dict[str, Any]:  # fmt: skip
    command = [
        "wrk", "--threads", "1", "--connections", str(connections), "--duration",
        f"{seconds:g}s", "--timeout", "10s", "--latency", "--script", str(script),
        f"http://127.0.0.1:{port}{path}", "--", method, path, bodies, check, token,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    result: dict[str, Any] = json.loads(next(x for x in lines if x.startswith("RESULT "))[7:])
    if result["bad"] or result["errors"]:
        raise SystemExit(f"{path}: unexpected answers\n{out.stdout}\n{out.stderr}")
    result["text"] = "\n".join(x for x in lines if not x.startswith("RESULT "))
    return result


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    env = environment(args.server)
    recreate_database(args.server)
    fixture = prepare(env, args.permits)
    port = free_port()
    server = start_gunicorn(env, port, args.workers, args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="verify-load-"))
    script = workdir / "load.lua"
    script.write_text(WRK_SCRIPT)
    bodies = workdir / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"qr": qr}) + "\n" for qr in fixture["qrs"]))
    cases = {
        "baseline GET /bench/ping/": ("GET", "/bench/ping/", "-", '"ok"'),
        "verify POST /api/v1/verify/": ("POST", "/api/v1/verify/", str(bodies), '"valid"'),
    }
    rounds: list[dict[str, tuple[float, float, float, float, float]]] = []
    try:
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            results: dict[str, tuple[float, float, float, float, float]] = {}
            for name, (method, path, body_file, check) in cases.items():
                common = (script, port, method, path, body_file, check, fixture["token"])
                wrk(*common, seconds=args.warmup, connections=args.connections)
                app, db = cpu_seconds(server.pid)
                result = wrk(*common, seconds=args.duration, connections=args.connections)
                app_after, db_after = cpu_seconds(server.pid)
                rate = result["requests"] / (result["duration_us"] / 1e6)
                results[name] = (
                    rate,
                    result["p50_us"] / 1000,
                    result["p99_us"] / 1000,
                    (app_after - app) / result["requests"] * 1000,
                    (db_after - db) / result["requests"] * 1000,
                )
                print(f"--- {name}\n{result['text']}\n", file=sys.stderr)
            rounds.append(results)
        load_after = os.getloadavg()[0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"wrk, {args.connections} keep-alive connections, {args.duration:g} s timed per phase "
        f"after {args.warmup:g} s untimed, {args.repeat} rounds; gunicorn {args.workers} "
        f"workers x {args.threads} threads (gthread), PostgreSQL, {args.permits} permits; "
        f"load average {load_before:.1f} before, {load_after:.1f} after ({os.cpu_count()} cores)\n"
    )
    print(
        "| round | case | req/s | p50 ms | p99 ms | CPU ms/req: gunicorn | PostgreSQL |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    )
    ratios: list[float] = []
    for i, results in enumerate(rounds, 1):
        for name, (rate, p50, p99, app, db) in results.items():
            print(f"| {i} | {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {app:.2f} | {db:.2f} |")
        (base, *_), (verify, *_) = results.values()
        ratios.append(verify / base)
    p99s = [list(r.values())[1][2] for r in rounds]
    print(
        f"\nverify / baseline throughput per round: {', '.join(f'{r:.0%}' for r in ratios)}; "
        f"median {statistics.median(ratios):.0%} (goal >= 70 %)\n"
        f"verify p99 per round: {', '.join(f'{p:.1f}' for p in p99s)} ms; median "
        f"{statistics.median(p99s):.1f} ms (goal < 50 ms)"
    )


if __name__ == "__main__":
    main()
