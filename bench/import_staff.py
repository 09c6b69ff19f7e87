"""How fast a staff list imports: 10,000 rows, CSV and XLSX, against a no-validation baseline.

The full import is `permits.services.staff.staff_import` as the API and the pages call it:
parse and check every cell, read the organisation's staff in one query, bulk insert, audit.
The baseline in the same run is what any import costs at least: `csv.reader` over the same
bytes and `bulk_create` of the rows as they are, with no checks. Each figure is the best of
`--repeat` runs into an empty staff list; the re-import (every row unchanged) is also timed.

    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/permits_bench \\
        .venv/bin/python bench/import_staff.py

The script migrates the database it is given and works in an organisation of its own
(tax code 0100109106 is reused only if absent); it deletes that organisation's staff between
runs and nothing else. Goal (docs/benchmarks.md): full CSV import < 3 s and < 3x the baseline.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from orgs.models import Organization  # noqa: E402
from orgs.services import organization_create  # noqa: E402
from permits.models import Staff  # noqa: E402
from permits.services.staff import staff_import  # noqa: E402

BENCH_TAX_CODE = "0100686209"  # a valid check digit; the bench's own enterprise
SAMPLE = "staff-10k.csv"


def sample_path() -> Path:
    shared = ROOT.parent / "shared" / "samples" / SAMPLE
    return shared if shared.exists() else ROOT / "tests" / "fixtures" / SAMPLE


def bench_organization() -> Organization:
    org = Organization.objects.filter(tax_code=BENCH_TAX_CODE).first()
    if org is None:
        org = organization_create(
            actor=None,
            tax_code=BENCH_TAX_CODE,
            name="Doanh nghiệp đo hiệu năng",
            short_name="BENCH",
            sector="telecom",
        )
    return org


def to_xlsx(data: bytes) -> bytes:
    """The same list as Excel writes it: ID and phone as text, dates as date cells."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Danh sách")
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    sheet.append(next(reader))
    for row in reader:
        day, month, year = (int(part) for part in row[2].split("/"))
        sheet.append([row[0], row[1], date(year, month, day), *row[3:]])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def baseline(org: Organization, data: bytes) -> int:
    """csv.reader + bulk_create, no validation: the floor any import stands on."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    next(reader)
    rows = []
    for name, id_number, dob, phone, job, address, plate in reader:
        day, month, year = dob.split("/")
        rows.append(
            Staff(
                organization=org,
                id_number=id_number,
                full_name=name,
                date_of_birth=f"{year}-{month}-{day}",
                phone=phone,
                job_title=job,
                home_address=address,
                vehicle_plate=plate[:12],
            )
        )
    with transaction.atomic():
        Staff.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def clear(org: Organization) -> None:
    Staff.objects.filter(organization=org).delete()


def best_of(repeat: int, setup: Callable[[], None], run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    call_command("migrate", verbosity=0, interactive=False)
    org = bench_organization()
    data = sample_path().read_bytes()
    xlsx = to_xlsx(data)
    rows = data.count(b"\n") - 1 + (not data.endswith(b"\n"))

    def full(payload: bytes, name: str) -> Callable[[], object]:
        return lambda: staff_import(actor=None, organization=org, data=payload, filename=name)

    t_base = best_of(args.repeat, lambda: clear(org), lambda: baseline(org, data))
    t_csv = best_of(args.repeat, lambda: clear(org), full(data, "staff.csv"))
    t_xlsx = best_of(args.repeat, lambda: clear(org), full(xlsx, "staff.xlsx"))
    clear(org)
    full(data, "staff.csv")()
    t_again = best_of(args.repeat, lambda: None, full(data, "staff.csv"))
    t_dry = best_of(
        args.repeat,
        lambda: None,
        lambda: staff_import(
            actor=None, organization=org, data=data, filename="staff.csv", dry_run=True
        ),
    )
    clear(org)

    vendor = connection.vendor
    print(f"staff import, {rows:,} rows, {vendor}, best of {args.repeat}")
    print(f"{'case':<34}{'seconds':>9}{'rows/s':>10}")
    for label, seconds in (
        ("baseline (csv.reader+bulk_create)", t_base),
        ("full import, CSV", t_csv),
        ("full import, XLSX", t_xlsx),
        ("re-import, CSV (all unchanged)", t_again),
        ("dry run, CSV (after import)", t_dry),
    ):
        print(f"{label:<34}{seconds:>9.3f}{rows / seconds:>10,.0f}")
    print(f"ratio full CSV / baseline: {t_csv / t_base:.2f}x (goal < 3x, < 3 s)")
    print(f"ratio full XLSX / baseline: {t_xlsx / t_base:.2f}x")


if __name__ == "__main__":
    main()
