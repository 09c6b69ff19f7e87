from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgs.access import Role
from orgs.errors import DomainError
from orgs.models import Checkpoint, Organization
from orgs.services import user_create


class Command(BaseCommand):
    help = "Create a user with one or more roles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", action="append", required=True, choices=Role.values)
        parser.add_argument("--org", help="tax code of the enterprise (org_hr)")
        parser.add_argument("--checkpoint", help="checkpoint code (checkpoint_officer)")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--full-name", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = cp = None
        if opts["org"]:
            org = Organization.objects.filter(tax_code=opts["org"]).first()
            if org is None:
                raise CommandError(f"Không có doanh nghiệp mã số thuế {opts['org']}.")
        if opts["checkpoint"]:
            cp = Checkpoint.objects.filter(code=opts["checkpoint"]).first()
            if cp is None:
                raise CommandError(f"Không có chốt mã {opts['checkpoint']}.")
        try:
            user = user_create(
                actor=None,
                username=opts["username"],
                password=opts["password"],
                roles=opts["role"],
                organization=org,
                checkpoint=cp,
                email=opts["email"],
                full_name=opts["full_name"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{user.username} {','.join(sorted(set(opts['role'])))}")
