"""manage.py verify_permit (--qr TEXT | --image FILE.png) [--keys permit-keys.json] [--offline]

Checks one permit from a terminal, e.g. on a laptop at a checkpoint with a saved JWKS.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from permits import credential
from permits.credential import Outcome

EXIT_VALID, EXIT_BAD_INPUT, EXIT_NOT_VALID = 0, 1, 2
DISTRICTS_CSV = Path(__file__).resolve().parents[3] / "orgs" / "data" / "hanoi-districts-2021.csv"

VERDICT = {
    "valid": "HỢP LỆ",
    "expired": "HẾT HẠN",
    "not_yet_valid": "CHƯA CÓ HIỆU LỰC",
    "revoked": "ĐÃ THU HỒI",
    "invalid_signature": "GIẢ MẠO (chữ ký không đúng)",
    "unknown_key": "KHÓA KHÔNG XÁC ĐỊNH",
    "malformed": "MÃ KHÔNG HỢP LỆ",
}


def _district_names() -> dict[str, str]:
    """District names from the reference file the database is loaded from: no DB needed."""
    try:
        with DISTRICTS_CSV.open(encoding="utf-8") as f:
            return {row["code"]: row["name"] for row in csv.DictReader(f)}
    except (OSError, KeyError):
        return {}


def _dmy(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


class Command(BaseCommand):
    help = (
        "Verify one travel permit (TP1 QR text or a picture of it). Keys come from the "
        "database, or from a saved JWKS with --keys (e.g. a copy of "
        "/.well-known/permit-keys.json). --offline touches no database: it needs --keys and "
        "cannot know about revocations. Exit status: 0 valid, 2 not valid (any other result, "
        "revoked included), 1 bad input (no text, unreadable file or JWKS)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> NoReturn:
            # argparse exits 2 on a usage error; 2 means "not valid" here, so bad input is 1.
            if parser.called_from_command_line:
                parser.print_usage(sys.stderr)
                sys.stderr.write(f"verify_permit: error: {message}\n")
                sys.exit(EXIT_BAD_INPUT)
            raise CommandError(f"Error: {message}")

        parser.error = error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--qr", help="the QR text, TP1:...")
        parser.add_argument("--image", help="a photo or scan of the permit (PNG, JPEG…)")
        parser.add_argument("--keys", help="a saved JWKS file to trust instead of the database")
        parser.add_argument(
            "--offline", action="store_true", help="no database at all (needs --keys)"
        )
        parser.add_argument(
            "--date", help="check as of this local date (YYYY-MM-DD) instead of today"
        )

    def _fail(self, message: str) -> NoReturn:
        raise CommandError(message, returncode=EXIT_BAD_INPUT)

    def handle(self, *args: Any, **opts: Any) -> None:
        if bool(opts["qr"]) == bool(opts["image"]):
            self._fail("give exactly one of --qr TEXT or --image FILE")
        if opts["offline"] and not opts["keys"]:
            self._fail("--offline needs --keys permit-keys.json (there is no database to ask)")
        text = opts["qr"] or self._read_image(opts["image"])
        keys = self._keys(opts["keys"]) if opts["keys"] else self._database_keys()
        today = self._today(opts["date"])

        verification = credential.verify(text or "", keys, today=today)
        result = str(verification.outcome)
        claims = verification.claims
        if claims is not None and not opts["offline"]:
            from verification.services import is_revoked

            if is_revoked(claims.serial):
                result = "revoked"

        self.stdout.write(f"Kết quả: {result} — {VERDICT[result]}")
        if text is None:
            self.stdout.write("Lý do: không tìm thấy mã QR trong ảnh")
        elif claims is None:
            self.stdout.write(f"Lý do: {verification.reason}")
        else:
            names = _district_names()
            areas = ", ".join(names.get(a, a) for a in claims.areas) or "Toàn thành phố"
            for label, value in (
                ("Số giấy", claims.serial),
                ("Họ và tên", claims.full_name),
                ("CCCD/CMND (4 số cuối)", claims.id_last4),
                ("Ngày sinh", _dmy(claims.date_of_birth)),
                ("Đơn vị", claims.org_short_name),
                ("Hiệu lực", f"{_dmy(claims.valid_from)} – {_dmy(claims.valid_to)}"),
                ("Phạm vi", areas),
                ("Biển số xe", claims.vehicle_plate or "—"),
            ):
                self.stdout.write(f"{label}: {value}")
        if opts["offline"]:
            self.stdout.write("(ngoại tuyến: chưa đối chiếu danh sách thu hồi)")
        if result != Outcome.VALID:
            sys.exit(EXIT_NOT_VALID)

    def _read_image(self, name: str) -> str | None:
        from verification.services import decode_qr_image

        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            self._fail(f"cannot read {name}: {exc.strerror}")
        return decode_qr_image(data)

    def _keys(self, name: str) -> dict[bytes, Any]:
        try:
            jwks = json.loads(Path(name).read_text(encoding="utf-8"))
        except OSError as exc:
            self._fail(f"cannot read {name}: {exc.strerror}")
        except ValueError:
            self._fail(f"{name} is not JSON")
        keys = credential.keys_from_jwks(jwks)
        if not keys:
            self._fail(f"{name} holds no usable P-256 key")
        return keys

    def _database_keys(self) -> dict[bytes, Any]:
        from permits.services.keys import verification_keys

        return verification_keys()

    def _today(self, value: str | None) -> date:
        if not value:
            return timezone.localdate()
        try:
            return date.fromisoformat(value)
        except ValueError:
            self._fail(f"--date {value!r} is not YYYY-MM-DD")
