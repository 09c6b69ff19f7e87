"""Fault tests: the real processes (gunicorn, `manage.py db_worker`, PostgreSQL) started,
broken and watched from outside.

Each test builds its own small world out of subprocesses that run with production settings
(DEBUG off, the database task backend, whatever `make test` exported notwithstanding): a
PostgreSQL database of its own, migrated and seeded through the services, app servers and
workers on free ports, files in a temporary MEDIA_ROOT. pytest-django's test database is not
used. Every process is started in its own process group and stopped when the test ends.

On SQLite (no DATABASE_URL to PostgreSQL) every test here skips. The database-restart test
runs a private PostgreSQL cluster (initdb, pg_ctl) and skips when the server binaries are
missing; as root it runs them as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
MANAGE = [PYTHON, str(ROOT / "manage.py")]
STAFF_CSV = ROOT / "tests" / "fixtures" / "staff-10k.csv"
PASSWORD = "Correct-Horse-2021"
# Liveness bounds: generous, the machine has 2 shared cores and other suites run beside us.
LIVENESS = 60.0
CHECKPOINT = "CP-01"


# --- waiting ---------------------------------------------------------------------------


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = LIVENESS, every: float = 0.2, what: str
) -> Any:
    """Poll until predicate() is truthy and return its value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- PostgreSQL ------------------------------------------------------------------------


