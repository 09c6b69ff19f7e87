"""manage.py verify_permit: online against the database, offline against a saved JWKS."""

# ruff: noqa: F401, F811  (fixtures imported from test_verify_api)

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from permits import credential
from permits.services.keys import jwks
from tests.verification.test_verify_api import (
    claims_for,
    flip_signature,
    sign,
    signing_key,
    store_permit,
)

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_permit", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def saved_jwks(signing_key: Any, tmp_path: Path) -> Path:
    path = tmp_path / "permit-keys.json"
    path.write_text(json.dumps(jwks()), encoding="utf-8")
    return path


def test_it_prints_a_valid_permit_and_exits_0(signing_key):
    claims = claims_for()
    code, out = run("--qr", sign(claims))
    assert code == 0
    assert "Kết quả: valid — HỢP LỆ" in out
    assert "Họ và tên: Nguyễn Thị Thu Hương" in out
    assert "Ngày sinh: 30/05/1971" in out
    assert "Phạm vi: Long Biên, Cầu Giấy" in out
    assert f"Số giấy: {claims.serial}" in out


def test_online_it_knows_about_revocations(signing_key, vnpt, bob):
    claims = claims_for()
    qr = sign(claims)
    store_permit(claims, qr, vnpt, bob, revoked=True)
    code, out = run("--qr", qr)
    assert code == 2
    assert "Kết quả: revoked" in out


def test_a_forgery_exits_2_without_details(signing_key):
    code, out = run("--qr", flip_signature(sign(claims_for())))
    assert code == 2
    assert "invalid_signature" in out
    assert "Nguyễn" not in out


def test_it_reads_a_picture(signing_key, tmp_path):
    from tests.verification.test_verify_image import render_permit

    claims = claims_for()
    path = tmp_path / "permit.png"
    render_permit(claims, sign(claims)).save(path)
    code, out = run("--image", str(path))
    assert code == 0, out
    assert claims.serial in out


def test_a_picture_without_a_qr_is_malformed(tmp_path, signing_key):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(path)
    code, out = run("--image", str(path))
    assert code == 2
    assert "malformed" in out


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--qr", "TP1:X", "--image", "x.png"),
        ("--image", "/nonexistent.png"),
        ("--qr", "x", "--offline"),
    ],
)
def test_bad_input_is_a_command_error(args, db):
    with pytest.raises(CommandError):
        call_command("verify_permit", *args)


def test_offline_with_a_saved_jwks_needs_no_database(saved_jwks, django_db_blocker):
    claims = claims_for()
    qr = sign(claims)
    forged = credential.encode(claims, credential.generate_private_key())
    with django_db_blocker.block():  # any query now raises
        code, out = run("--qr", qr, "--keys", str(saved_jwks), "--offline")
        assert code == 0, out
        assert "HỢP LỆ" in out and "ngoại tuyến" in out
        assert run("--qr", forged, "--keys", str(saved_jwks), "--offline")[0] == 2
        assert run("--qr", "junk", "--keys", str(saved_jwks), "--offline")[0] == 2


def test_offline_checks_dates(saved_jwks):
    claims = claims_for()
    qr = sign(claims)
    later = claims.valid_to.replace(year=claims.valid_to.year + 1).isoformat()
    code, out = run("--qr", qr, "--keys", str(saved_jwks), "--offline", "--date", later)
    assert code == 2
    assert "expired" in out


def test_a_jwks_file_that_is_not_json_is_bad_input(tmp_path, db):
    path = tmp_path / "keys.json"
    path.write_text("nope")
    with pytest.raises(CommandError, match="not JSON"):
        call_command("verify_permit", "--qr", "TP1:X", "--keys", str(path), "--offline")


def test_from_a_shell_the_exit_codes_are_0_2_and_1(saved_jwks, tmp_path):
    """The real process, as an operator runs it: no database configured at all."""
    qr = sign(claims_for())
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "true",
        "SECRET_KEY": "x",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'absent' / 'no.sqlite3'}",  # unusable
    }

    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "verify_permit", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = shell("--qr", qr, "--keys", str(saved_jwks), "--offline")
    assert good.returncode == 0, good.stderr
    assert "HỢP LỆ" in good.stdout
    assert shell("--qr", "junk", "--keys", str(saved_jwks), "--offline").returncode == 2
    bad = shell("--qr", qr, "--offline")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "--keys" in bad.stderr
    assert shell("--bogus").returncode == 1
