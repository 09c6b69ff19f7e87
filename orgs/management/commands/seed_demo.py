"""Demo data for `make run`: idempotent, prints the users and their password."""

from typing import Any

from django.apps import apps
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from orgs.access import Role
from orgs.models import Checkpoint, Organization
from orgs.services import checkpoint_create, organization_create, user_create

DEMO_PASSWORD = "Hanoi-Sept-2021"

ORGS = [
    (
        "0100109106",
        "Tập đoàn Công nghiệp - Viễn thông Quân đội",
        "VIETTEL",
        "telecom",
        "Số 1 Giang Văn Minh, Ba Đình, Hà Nội",
    ),
    (
        "0100684378",
        "Tập đoàn Bưu chính Viễn thông Việt Nam",
        "VNPT",
        "telecom",
        "57 Huỳnh Thúc Kháng, Đống Đa, Hà Nội",
    ),
]
CHECKPOINTS = [
    ("CP-01", "Chốt cầu Chương Dương", "004"),
    ("CP-02", "Chốt Ngã Tư Sở", "006"),
    ("CP-03", "Chốt cầu Thăng Long", "017"),
    ("CP-04", "Chốt Pháp Vân", "008"),
]
# username, full name, roles, org tax code, checkpoint
USERS = [
    ("hr_viettel", "Nguyễn Thị Thu Hương", [Role.ORG_HR], "0100109106", None),
    ("hr_vnpt", "Trần Văn Đức", [Role.ORG_HR], "0100684378", None),
    ("so_tttt", "Lê Minh Tuấn", [Role.DEPARTMENT_REVIEWER], None, None),
    ("cong_an", "Phạm Quốc Hùng", [Role.POLICE_REVIEWER], None, None),
    ("chot_01", "Đỗ Văn Nam", [Role.CHECKPOINT_OFFICER], None, "CP-01"),
    ("quantri", "Quản trị hệ thống", [Role.ADMIN], None, None),
]


class Command(BaseCommand):
    help = "Load demo enterprises, checkpoints and one user of each role (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        for tax_code, name, short, sector, address in ORGS:
            if not Organization.objects.filter(tax_code=tax_code).exists():
                organization_create(
                    actor=None,
                    tax_code=tax_code,
                    name=name,
                    short_name=short,
                    sector=sector,
                    address=address,
                )
        for code, name, district in CHECKPOINTS:
            if not Checkpoint.objects.filter(code=code).exists():
                checkpoint_create(actor=None, code=code, name=name, district=district)
        self.stdout.write(f"Tài khoản mẫu / demo users (mật khẩu / password: {DEMO_PASSWORD})")
        for username, full_name, roles, org_code, cp_code in USERS:
            if not User.objects.filter(username=username).exists():
                user_create(
                    actor=None,
                    username=username,
                    password=DEMO_PASSWORD,
                    roles=roles,
                    organization=Organization.objects.get(tax_code=org_code) if org_code else None,
                    checkpoint=Checkpoint.objects.get(code=cp_code) if cp_code else None,
                    full_name=full_name,
                    email=f"{username}@example.vn",
                )
            self.stdout.write(f"  {username:<12} {', '.join(roles)}")
        # Later apps add their demo data (staff, a signing key) through their AppConfig,
        # so that orgs never imports them.
        for app_config in apps.get_app_configs():
            seed = getattr(app_config, "seed_demo", None)
            if seed is not None:
                seed(self.stdout)
