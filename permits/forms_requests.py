"""Forms of the request pages. They shape input; the services decide what is allowed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orgs.models import Area
from permits.models import RequestEntry


class IdListField(forms.Field):
    """A list of integer ids from checkboxes. Which ids the clerk may use is the service's check."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            return [int(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(_("Danh sách nhân sự không hợp lệ.")) from exc

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(_("Chọn ít nhất một nhân sự."), code="required")


class DateInput(forms.DateInput):
    """dd/mm/yyyy typed as text: a browser's own date box shows the OS locale's order
    (mm/dd/yyyy on many office PCs), which misleads; the server accepts both orders' ISO form.
    """

    def __init__(self, **kwargs: Any) -> None:
        attrs = {"placeholder": "dd/mm/yyyy", "inputmode": "numeric", "autocomplete": "off"}
        super().__init__(format="%d/%m/%Y", attrs=attrs, **kwargs)


class RequestForm(forms.Form):
    """Create or edit a request: people, validity, districts, reason."""

    staff = IdListField(
        label=_("Nhân sự cần cấp giấy"),
        error_messages={"required": _("Chọn ít nhất một nhân sự.")},
    )
    valid_from = forms.DateField(
        label=_("Hiệu lực từ ngày"),
        widget=DateInput(),
        help_text=_("Ngày/tháng/năm, từ hôm nay trở đi."),
    )
    valid_to = forms.DateField(
        label=_("Đến hết ngày"),
        widget=DateInput(),
    )
    whole_city = forms.BooleanField(label=_("Toàn thành phố"), required=False)
    areas = forms.ModelMultipleChoiceField(
        label=_("Quận, huyện, thị xã được đi lại"),
        queryset=Area.objects.filter(is_active=True).order_by("code"),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(
        label=_("Lý do, nhiệm vụ"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Ví dụ: ứng cứu thông tin, bảo dưỡng trạm BTS, phát bưu gửi thiết yếu."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Formatted per form, in the request's language (a module-level % would freeze it).
        self.fields["valid_to"].help_text = _(
            "Tối đa %(n)d ngày, tính cả ngày đầu và ngày cuối."
        ) % {"n": settings.PERMIT_MAX_DAYS}
        today = timezone.localdate()
        if not self.is_bound and not self.initial:
            self.initial.update(
                valid_from=today, valid_to=today + timedelta(days=settings.PERMIT_MAX_DAYS - 1)
            )

    def selected_ids(self) -> set[int]:
        """The ids to show checked: what was posted, else what the request holds."""
        if self.is_bound:
            try:
                data: Any = self.data
                return {int(v) for v in data.getlist("staff")}
            except ValueError:
                return set()
        return set(self.initial.get("staff", ()))

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "staff_ids": data["staff"],
            "valid_from": data["valid_from"],
            "valid_to": data["valid_to"],
            "areas": [a.code for a in data["areas"]],
            "whole_city": data["whole_city"],
            "reason": data["reason"],
        }

    @classmethod
    def initial_for(cls, request: Any) -> dict[str, Any]:
        return {
            "staff": [sid for sid in request.entries.values_list("staff_id", flat=True) if sid],
            "valid_from": request.valid_from,
            "valid_to": request.valid_to,
            "whole_city": request.whole_city,
            "areas": [a.code for a in request.areas.all()],
            "reason": request.reason,
        }


class ReviewForm(forms.Form):
    """A reviewer's decision. Per entry: a checkbox `reject` (the id_number) and an optional
    `reason-<id_number>`; `bulk_reason` fills in the reason of every ticked entry left blank.
    """

    DECISIONS = (
        ("approve", _("Chấp thuận")),
        ("return", _("Trả lại để bổ sung")),
        ("reject", _("Từ chối cả đề nghị")),
    )

    decision = forms.ChoiceField(choices=DECISIONS)
    note = forms.CharField(
        label=_("Ý kiến, ghi chú"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Bắt buộc khi trả lại hoặc từ chối cả đề nghị."),
    )
    bulk_reason = forms.CharField(
        label=_("Lý do chung cho những người được đánh dấu từ chối"),
        required=False,
        max_length=255,
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, entries: list[RequestEntry], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entries = entries

    def ticked(self) -> list[str]:
        if not self.is_bound:
            return []
        data: Any = self.data
        return [str(v) for v in data.getlist("reject")]

    def reasons(self) -> dict[str, str]:
        if not self.is_bound:
            return {}
        return {
            e.id_number: str(self.data.get(f"reason-{e.id_number}", "")).strip()
            for e in self.entries
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        known = {e.id_number: e for e in self.entries}
        reasons, bulk = self.reasons(), (data.get("bulk_reason") or "").strip()
        rejected: list[tuple[str, str]] = []
        for number in self.ticked():
            if number not in known:
                raise forms.ValidationError(_("Danh sách người bị từ chối không hợp lệ."))
            reason = reasons.get(number) or bulk
            if not reason:
                self.add_error(
                    "bulk_reason",
                    _("Cần ghi lý do từ chối %(name)s (ô lý do của dòng đó, hoặc lý do chung).")
                    % {"name": known[number].full_name},
                )
            rejected.append((number, reason))
        data["rejected"] = rejected
        return data

    def rows(self) -> list[dict[str, Any]]:
        """Entries with their tick and typed reason, to redisplay a form with errors."""
        ticked, reasons = set(self.ticked()), self.reasons()
        return [
            {
                "entry": e,
                "ticked": e.id_number in ticked,
                "reason": reasons.get(e.id_number, ""),
            }
            for e in self.entries
        ]


def days_inclusive(start: date, end: date) -> int:
    return (end - start).days + 1
