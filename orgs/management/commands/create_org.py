from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgs.errors import DomainError
from orgs.services import organization_create


class Command(BaseCommand):
    help = "Create an enterprise of the postal or telecom sector."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tax-code", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--short-name", required=True)
        parser.add_argument("--sector", required=True, choices=["postal", "telecom"])
        parser.add_argument("--address", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            org = organization_create(
                actor=None,
                tax_code=opts["tax_code"],
                name=opts["name"],
                short_name=opts["short_name"],
                sector=opts["sector"],
                address=opts["address"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{org.tax_code} {org.short_name}")
