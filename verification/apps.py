from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = _("Kiểm tra tại chốt")
    nav_entries = [
        (["checkpoint_officer"], "scanner", _("Quét mã")),
        (["department_reviewer", "police_reviewer"], "scan-report", _("Lượt kiểm tra")),
    ]
