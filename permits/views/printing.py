"""The print page: choose layout and permits, download at once or queue a print job."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from orgs.access import allow
from orgs.errors import DomainError
from permits.api.printing import PRINT_ROLES, pdf_response
from permits.selectors import get_request_for_user
from permits.services.printing import INLINE_MAX, LAYOUTS, permits_pdf, print_job_create


@allow(*PRINT_ROLES)
@require_http_methods(["GET", "POST"])
def request_print(request: HttpRequest, pk: Any) -> HttpResponse:
    permit_request = get_request_for_user(request.user, pk)
    permits = list(permit_request.permits.order_by("serial").only("serial", "full_name", "status"))
    if request.method == "POST":
        layout = request.POST.get("layout", "a4x4")
        serials = request.POST.getlist("serials")
        if request.POST.get("select") == "all":
            serials = []
        try:
            count = len(serials) or len(permits)
            if request.POST.get("mode") == "now" and count <= INLINE_MAX:
                pdf = permits_pdf(request=permit_request, layout=layout, serials=serials)
                return pdf_response(pdf, f"{permit_request.reference}.pdf")
            print_job_create(
                actor=request.user, request=permit_request, layout=layout, serials=serials
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request, _("Đã tạo lệnh in %(n)d giấy; tệp PDF sẽ có khi in xong.") % {"n": count}
            )
        return redirect("request-print", pk=permit_request.pk)
    jobs = permit_request.print_jobs.order_by("-created_at")[:20]
    return render(
        request,
        "permits/printing/print.html",
        {
            "req": permit_request,
            "permits": permits,
            "jobs": jobs,
            "layouts": LAYOUTS,
            "inline_max": INLINE_MAX,
        },
    )
