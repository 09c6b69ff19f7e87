from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orgs.audit import audit_verify_chain
from orgs.models import AuditEvent


class Command(BaseCommand):
    help = "Check the audit hash chain; exit 1 naming the first broken row."

    def handle(self, *args: Any, **opts: Any) -> None:
        broken = audit_verify_chain()
        if broken is not None:
            raise CommandError(f"audit chain broken at row {broken.seq}: {broken.reason}")
        self.stdout.write(f"audit chain intact: {AuditEvent.objects.count()} rows")
