"""How fast permits are issued: 5,000 signed permits for one request, on PostgreSQL.

The measured call is `permits.services.issuance.permit_issue_for_request`, as the police
approval makes it: lock the request, read the accepted entries, one audit event, reserve a
block of serial numbers, build and sign each TP1 credential (claims check, CBOR, ES256,
base45), one `bulk_create`, commit. Two baselines in the same run:

- bare ECDSA: `private_key.sign()` over 5,000 messages of the Sig_structure's size, nothing
  else — what signing costs at least, the floor no issuance can beat;
- encode only: `credential.encode()` for the same claims, no database.

Each figure is the best of `--repeat` runs; each issuance run uses a fresh request of
`--count` accepted entries.

    .venv/bin/python bench/issue_permits.py                 # the figures in docs/benchmarks.md
    .venv/bin/python bench/issue_permits.py --count 1000 --repeat 1

The script works in a database of its own (`permits_bench_issue` on the PostgreSQL of
`--server`), dropped and re-created at each run and migrated with `migrate`. Goal
(docs/benchmarks.md): at least 2,000 permits/s.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "permits_bench_issue"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thu", "Quang", "Thanh", "Hữu", "Ngọc", "Xuân", "Trường"]
GIVEN = ["Hương", "Tuấn", "Dũng", "Hằng", "Thảo", "Phương", "Hưng", "Trường", "Yến", "Cường"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="permits per issuance")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL, without a database name",
    )
    return parser.parse_args()


def recreate_database(server: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{server}/{DB_NAME}"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that run)."""
    results = []
    for _ in range(repeat):
        started_cpu, started = cpu(), time.perf_counter()
        run()
        results.append((time.perf_counter() - started, cpu() - started_cpu))
    return min(results)


def people(count: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        name = f"{rnd.choice(SURNAMES)} {rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}"
        born = date(1965, 1, 1) + timedelta(days=rnd.randrange(365 * 38))
        out.append(
            {
                "id_number": f"001{rnd.randrange(4)}{born.year % 100:02d}{seed:02d}{i:04d}",
                "full_name": name,
                "date_of_birth": born,
                "vehicle_plate": rnd.choice(["", f"29B1{rnd.randrange(10**5):05d}"]),
            }
        )
    return out


def main() -> None:
    args = parse_args()
    os.environ["DATABASE_URL"] = recreate_database(args.server)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.utils import timezone

    from orgs.models import Area
    from orgs.services import organization_create
    from permits import credential
    from permits.models import (
        EntryDecision,
        PermitRequest,
        RequestEntry,
        RequestStatus,
    )
    from permits.services.issuance import permit_issue_for_request
    from permits.services.keys import active_signing_key, signing_key_ensure

    call_command("migrate", verbosity=0)
    organization = organization_create(
        actor=None,
        tax_code="0100686209",
        name="Doanh nghiệp đo hiệu năng",
        short_name="VNPT",
        sector="telecom",
    )
    clerk = User.objects.create_user("bench")
    signing_key_ensure()
    _key, private_key = active_signing_key()
    today = timezone.localdate()
    districts = list(Area.objects.filter(code__in=["268", "269", "271"]))
    runs = iter(range(1, 100))

    def approved_request() -> PermitRequest:
        request = PermitRequest.objects.create(
            organization=organization,
            created_by=clerk,
            status=RequestStatus.APPROVED,
            valid_from=today,
            valid_to=today + timedelta(days=13),
        )
        request.areas.set(districts)
        RequestEntry.objects.bulk_create(
            [
                RequestEntry(request=request, decision=EntryDecision.ACCEPTED, **person)
                for person in people(args.count, next(runs))
            ],
            batch_size=1000,
        )
        return request

    sample = [
        credential.Claims(
            serial=f"HN{i:08d}",
            full_name=p["full_name"],
            id_last4=p["id_number"][-4:],
            date_of_birth=p["date_of_birth"],
            org_short_name="VNPT",
            valid_from=today,
            valid_to=today + timedelta(days=13),
            areas=("268", "269", "271"),
            vehicle_plate=p["vehicle_plate"] or None,
        )
        for i, p in enumerate(people(args.count, 0))
    ]
    # Sig_structures are ~120 bytes: sign messages of that size.
    messages = [os.urandom(120) for _ in range(args.count)]

    def bare_sign() -> None:
        algorithm = ec.ECDSA(hashes.SHA256())
        for message in messages:
            private_key.sign(message, algorithm)

    def encode_only() -> None:
        for claims in sample:
            credential.encode(claims, private_key)

    requests = [approved_request() for _ in range(args.repeat)]
    pending = iter(requests)

    def issue() -> None:
        issued = permit_issue_for_request(request=next(pending), actor=None)
        assert len(issued) == args.count
        reset_queries()

    baseline = best_of(args.repeat, bare_sign)
    encoding = best_of(args.repeat, encode_only)
    issuing = best_of(args.repeat, issue)

    version = connection.cursor().connection.info.server_version
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.count} permits, best of {args.repeat}; PostgreSQL {version // 10000}, ", end="")
    print(f"Python {sys.version.split()[0]}, load average {load}\n")
    print("| case | wall s | CPU s | permits/s | × baseline (wall) | × baseline (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (wall, cpu_s) in [
        ("bare ECDSA sign (baseline)", baseline),
        ("credential.encode, no database", encoding),
        ("permit_issue_for_request (full)", issuing),
    ]:
        print(
            f"| {label} | {wall:.3f} | {cpu_s:.3f} | {args.count / wall:,.0f} "
            f"| {wall / baseline[0]:.2f} | {cpu_s / baseline[1]:.2f} |"
        )
    rate = args.count / issuing[0]
    print(f"\nfull issuance: {issuing[0] / args.count * 1e6:.0f} µs per permit, ", end="")
    print(f"{rate:,.0f} permits/s ({'meets' if rate >= 2000 else 'MISSES'} the goal of 2,000/s)")


if __name__ == "__main__":
    main()
