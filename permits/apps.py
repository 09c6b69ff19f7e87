from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PermitsConfig(AppConfig):
    name = "permits"
    verbose_name = _("Giấy đi đường")
    # (roles, url name, label) shown in the header; orgs.context_processors reads them.
    nav_entries = [
        (["org_hr"], "staff-list", _("Nhân sự")),
        (["org_hr"], "request-list", _("Đề nghị cấp giấy")),
        (["department_reviewer"], "review-queue-department", _("Thẩm định (Sở TT&TT)")),
        (["police_reviewer"], "review-queue-police", _("Phê duyệt (Công an)")),
        (["department_reviewer", "police_reviewer", "admin"], "stats", _("Thống kê")),
    ]

    def seed_demo(self, stdout: Any) -> None:
        """Demo data for `manage.py seed_demo`: a signing key and Viettel's staff list."""
        from pathlib import Path

        from orgs.models import Organization
        from permits.services.keys import signing_key_ensure
        from permits.services.staff import staff_import

        key = signing_key_ensure(actor=None)
        stdout.write(f"Khóa ký / signing key: {key.kid}")
        org = Organization.objects.filter(short_name="VIETTEL").first()
        if org is not None and not org.staff.exists():
            data = (Path(__file__).parent / "data" / "demo-staff.csv").read_bytes()
            report = staff_import(actor=None, organization=org, data=data, filename="demo.csv")
            stdout.write(f"Nhân sự mẫu / demo staff: {report.created} ({org.short_name})")
