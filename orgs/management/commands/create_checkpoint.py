from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgs.errors import DomainError
from orgs.services import checkpoint_create


class Command(BaseCommand):
    help = "Create a checkpoint (chốt kiểm soát) in a district."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--code", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--district", default="001", help="district code, e.g. 005")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            cp = checkpoint_create(
                actor=None, code=opts["code"], name=opts["name"], district=opts["district"]
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{cp.code} {cp.name} ({cp.district.name})")
