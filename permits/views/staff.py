"""Staff pages for HR clerks: the list, import with a preview, edit, remove, XLSX export.

Views are thin: the selectors scope every read to the clerk's organisation, the services in
permits/services/staff.py do every write, and domain errors become messages on the page.
"""

from __future__ import annotations

import io
import secrets
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from orgs.access import Role, allow, hr_organization
from permits.forms_staff import StaffForm, StaffUploadForm
from permits.services.staff import (
    ImportReport,
    StaffFileInvalid,
    StaffInvalid,
    StaffListRejected,
    staff_delete,
    staff_import,
    staff_update,
)
from permits.staff_list import FIELD_LABELS, FIELDS
from permits.staff_selectors import STAFF_ORDERS, get_staff_for_user, staff_for_user

PAGE_SIZE = 50
# An error table longer than this is cut: the clerk fixes these first and checks again.
MAX_ERRORS_SHOWN = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The uploaded file waits here between "Kiểm tra" and "Nhập", under a random name that only the
# clerk's session knows. Not under MEDIA_URL: nothing serves this folder.
UPLOAD_DIR = "staff-uploads"
UPLOAD_MAX_AGE = timedelta(hours=6)
SESSION_KEY = "staff_import"


# --- the list ---------------------------------------------------------------------------------


@allow(Role.ORG_HR)
def staff_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    order = request.GET.get("order", "name")
    if order not in STAFF_ORDERS:
        order = "name"
    staff = staff_for_user(request.user, q=q, order=order)
    page = Paginator(staff, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "order": order,
        "sort_links": _sort_links(order),
        "organization": hr_organization(request.user),
    }
    return render(request, "permits/staff/list.html", context)


