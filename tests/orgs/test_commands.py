import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from orgs.access import Role, hr_organizations, user_roles
from orgs.models import AuditEvent, Checkpoint, Organization

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_an_organisation_with_a_valid_tax_code():
    out = run(
        "create_org",
        "--tax-code",
        "0100109106",
        "--name",
        "Viettel",
        "--short-name",
        "VTHN",
        "--sector",
        "telecom",
    )
    assert "0100109106" in out
    org = Organization.objects.get(tax_code="0100109106")
    assert (org.short_name, org.sector) == ("VTHN", "telecom")
    assert AuditEvent.objects.filter(action="org.create", object_id=str(org.pk)).exists()


@pytest.mark.parametrize(
    "tax_code", ["0100109107", "010010910", "01001091061", "abcdefghij", "0100109106-12"]
)
def test_it_refuses_a_tax_code_with_a_wrong_check_digit_or_shape(tax_code):
    with pytest.raises(CommandError, match="Mã số thuế"):
        run(
            "create_org",
            "--tax-code",
            tax_code,
            "--name",
            "X",
            "--short-name",
            "X",
            "--sector",
            "postal",
        )
    assert not Organization.objects.exists()


def test_it_accepts_a_branch_tax_code():
    run(
        "create_org",
        "--tax-code",
        "0100684378-001",
        "--name",
        "VNPT HN",
        "--short-name",
        "VNPTHN",
        "--sector",
        "telecom",
    )
    assert Organization.objects.filter(tax_code="0100684378-001").exists()


def test_it_refuses_a_second_organisation_with_the_same_tax_code(viettel):
    with pytest.raises(CommandError, match="Đã có doanh nghiệp"):
        run(
            "create_org",
            "--tax-code",
            viettel.tax_code,
            "--name",
            "X",
            "--short-name",
            "X2",
            "--sector",
            "telecom",
        )
    assert Organization.objects.count() == 1


def test_it_creates_a_checkpoint_in_a_known_district():
    out = run(
        "create_checkpoint", "--code", "CP-09", "--name", "Chốt Pháp Vân", "--district", "008"
    )
    assert "Hoàng Mai" in out
    assert Checkpoint.objects.get(code="CP-09").district.code == "008"


def test_it_refuses_a_checkpoint_in_an_unknown_district():
    with pytest.raises(CommandError, match="999"):
        run("create_checkpoint", "--code", "CP-09", "--name", "X", "--district", "999")
    assert not Checkpoint.objects.exists()


def test_it_creates_an_hr_user_scoped_to_one_organisation(viettel, vnpt):
    run(
        "create_user",
        "hoa",
        "--role",
        "org_hr",
        "--org",
        viettel.tax_code,
        "--password",
        "Giay-Di-Duong-21",
    )
    hoa = User.objects.get(username="hoa")
    assert user_roles(hoa) == {"org_hr"}
    assert list(hr_organizations(hoa)) == [viettel]
    assert hoa.has_perm("orgs.submit_request", viettel)
    assert not hoa.has_perm("orgs.submit_request", vnpt)


def test_it_gives_a_user_several_roles(checkpoint):
    run(
        "create_user",
        "minh",
        "--role",
        "department_reviewer",
        "--role",
        "police_reviewer",
        "--role",
        "checkpoint_officer",
        "--checkpoint",
        "CP-01",
        "--password",
        "Giay-Di-Duong-21",
    )
    minh = User.objects.get(username="minh")
    assert user_roles(minh) == {"department_reviewer", "police_reviewer", "checkpoint_officer"}
    assert minh.profile.checkpoint == checkpoint


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "org_hr"], "--org"),
        (["--role", "org_hr", "--org", "0100109106"], "0100109106"),
        (["--role", "police_reviewer", "--checkpoint", "CP-77"], "CP-77"),
    ],
)
def test_it_refuses_incomplete_user_input(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_user", "x", *args, "--password", "Giay-Di-Duong-21")
    assert not User.objects.filter(username="x").exists()


def test_it_refuses_a_weak_password(viettel):
    with pytest.raises(CommandError, match="Mật khẩu"):
        run("create_user", "x", "--role", "org_hr", "--org", viettel.tax_code, "--password", "123")
    assert not User.objects.filter(username="x").exists()


def test_it_refuses_an_existing_username(alice):
    with pytest.raises(CommandError, match="alice"):
        run("create_user", "alice", "--role", "admin", "--password", "Giay-Di-Duong-21")


def test_seed_demo_is_idempotent_and_prints_users_and_password():
    first = run("seed_demo")
    counts = (User.objects.count(), Organization.objects.count(), Checkpoint.objects.count())
    second = run("seed_demo")
    assert counts == (
        User.objects.count(),
        Organization.objects.count(),
        Checkpoint.objects.count(),
    )
    assert counts[0] >= 6 and counts[1] == 2 and counts[2] >= 3
    for username in ["hr_viettel", "hr_vnpt", "so_tttt", "cong_an", "chot_01", "quantri"]:
        assert username in first and username in second
    assert "Hanoi-Sept-2021" in first
    for role in Role.values:
        assert User.objects.filter(groups__name=role).exists()


def test_a_refused_command_prints_one_line_on_stderr_without_a_traceback(tmp_path):
    # A real process, as an operator runs it. SQLite file of its own so it needs no fixtures.
    env = {
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cmd.sqlite3'}",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
    proc = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_org",
            "--tax-code",
            "123",
            "--name",
            "X",
            "--short-name",
            "X",
            "--sector",
            "telecom",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Mã số thuế 123" in lines[0]
    assert "Traceback" not in proc.stderr
