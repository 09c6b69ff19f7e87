"""The statistics page for the Department, the police and administrators, and its XLSX export.

Counts only, never a person: requests by status, permits issued per enterprise and day over a
chosen period, hours from submission to approval. permits/stats_selectors.py computes them in
the database; the workbook has one sheet per table of the page, with the same numbers.
"""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from orgs.access import Role, allow
from permits.forms_requests import DateInput
from permits.stats_selectors import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    Period,
    Statistics,
    default_period,
    statistics_for,
)

STATS_ROLES = (Role.DEPARTMENT_REVIEWER, Role.POLICE_REVIEWER, Role.ADMIN)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


DATE_ERRORS = {
    "required": gettext_lazy("Chưa nhập ngày."),
    "invalid": gettext_lazy("Nhập ngày theo dạng ngày/tháng/năm, ví dụ 01/09/2021."),
}


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("Từ ngày"),
        input_formats=DATE_FORMATS,
        widget=DateInput(),
        error_messages=DATE_ERRORS,
    )
    end = forms.DateField(
        label=gettext_lazy("Đến hết ngày"),
        input_formats=DATE_FORMATS,
        widget=DateInput(),
        error_messages=DATE_ERRORS,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("Ngày kết thúc phải từ ngày bắt đầu trở đi."))
            elif (end - start).days + 1 > MAX_PERIOD_DAYS:
                self.add_error(
                    "end",
                    _("Chọn khoảng tối đa %(max)d ngày (đang chọn %(n)d).")
                    % {"max": MAX_PERIOD_DAYS, "n": (end - start).days + 1},
                )
        return data


def _period(request: HttpRequest) -> tuple[PeriodForm, Period]:
    """The period asked for, or the default one (the form then carries the errors, if any)."""
    default = default_period()
    if "start" not in request.GET and "end" not in request.GET:
        form = PeriodForm(initial={"start": default.start, "end": default.end})
        return form, default
    form = PeriodForm(request.GET)
    if form.is_valid():
        return form, Period(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    return form, default


def _page(request: HttpRequest, form: PeriodForm, stats: Statistics) -> HttpResponse:
    context = {
        "form": form,
        "stats": stats,
        "max_days": MAX_PERIOD_DAYS,
        "default_days": DEFAULT_PERIOD_DAYS,
    }
    status = 400 if form.errors else 200
    return render(request, "permits/stats/page.html", context, status=status)


@allow(*STATS_ROLES)
@require_http_methods(["GET"])
def stats_page(request: HttpRequest) -> HttpResponse:
    form, period = _period(request)
    return _page(request, form, statistics_for(period=period))


@allow(*STATS_ROLES)
@require_http_methods(["GET"])
def stats_export(request: HttpRequest) -> HttpResponse:
    """The page's three tables as an .xlsx; a wrong period shows the page with its errors."""
    form, period = _period(request)
    stats = statistics_for(period=period)
    if form.errors:
        return _page(request, form, stats)
    response = HttpResponse(_workbook(stats), content_type=XLSX_TYPE)
    name = f"thong-ke-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- the workbook -----------------------------------------------------------------------------


def _safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading ' (formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _workbook(stats: Statistics) -> bytes:
    from openpyxl import Workbook  # slow to import; only the export needs it
    from openpyxl.styles import Font

    bold = Font(bold=True)
    period_text = _("Từ %(start)s đến hết %(end)s (giờ Hà Nội)") % {
        "start": f"{stats.period.start:%d/%m/%Y}",
        "end": f"{stats.period.end:%d/%m/%Y}",
    }
    workbook = Workbook()

    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = _("Đề nghị theo trạng thái")
    sheet.append([_("Trạng thái"), _("Số đề nghị")])
    for status in stats.statuses:
        sheet.append([_safe(status.label), status.count])
    sheet.append([_("Tổng"), stats.requests_total])
    sheet.column_dimensions["A"].width = 32
    for cell in (*sheet[1], *sheet[sheet.max_row]):
        cell.font = bold

    sheet = workbook.create_sheet(_("Giấy theo DN và ngày"))
    sheet.append([period_text])
    permits = stats.permits
    # As on the page: the total next to the enterprise, then one column per day.
    sheet.append([_("Doanh nghiệp"), _("Tổng"), *(f"{day:%d/%m/%Y}" for day in permits.days)])
    for row in permits.rows:
        sheet.append([_safe(row.short_name), row.total, *row.counts])
    sheet.append([_("Tổng"), permits.total, *permits.day_totals])
    sheet.column_dimensions["A"].width = 24
    sheet.freeze_panes = "C3"
    for cell in (*sheet[2], *sheet[sheet.max_row]):
        cell.font = bold

    sheet = workbook.create_sheet(_("Thời gian phê duyệt"))
    approval = stats.approval
    sheet.append([period_text])
    sheet.append([_("Chỉ số"), _("Giá trị")])
    sheet.append([_("Số đề nghị được phê duyệt trong kỳ"), approval.count])
    sheet.append([_("Trung vị (giờ)"), _hours(approval.median_hours)])
    sheet.append([_("Phân vị 90 (giờ)"), _hours(approval.p90_hours)])
    sheet.column_dimensions["A"].width = 40
    for cell in sheet[2]:
        cell.font = bold
    for cell in (sheet["B4"], sheet["B5"]):
        cell.number_format = "0.0"

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
