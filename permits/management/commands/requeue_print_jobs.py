from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from permits.services.printing import STALE_AFTER, print_jobs_requeue_stale


class Command(BaseCommand):
    help = "Queue again the print jobs whose worker stopped (run it on a timer beside workers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stale-seconds", type=int, default=int(STALE_AFTER.total_seconds()))

    def handle(self, *args: Any, **opts: Any) -> None:
        jobs = print_jobs_requeue_stale(older_than=timedelta(seconds=opts["stale_seconds"]))
        self.stdout.write(f"requeued {len(jobs)} print job(s)")
