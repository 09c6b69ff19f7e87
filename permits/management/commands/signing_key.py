"""manage.py signing_key create|rotate|list|retire KID|compromise KID|ensure"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgs.errors import DomainError
from permits.models import KeyStatus, SigningKey
from permits.services.keys import (
    signing_key_compromise,
    signing_key_create,
    signing_key_ensure,
    signing_key_retire,
    signing_key_rotate,
)

ACTIONS = ("create", "rotate", "list", "retire", "compromise", "ensure")
NEEDS_KID = ("retire", "compromise")


class Command(BaseCommand):
    help = (
        "Manage the ES256 keys that sign permits: create the first key, rotate (the active "
        "key is retired and keeps verifying), list, retire KID (stop signing), compromise KID "
        "(trust nothing it signed), ensure (create one when none is active)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("kid", nargs="?", help="the key id, for retire and compromise")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """A KID is unpadded base64url and may start with "-" (e.g. "-9wGqXbV1kY"), which
        argparse would take for an option: after retire/compromise, the next word is the KID."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args = parser.parse_args

        def parse_kid_safely(args: Any = None, namespace: Any = None) -> Any:
            words = list(args) if args is not None else []
            for i, word in enumerate(words[:-1]):
                following = words[i + 1]
                if word in NEEDS_KID and following.startswith("-") and following != "--":
                    if following not in {"-h", "--help"} and not following.startswith("--"):
                        words = [*words[: i + 1], "--", *words[i + 1 :]]
                    break
            return parse_args(words if args is not None else None, namespace)

        parser.parse_args = parse_kid_safely  # type: ignore[method-assign]
        return parser

    def handle(self, *args: Any, **opts: Any) -> None:
        action, kid = opts["action"], opts["kid"]
        if action in NEEDS_KID and not kid:
            raise CommandError(f"signing_key {action} needs a KID (see signing_key list).")
        if action not in NEEDS_KID and kid:
            raise CommandError(f"signing_key {action} takes no KID.")
        try:
            if action == "list":
                self._list()
            elif action == "create":
                key = signing_key_create(actor=None)
                self.stdout.write(f"{key.kid} active")
            elif action == "rotate":
                key = signing_key_rotate(actor=None)
                self.stdout.write(f"{key.kid} active (the previous key is retired)")
            elif action == "ensure":
                key = signing_key_ensure(actor=None)
                self.stdout.write(f"{key.kid} active")
            elif action == "retire":
                key = signing_key_retire(actor=None, kid=kid)
                self.stdout.write(f"{key.kid} retired")
                self._warn_if_none_active()
            else:
                key = signing_key_compromise(actor=None, kid=kid)
                self.stdout.write(
                    f"{key.kid} compromised: permits it signed now answer unknown_key"
                )
                self._warn_if_none_active()
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _list(self) -> None:
        for key in SigningKey.objects.order_by("-created_at"):
            ended = key.compromised_at or key.retired_at
            self.stdout.write(
                "\t".join(
                    [
                        key.kid,
                        key.status,
                        key.created_at.isoformat(timespec="seconds"),
                        ended.isoformat(timespec="seconds") if ended else "-",
                    ]
                )
            )

    def _warn_if_none_active(self) -> None:
        if not SigningKey.objects.filter(status=KeyStatus.ACTIVE).exists():
            self.stderr.write(
                "No key is active now: issuing permits fails until `signing_key rotate`."
            )