def _sort_links(current: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the order a click asks for, and the arrow shown now."""
    links: dict[str, dict[str, str]] = {}
    for column in ("name", "id_number", "date_of_birth"):
        if current == column:
            links[column] = {"order": f"-{column}", "arrow": "▲", "aria": "ascending"}
        elif current == f"-{column}":
            links[column] = {"order": column, "arrow": "▼", "aria": "descending"}
        else:
            links[column] = {"order": column, "arrow": "", "aria": "none"}
    return links


# --- import with a preview --------------------------------------------------------------------


@allow(Role.ORG_HR)
@require_http_methods(["GET", "POST"])
def staff_import_page(request: HttpRequest) -> HttpResponse:
    """GET: choose a file. POST "check": dry run and preview. POST "import": save it."""
    organization = hr_organization(request.user)
    context: dict[str, Any] = {"organization": organization, "form": StaffUploadForm()}
    if organization is None:
        context["problem"] = _("Tài khoản của bạn chưa gắn với doanh nghiệp nào.")
        return render(request, "permits/staff/import.html", context)
    if request.method == "GET":
        return render(request, "permits/staff/import.html", context)

    if request.POST.get("action") == "import":
        return _import_checked(request, organization, context)

    form = StaffUploadForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "permits/staff/import.html", context, status=400)
    upload = form.cleaned_data["file"]
    data = form.read()
    context["filename"] = upload.name
    try:
        report = staff_import(
            actor=request.user,
            organization=organization,
            data=data,
            filename=upload.name,
            dry_run=True,
        )
    except StaffListRejected as e:
        _forget_upload(request)
        context.update(_rejection_context(e))
        return render(request, "permits/staff/import.html", context, status=400)
    except StaffFileInvalid as e:
        _forget_upload(request)
        context["problem"] = e.message
        return render(request, "permits/staff/import.html", context, status=400)
    context["report"] = report
    context["warnings"] = _issue_rows(report.warnings)
    context["token"] = _keep_upload(request, data, upload.name, organization.pk)
    return render(request, "permits/staff/import.html", context)


def _import_checked(
    request: HttpRequest, organization: Any, context: dict[str, Any]
) -> HttpResponse:
    kept = request.session.get(SESSION_KEY) or {}
    token = request.POST.get("token", "")
    data = None
    same_token = bool(kept) and secrets.compare_digest(str(kept.get("token", "")), token)
    if same_token and kept.get("organization") == organization.pk:
        data = _read_upload(token)
    if data is None:
        context["problem"] = _(
            "Không còn tệp đã kiểm tra (đã nhập rồi hoặc quá hạn). "
            "Hãy chọn lại tệp và bấm “Kiểm tra”."
        )
        return render(request, "permits/staff/import.html", context, status=400)
    filename = str(kept.get("name", ""))
    context["filename"] = filename
    try:
        report = staff_import(
            actor=request.user, organization=organization, data=data, filename=filename
        )
    except StaffListRejected as e:
        context.update(_rejection_context(e))
        return render(request, "permits/staff/import.html", context, status=400)
    except StaffFileInvalid as e:
        context["problem"] = e.message
        return render(request, "permits/staff/import.html", context, status=400)
    finally:
        _forget_upload(request)
    messages.success(request, _summary(report))
    return redirect("staff-list")


def _summary(report: ImportReport) -> str:
    return _(
        "Đã nhập {rows} dòng: {created} người mới, {updated} người được cập nhật, "
        "{unchanged} người không đổi."
    ).format(
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
    )


def _column_label(column: str) -> str:
    return str(FIELD_LABELS[column]) if column in FIELD_LABELS else _("Cả dòng")


def _issue_rows(issues: Any) -> list[dict[str, Any]]:
    return [{"row": i.row, "column": _column_label(i.column), "message": i.message} for i in issues]


def _rejection_context(error: StaffListRejected) -> dict[str, Any]:
    details = error.details
    errors = [
        {"row": d["row"], "column": _column_label(d["column"]), "message": d["message"]}
        for d in details[:MAX_ERRORS_SHOWN]
    ]
    return {
        "rejection": error.message,
        "errors": errors,
        "bad_rows": len({d["row"] for d in details}),
        "errors_hidden": max(0, len(details) - MAX_ERRORS_SHOWN),
    }


def _upload_path(token: str) -> str:
    return f"{UPLOAD_DIR}/{token}.bin"


def _keep_upload(request: HttpRequest, data: bytes, name: str, organization_id: int) -> str:
    """Store the checked file for the "Nhập" step; returns the token the page posts back."""
    _forget_upload(request)
    _sweep_old_uploads()
    token = secrets.token_urlsafe(24)
    default_storage.save(_upload_path(token), ContentFile(data))
    request.session[SESSION_KEY] = {
        "token": token,
        "name": name[:200],
        "organization": organization_id,
    }
    return token


def _read_upload(token: str) -> bytes | None:
    path = _upload_path(token)
    if not token or not default_storage.exists(path):
        return None
    with default_storage.open(path, "rb") as f:
        data: bytes = f.read()
    return data


def _forget_upload(request: HttpRequest) -> None:
    kept = request.session.pop(SESSION_KEY, None)
    if kept and kept.get("token"):
        default_storage.delete(_upload_path(str(kept["token"])))


def _sweep_old_uploads() -> None:
    """Files of previews never confirmed (the clerk closed the tab) go after a few hours."""
    try:
        _dirs, files = default_storage.listdir(UPLOAD_DIR)
    except FileNotFoundError:
        return
    cutoff = timezone.now() - UPLOAD_MAX_AGE
    for name in files:
        path = f"{UPLOAD_DIR}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except FileNotFoundError:  # swept by a concurrent request
            continue


# --- one person -------------------------------------------------------------------------------


@allow(Role.ORG_HR)
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    staff = get_staff_for_user(request.user, pk)
    if request.method == "GET":
        form = StaffForm.for_staff(staff)
    else:
        form = StaffForm(request.POST)
        if form.is_valid():
            try:
                staff = staff_update(actor=request.user, staff=staff, data=form.cleaned_data)
            except StaffInvalid as e:
                form.add_domain_errors(e)
            else:
                messages.success(
                    request, _("Đã lưu thông tin của {name}.").format(name=staff.full_name)
                )
                return redirect("staff-list")
    status = 400 if form.errors else 200
    return render(request, "permits/staff/edit.html", {"staff": staff, "form": form}, status=status)


@allow(Role.ORG_HR)
@require_http_methods(["GET", "POST"])
def staff_delete_page(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; only POST removes."""
    staff = get_staff_for_user(request.user, pk)
    if request.method == "POST":
        staff_delete(actor=request.user, staff=staff)
        messages.success(
            request, _("Đã xoá {name} khỏi danh sách nhân sự.").format(name=staff.full_name)
        )
        return redirect("staff-list")
    return render(request, "permits/staff/delete.html", {"staff": staff})


# --- spreadsheets -----------------------------------------------------------------------------

# Headers a clerk reads, and that the import understands (staff_list._HEADER_ALIASES).
_REQUIRED = set(FIELDS[:4])


def _safe_cell(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with a ' (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # personal data
    return response


def _style_header(cell: Any, name: str) -> Any:
    """Required columns red, optional ones grey, as on the template's rules sheet."""
    from openpyxl.styles import Font, PatternFill

    cell.font = Font(bold=True, color="FFFFFF")
    colour = "B3261E" if name in _REQUIRED else "5A5F66"
    cell.fill = PatternFill("solid", fgColor=colour)
    return cell


_WIDTHS = {"A": 28, "B": 16, "C": 13, "D": 15, "E": 26, "F": 44, "G": 13}


def _staff_workbook(rows: Any, *, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for letter, width in _WIDTHS.items():
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    sheet.append(
        [_style_header(WriteOnlyCell(sheet, value=str(FIELD_LABELS[n])), n) for n in FIELDS]
    )
    for person in rows:
        dob = WriteOnlyCell(sheet, value=person.date_of_birth)
        dob.number_format = "dd/mm/yyyy"
        sheet.append(
            [
                _safe_cell(person.full_name),
                _safe_cell(person.id_number),  # text: Excel keeps the leading zeros
                dob,
                _safe_cell(person.phone),
                _safe_cell(person.job_title),
                _safe_cell(person.home_address),
                _safe_cell(person.vehicle_plate),
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@allow(Role.ORG_HR)
@require_http_methods(["GET"])
def staff_export(request: HttpRequest) -> HttpResponse:
    """The list as shown (same search and order) as an .xlsx the import reads back."""
    q = request.GET.get("q", "").strip()
    order = request.GET.get("order", "name")
    staff = staff_for_user(request.user, q=q, order=order).iterator(chunk_size=2000)
    content = _staff_workbook(staff, title=_("Nhân sự"))
    stamp = timezone.localdate().strftime("%Y%m%d")
    return _xlsx_response(content, f"nhan-su-{stamp}.xlsx")


@allow(Role.ORG_HR)
@require_http_methods(["GET"])
def staff_template(request: HttpRequest) -> HttpResponse:
    """An empty list to fill in: the headers on sheet 1, an example and the rules on sheet 2.

    The example sits on its own sheet so that a clerk who forgets to delete it does not
    import a made-up person; the ID and phone columns are text so Excel keeps leading zeros.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.worksheets[0]
    sheet.title = _("Danh sách")
    for letter, width in _WIDTHS.items():
        sheet.column_dimensions[letter].width = width
    for letter in ("B", "D", "G"):
        sheet.column_dimensions[letter].number_format = "@"
    sheet.column_dimensions["C"].number_format = "dd/mm/yyyy"
    sheet.freeze_panes = "A2"
    for column, name in enumerate(FIELDS, start=1):
        _style_header(sheet.cell(row=1, column=column, value=str(FIELD_LABELS[name])), name)

    guide = workbook.create_sheet(_("Ví dụ và hướng dẫn"))
    for letter, width in _WIDTHS.items():
        guide.column_dimensions[letter].width = width
    guide.append([str(FIELD_LABELS[name]) for name in FIELDS])
    guide.append(
        [
            "Nguyễn Văn An",
            "001085029902",
            date(1985, 5, 15),
            "0912345678",
            _("Kỹ thuật viên trạm BTS"),
            "Số 1 Láng Hạ, Đống Đa, Hà Nội",
            "29A-123.45",
        ]
    )
    guide["C2"].number_format = "dd/mm/yyyy"
    for cell in guide[1]:
        cell.font = Font(bold=True)
    guide.append([])
    guide.append([_("Cách điền:")])
    guide["A4"].font = Font(bold=True)
    for line in (
        _("Điền nhân sự vào trang “Danh sách”, mỗi người một dòng, giữ nguyên dòng tiêu đề."),
        _("Cột tiêu đề đỏ là bắt buộc; cột xám có thể để trống."),
        _("Số CCCD 12 chữ số hoặc số CMND 9 chữ số; số CCCD phải khớp năm sinh."),
        _("Ngày sinh dạng dd/mm/yyyy; người từ 15 đến 80 tuổi."),
        _("Số điện thoại di động 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09."),
        _("Biển số xe ví dụ 29A-123.45 (ô tô) hoặc 29-B1 123.45 (xe máy); để trống nếu không có."),
        _("Không bắt đầu ô bằng các ký tự = + - @."),
    ):
        guide.append(["• " + line])
    out = io.BytesIO()
    workbook.save(out)
    return _xlsx_response(out.getvalue(), "mau-danh-sach-nhan-su.xlsx")
