"""manage.py purge_expired --days N [--dry-run]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgs.errors import DomainError
from permits.services.retention import personal_data_purge


class Command(BaseCommand):
    help = (
        "Remove the personal data of people whose requests and permits all ended more than N "
        "days ago (staff rows deleted, request entries and permits anonymised, anonymous "
        "counts kept). --dry-run prints the same counts and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, required=True, help="days kept after the last validity day"
        )
        parser.add_argument("--dry-run", action="store_true", help="count only, change nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        days, dry_run = opts["days"], opts["dry_run"]
        if days < 0:
            raise CommandError(f"--days must be 0 or more (got {days}); nothing changed.")
        try:
            report = personal_data_purge(actor=None, days=days, dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        verb = "would purge" if dry_run else "purged"
        self.stdout.write(
            f"{verb} {report.people} people whose permits ended before "
            f"{report.cutoff.isoformat()}: staff deleted {report.staff_deleted}, "
            f"entries anonymised {report.entries_anonymised}, "
            f"permits anonymised {report.permits_anonymised}, "
            f"print files deleted {report.print_files_deleted}"
            + (" (dry run: nothing changed)" if dry_run else "")
        )