@dataclass
class Database:
    """A database the test owns, reachable over TCP."""

    host: str
    port: int
    user: str
    password: str
    name: str

    @property
    def url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgres://{auth}@{self.host}:{self.port}/{self.name}"

    def connect(self, dbname: str | None = None, **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.name,
            autocommit=True,
            connect_timeout=10,
            **kwargs,
        )

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[no-any-return]

    def create(self) -> None:
        with self.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with contextlib.suppress(Exception), self.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def configured_postgres() -> Database:
    """The PostgreSQL server the suite runs on (DATABASE_URL); skip on SQLite."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.skip("fault tests need PostgreSQL (set DATABASE_URL=postgres://...)")
    return Database(
        host=db.get("HOST") or "127.0.0.1",
        port=int(db.get("PORT") or 5432),
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or "",
        name=f"faults_{os.getpid()}_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def fresh_database() -> Iterator[Database]:
    """An empty database on the configured server, dropped afterwards."""
    database = configured_postgres()
    database.create()
    try:
        yield database
    finally:
        database.drop()


def postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl: Debian's versioned one, else the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit()) or (0,)


class PrivateCluster:
    """A throw-away PostgreSQL cluster in a temporary directory, on a free port: the test may
    stop, start and restart it without disturbing anyone else's server."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run PostgreSQL")
        self.home = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        if self.owner is not None:
            os.chown(self.home, self.owner.pw_uid, self.owner.pw_gid)
        self.data = self.home / "data"
        self.log = self.home / "server.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        done = subprocess.run(
            command, cwd=self.home, env=env, capture_output=True, text=True, timeout=120
        )
        if check and done.returncode:
            pytest.fail(
                f"{' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}\n{self.tail()}"
            )
        return done

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def database(self, name: str) -> Database:
        return Database("127.0.0.1", self.port, "postgres", "", name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.data.exists() and self.is_running():
                self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    configured_postgres()  # skips on SQLite, like the rest of the suite's PostgreSQL tests
    bindir = postgres_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    cluster = PrivateCluster(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


# --- the application's processes -------------------------------------------------------


def app_env(database: Database, media: Path, **extra: str) -> dict[str, str]:
    """Production-like settings for a subprocess: what a deployment sets, nothing of the test
    run's development settings (DEBUG, the immediate task backend)."""
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"TEST_DATABASE_NAME", "DATABASE_REPLICA_URL", "CACHE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(40),
        PERMIT_KEY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=database.url,
        TASKS_BACKEND="django_tasks_db.DatabaseBackend",
        MEDIA_ROOT=str(media),
        CONN_MAX_AGE="60",
        VERIFY_RATE="100000/min",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore::UserWarning",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run a management command to completion; its stdout, or the test fails with stderr."""
    done = subprocess.run(
        [*MANAGE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode:
        pytest.fail(f"manage.py {' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# Everything a checkpoint and a print job need, through the services as the pages call them:
# an enterprise with its HR clerk, both reviewers, an officer at CP-01 (Long Biên, 004), a
# signing key, FAULTS_STAFF people of the 10k fixture imported, one request for all of them
# approved twice (the police approval issues the permits), and optionally one permit revoked.
SEED = r"""
import json, os
from datetime import timedelta
from django.utils import timezone
from orgs.access import Role
from orgs.services import checkpoint_create, organization_create, user_create
from permits.models import Permit
from permits.services.issuance import permit_revoke
from permits.services.keys import signing_key_create
from permits.services.requests import request_create, request_review, request_submit
from permits.services.staff import staff_import

count = int(os.environ["FAULTS_STAFF"])
password = os.environ["FAULTS_PASSWORD"]
with open(os.environ["FAULTS_STAFF_CSV"], encoding="utf-8-sig") as f:
    lines = f.read().splitlines()
signing_key_create(actor=None)
org = organization_create(actor=None, tax_code="0100109106", short_name="VIETTEL",
                          name="Tập đoàn Công nghiệp - Viễn thông Quân đội", sector="telecom")
cp = checkpoint_create(actor=None, code="CP-01", name="Chốt cầu Chương Dương", district="004")
hr = user_create(actor=None, username="hr", password=password, roles=[Role.ORG_HR],
                 organization=org)
dept = user_create(actor=None, username="so_tttt", password=password,
                   roles=[Role.DEPARTMENT_REVIEWER])
police = user_create(actor=None, username="cong_an", password=password,
                     roles=[Role.POLICE_REVIEWER])
user_create(actor=None, username="chot_01", password=password,
            roles=[Role.CHECKPOINT_OFFICER], checkpoint=cp)
data = ("\n".join(lines[: count + 1]) + "\n").encode()
staff_import(actor=hr, organization=org, data=data, filename="staff.csv")
today = timezone.localdate()
req = request_create(actor=hr, organization=org,
                     id_numbers=list(org.staff.values_list("id_number", flat=True)),
                     valid_from=today, valid_to=today + timedelta(days=6),
                     areas=["001", "004", "268"], reason="Ứng cứu thông tin")
request_submit(actor=hr, request=req)
request_review(actor=dept, request=req, decision="approve")
request_review(actor=police, request=req, decision="approve")
permits = list(Permit.objects.filter(request=req).order_by("serial"))
assert len(permits) == count, (len(permits), count)
if os.environ.get("FAULTS_REVOKE"):
    permit_revoke(actor=hr, permit=permits[-1], reason="Nhân viên nghỉ việc")
print(json.dumps({
    "request": str(req.pk),
    "valid": permits[0].qr_text,
    "revoked": permits[-1].qr_text if os.environ.get("FAULTS_REVOKE") else None,
}))
"""


@dataclass
class World:
    """What SEED made: the request's id and two QR texts (one revoked, when asked for)."""

    request: str
    valid: str
    revoked: str | None


def migrate_and_seed(env: dict[str, str], *, staff: int, revoke: bool = False) -> World:
    manage(env, "migrate", "--noinput", "-v0")
    seed_env = {
        **env,
        "FAULTS_STAFF": str(staff),
        "FAULTS_PASSWORD": PASSWORD,
        "FAULTS_STAFF_CSV": str(STAFF_CSV),
        "FAULTS_REVOKE": "1" if revoke else "",
    }
    out = manage(seed_env, "shell", "-c", SEED)
    return World(**json.loads(out.strip().splitlines()[-1]))


@dataclass
class Processes:
    """Long-running subprocesses of one test, each in its own process group, logged to files;
    all stopped at the end of the test whatever happened."""

    logs: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        self.running[name] = process
        return process

    def signal(self, name: str, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.running[name].pid, sig)

    def stop(self, name: str, timeout: float = 15) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
        # Whatever is left of the group (a worker a master did not reap), killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def log(self, name: str) -> str:
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def gunicorn(self, name: str, env: dict[str, str], *, threads: int = 4) -> str:
        """Start `gunicorn config.wsgi` with one worker; its base URL once it answers."""
        port = free_port()
        command = [
            GUNICORN, "config.wsgi", "-b", f"127.0.0.1:{port}", "--workers", "1",
            "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5",
            "--log-level", "warning",
        ]  # fmt: skip
        process = self.start(name, command, env)
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail(f"gunicorn {name} exited:\n{self.log(name)[-3000:]}")
            return call(base, "GET", "/healthz").status is not None

        wait_for(answers, what=f"gunicorn {name} to answer")
        return base

    def worker(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start `manage.py db_worker` (the database task backend) named `name`."""
        command = [
            *MANAGE, "db_worker", "--worker-id", name, "--interval", "0.2",
            "--no-startup-delay", "--no-reload",
        ]  # fmt: skip
        return self.start(name, command, env)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs)
    try:
        yield procs
    finally:
        procs.stop_all()


# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer at all (refused, reset, timed out)
    data: Any
    error: str = ""

    @property
    def result(self) -> str | None:
        return self.data.get("result") if isinstance(self.data, dict) else None

    def __repr__(self) -> str:
        shown = self.result or (str(self.data)[:80] if self.data is not None else self.error)
        return f"<{self.status} {shown}>"


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    timeout: float = 15,
) -> Answer:
    """One request on a fresh connection (so any of the server's threads may take it)."""
    host, port = base.removeprefix("http://").split(":")
    headers = {"Accept": "application/json", "Connection": "close"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = raw[:300]
    return Answer(response.status, data)


def token_for(base: str, username: str) -> str:
    answer = call(base, "POST", "/api/v1/auth/token/", {"username": username, "password": PASSWORD})
    assert answer.status == 200, answer
    return str(answer.data["token"])


def verify(base: str, token: str, qr: str, *, timeout: float = 15) -> Answer:
    return call(
        base, "POST", "/api/v1/verify/", {"qr": qr, "checkpoint": CHECKPOINT},
        token=token, timeout=timeout,
    )  # fmt: skip


# --- PDFs ------------------------------------------------------------------------------


def decode_pdf(path: Path, dpi: int = 150) -> list[str]:
    """Every QR text on every page, rendered at `dpi` (pypdfium2) and read by zxing-cpp."""
    import pypdfium2 as pdfium
    import zxingcpp

    texts: list[str] = []
    doc = pdfium.PdfDocument(str(path))
    try:
        for index in range(len(doc)):
            page = doc[index]
            image = page.render(scale=dpi / 72).to_pil().convert("L")
            page.close()
            results = zxingcpp.read_barcodes(
                image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False,
                try_downscale=False,
            )  # fmt: skip
            texts += [r.text for r in results]
    finally:
        doc.close()
    return texts
