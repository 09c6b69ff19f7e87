"""Forms of the staff pages: upload a list, edit one person.

The rules are the import's (permits.services.staff.staff_clean over permits/normalize.py), so a
value typed here and the same value in a spreadsheet are stored alike.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from permits.models import Staff
from permits.services.staff import StaffInvalid, staff_clean
from permits.staff_list import MAX_BYTES

ACCEPTED_TYPES = (
    ".csv,.xlsx,.txt,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)


class StaffUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Tệp danh sách (.xlsx hoặc .csv)"),
        help_text=_("Tối đa 10 MB. Dòng đầu là dòng tiêu đề; thứ tự các cột tuỳ ý."),
        error_messages={
            "required": _("Hãy chọn tệp danh sách nhân sự."),
            "empty": _("Tệp rỗng, không có dữ liệu."),
        },
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPTED_TYPES}),
    )

    def read(self) -> bytes:
        """The upload's bytes, at most one byte beyond the limit (the parser names the limit)."""
        upload = self.cleaned_data["file"]
        data: bytes = upload.read(MAX_BYTES + 1)
        return data


class StaffForm(forms.Form):
    full_name = forms.CharField(label=_("Họ và tên"), max_length=200)
    id_number = forms.CharField(
        label=_("Số CCCD/CMND"),
        max_length=30,
        help_text=_("CCCD 12 chữ số hoặc CMND 9 chữ số."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    date_of_birth = forms.CharField(
        label=_("Ngày sinh"),
        max_length=20,
        help_text=_("Dạng dd/mm/yyyy, ví dụ 15/05/1985."),
        widget=forms.TextInput(attrs={"placeholder": "dd/mm/yyyy", "autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Số điện thoại"),
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    job_title = forms.CharField(label=_("Chức vụ"), max_length=200, required=False)
    home_address = forms.CharField(label=_("Địa chỉ nơi ở"), max_length=400, required=False)
    vehicle_plate = forms.CharField(
        label=_("Biển số xe"),
        max_length=30,
        required=False,
        help_text=_("Ví dụ 29A-123.45 (ô tô) hoặc 29-B1 123.45 (xe máy); để trống nếu không có."),
    )

    @classmethod
    def for_staff(cls, staff: Staff) -> StaffForm:
        return cls(
            initial={
                "full_name": staff.full_name,
                "id_number": staff.id_number,
                "date_of_birth": staff.date_of_birth.strftime("%d/%m/%Y"),
                "phone": staff.phone,
                "job_title": staff.job_title,
                "home_address": staff.home_address,
                "vehicle_plate": staff.vehicle_plate,
            }
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            return staff_clean(cleaned, today=timezone.localdate())
        except StaffInvalid as e:
            self.add_domain_errors(e)
        return cleaned

    def add_domain_errors(self, error: StaffInvalid) -> None:
        """Put a service's per-column messages under their fields."""
        for detail in error.details:
            column = detail.get("column")
            self.add_error(column if column in self.fields else None, detail["message"])
