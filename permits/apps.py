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
    ]
