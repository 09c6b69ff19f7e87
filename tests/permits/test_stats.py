"""The statistics page and its XLSX export (permits/stats_selectors.py, permits/views/stats.py).

A small data set through the real services, then the test places the permits' issue times and
the requests' submission and approval times (simulating time) so every number is known.
"""

from __future__ import annotations

import html
import io
import re
import statistics
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from orgs.access import Role
from orgs.services import organization_create
from orgs.validators import tax_code_check_digit
from permits.models import Permit, PermitRequest
from permits.services.keys import signing_key_ensure
from permits.services.requests import request_review, request_submit
from permits.stats_selectors import Period, approval_times, default_period
from tests.conftest import client_for, make_user
from tests.permits.test_request_services import import_staff, new_request, people

pytestmark = pytest.mark.django_db

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def today() -> date:
    return timezone.localdate()


def at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """A Hanoi wall-clock time `days_ago` days before today."""
    return datetime.combine(today() - timedelta(days=days_ago), time(hour, minute), tzinfo=HANOI)


def approve(request: PermitRequest, hr: Any, department: Any, police: Any) -> PermitRequest:
    request_submit(actor=hr, request=request)
    request_review(actor=department, request=request, decision="approve")
    return request_review(actor=police, request=request, decision="approve")


def place_approval(request: PermitRequest, *, approved: datetime, hours: float) -> None:
    """Simulate time: the request was submitted `hours` before its approval."""
    PermitRequest.objects.filter(pk=request.pk).update(
        submitted_at=approved - timedelta(hours=hours), approved_at=approved
    )


def place_issue(request: PermitRequest, *times: datetime) -> None:
    for permit, issued in zip(request.permits.order_by("pk"), times, strict=True):
        Permit.objects.filter(pk=permit.pk).update(issued_at=issued)


def dmy(days_ago: int) -> str:
    return (today() - timedelta(days=days_ago)).strftime("%d/%m/%Y")


@pytest.fixture
def known(alice, bob, charlie, dave, viettel, vnpt) -> dict[str, Any]:
    """Statuses: draft 1, submitted 1, department_approved 1, approved 3, rejected 1.

    Permits (local issue day → count): VIETTEL today−13: 1, today−1: 2 (one at 23:30),
    today: 1 (at 00:15, the day before in UTC); VNPT today−3: 1, and today−14: 1 (outside
    the default 14 days). Hours from submission to approval: 10, 30, 60.
    """
    signing_key_ensure()
    v = import_staff(alice, viettel, people(6))
    n = import_staff(bob, vnpt, people(3, start=100, gender_digit="1"))
    v1 = approve(new_request(alice, viettel, v[0:3]), alice, charlie, dave)
    v2 = approve(new_request(alice, viettel, v[3:4]), alice, charlie, dave)
    n1 = approve(new_request(bob, vnpt, n[0:2]), bob, charlie, dave)
    new_request(alice, viettel, v[4:5])  # draft
    request_submit(actor=alice, request=new_request(alice, viettel, v[5:6]))
    dept = request_submit(actor=bob, request=new_request(bob, vnpt, n[2:3]))
    request_review(actor=charlie, request=dept, decision="approve")
    rejected = request_submit(actor=alice, request=new_request(alice, viettel, v[4:5], start=2))
    request_review(actor=charlie, request=rejected, decision="reject", note="Thiếu giấy tờ")

    place_issue(v1, at(1, 23, 30), at(1, 9), at(0, 0, 15))
    place_issue(v2, at(13, 12))
    place_issue(n1, at(3, 10), at(14, 10))
    place_approval(v1, approved=at(1, 12), hours=10)
    place_approval(v2, approved=at(12, 12), hours=30)
    place_approval(n1, approved=at(3, 12), hours=60)
    return {"v1": v1, "v2": v2, "n1": n1}


EXPECTED_STATUSES = {
    "draft": 1,
    "submitted": 1,
    "department_approved": 1,
    "approved": 3,
    "rejected": 1,
    "returned": 0,
}


def cells(table_html: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table_html, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def page_tables(content: str) -> dict[str, list[list[str]]]:
    tables = dict(re.findall(r'<table id="(stats-[a-z]+)"[^>]*>(.*?)</table>', content, re.S))
    return {name: cells(body) for name, body in tables.items()}


def approval_figures(content: str) -> dict[str, str]:
    return dict(re.findall(r'<dd data-approval="(\w+)">(.*?)</dd>', content, re.S))


# --- the numbers ---------------------------------------------------------------------------


def test_the_page_shows_the_known_numbers(charlie, known):
    response = client_for(charlie).get("/stats/")
    assert response.status_code == 200
    content = response.content.decode()
    tables = page_tables(content)

    by_status = {row[0]: row[1] for row in tables["stats-status"][1:]}
    labels = dict(PermitRequest._meta.get_field("status").choices)
    assert by_status == {
        **{str(labels[s]): str(n) for s, n in EXPECTED_STATUSES.items()},
        "Tổng": "7",
    }

    permits = tables["stats-permits"]
    days = [dmy(i) for i in range(13, -1, -1)]
    assert permits[0] == ["Doanh nghiệp", "Tổng", *days]
    zeros = ["0"] * 14
    viettel = zeros.copy()
    viettel[0], viettel[12], viettel[13] = "1", "2", "1"
    vnpt = zeros.copy()
    vnpt[10] = "1"
    totals = [str(int(a) + int(b)) for a, b in zip(viettel, vnpt, strict=True)]
    assert permits[1:] == [
        ["VIETTEL", "4", *viettel],
        ["VNPT", "1", *vnpt],
        ["Tổng", "5", *totals],
    ]

    # 10, 30, 60 hours: median 30, 90th percentile 30 + 0.8 × 30 = 54.
    assert statistics.quantiles([10, 30, 60], n=10, method="inclusive")[8] == pytest.approx(54)
    assert approval_figures(content) == {"count": "3", "median": "30,0 giờ", "p90": "54,0 giờ"}


def test_a_chosen_period_narrows_the_permits_and_the_approvals(charlie, known):
    response = client_for(charlie).get("/stats/", {"start": dmy(5), "end": dmy(0)})
    assert response.status_code == 200
    content = response.content.decode()
    permits = page_tables(content)["stats-permits"]
    assert permits[0] == ["Doanh nghiệp", "Tổng", *(dmy(i) for i in range(5, -1, -1))]
    assert permits[-1][1] == "4"  # VIETTEL 3 (yesterday 2, today 1) + VNPT 1
    # Approved in the period: 10 h and 60 h.
    assert approval_figures(content) == {"count": "2", "median": "35,0 giờ", "p90": "55,0 giờ"}


def test_the_day_of_issue_is_the_local_day_in_hanoi(known):
    """00:15 in Hanoi is 17:15 UTC the day before: it counts for today."""
    from permits.stats_selectors import permits_by_enterprise_and_day

    table = permits_by_enterprise_and_day(period=Period(start=today(), end=today()))
    assert [(row.short_name, row.counts) for row in table.rows] == [("VIETTEL", [1])]


def test_approval_times_match_pythons_statistics_on_more_data(alice, charlie, dave, viettel):
    signing_key_ensure()
    staff = import_staff(alice, viettel, people(7))
    hours = [3.5, 1, 100, 7.25, 20, 48, 0.5]
    for person, h in zip(staff, hours, strict=True):
        request = approve(new_request(alice, viettel, [person]), alice, charlie, dave)
        place_approval(request, approved=at(2, 15), hours=h)
    result = approval_times(period=default_period())
    assert result.count == 7
    assert result.median_hours == pytest.approx(statistics.median(hours))
    p90 = statistics.quantiles(hours, n=10, method="inclusive")[8]
    assert result.p90_hours == pytest.approx(p90)


def test_nothing_approved_shows_dashes(charlie, db):
    content = client_for(charlie).get("/stats/").content.decode()
    assert approval_figures(content) == {"count": "0", "median": "—", "p90": "—"}
    assert "Chưa có giấy đi đường nào được cấp trong kỳ này." in content


# --- the export ------------------------------------------------------------------------------


def test_the_export_opens_and_carries_the_same_numbers(charlie, known):
    response = client_for(charlie).get("/stats/export.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    period = default_period()
    expected_name = f"thong-ke-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
    assert expected_name in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Đề nghị theo trạng thái",
        "Giấy theo DN và ngày",
        "Thời gian phê duyệt",
    ]

    page = client_for(charlie).get("/stats/").content.decode()
    tables = page_tables(page)
    status_rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert [[label, str(n)] for label, n in status_rows[1:]] == tables["stats-status"][1:]

    permit_rows = [list(r) for r in book.worksheets[1].iter_rows(values_only=True)]
    assert permit_rows[1] == tables["stats-permits"][0]  # header: days as dd/mm/yyyy
    assert [[str(v) for v in row] for row in permit_rows[2:]] == tables["stats-permits"][1:]

    approval = {r[0]: r[1] for r in book.worksheets[2].iter_rows(min_row=3, values_only=True)}
    assert approval == {
        "Số đề nghị được phê duyệt trong kỳ": 3,
        "Trung vị (giờ)": 30.0,
        "Phân vị 90 (giờ)": 54.0,
    }


def test_the_export_follows_the_chosen_period(charlie, known):
    response = client_for(charlie).get("/stats/export.xlsx", {"start": dmy(5), "end": dmy(0)})
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book.worksheets[1].iter_rows(values_only=True))
    assert rows[1][2] == dmy(5) and rows[-1][1] == 4
    assert book.worksheets[2]["B3"].value == 2


def valid_tax_code(prefix: str) -> str:
    for n in range(1000):
        nine = f"{prefix}{n:03d}"
        digit = tax_code_check_digit(nine)
        if digit < 10:
            return f"{nine}{digit}"
    raise AssertionError("no tax code")


def test_a_formula_looking_enterprise_name_is_escaped_in_the_export(charlie, dave, db):
    signing_key_ensure()
    evil = organization_create(
        actor=None,
        tax_code=valid_tax_code("010999"),
        name="Công ty thử nghiệm",
        short_name='=HYPERLINK("x")',
        sector="postal",
    )
    hr = make_user("mallory", Role.ORG_HR, organization=evil)
    staff = import_staff(hr, evil, people(1))
    approve(new_request(hr, evil, staff), hr, charlie, dave)
    book = load_workbook(io.BytesIO(client_for(charlie).get("/stats/export.xlsx").content))
    sheet = book.worksheets[1]
    assert sheet["A3"].value == "'" + evil.short_name
    assert sheet["A3"].data_type == "s"  # text, not a formula
    page = client_for(charlie).get("/stats/").content.decode()
    assert "=HYPERLINK(&quot;x&quot;)" in page


# --- the period form -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"start": "10/09/2021", "end": "01/09/2021"},
            "Ngày kết thúc phải từ ngày bắt đầu trở đi.",
        ),
        (
            {"start": "01/01/2021", "end": "30/06/2021"},
            "Chọn khoảng tối đa 92 ngày (đang chọn 181).",
        ),
        ({"start": "hôm qua", "end": "01/09/2021"}, "Nhập ngày theo dạng ngày/tháng/năm"),
        ({"end": "01/09/2021"}, "Chưa nhập ngày."),
    ],
)
def test_a_wrong_period_is_refused_with_the_reason_and_the_default_shown(charlie, params, message):
    for url in ("/stats/", "/stats/export.xlsx"):
        response = client_for(charlie).get(url, params)
        assert response.status_code == 400
        content = html.unescape(response.content.decode())
        assert message in content
        assert "đang hiển thị 14 ngày gần nhất" in content


def test_iso_dates_are_accepted_too(charlie, db):
    response = client_for(charlie).get("/stats/", {"start": "2021-09-01", "end": "2021-09-14"})
    assert response.status_code == 200
    assert "01/09/2021" in response.content.decode()


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/stats/", "/stats/export.xlsx"])
def test_hr_clerks_and_checkpoint_officers_get_403(alice, erin, url):
    assert client_for(alice).get(url).status_code == 403
    assert client_for(erin).get(url).status_code == 403


@pytest.mark.parametrize("url", ["/stats/", "/stats/export.xlsx"])
def test_the_department_the_police_and_administrators_may_look(charlie, dave, root, url):
    for user in (charlie, dave, root):
        assert client_for(user).get(url).status_code == 200


def test_anonymous_callers_are_sent_to_sign_in(client, db):
    response = client.get("/stats/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- cost --------------------------------------------------------------------------------------


def build(n: int, *, start: int, hr: Any, organization: Any, department: Any, police: Any) -> None:
    """n one-person requests: a quarter each draft, submitted, approved, rejected."""
    staff = import_staff(hr, organization, people(n, start=start))
    for i, person in enumerate(staff):
        request = new_request(hr, organization, [person])
        kind = i % 4
        if kind == 1:
            request_submit(actor=hr, request=request)
        elif kind == 2:
            approve(request, hr, department, police)
        elif kind == 3:
            request_submit(actor=hr, request=request)
            request_review(actor=department, request=request, decision="reject", note="Không")


def queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/stats/", "/stats/export.xlsx"])
def test_the_cost_in_queries_does_not_grow_with_the_data(
    url, alice, bob, charlie, dave, viettel, vnpt, django_assert_num_queries
):
    signing_key_ensure()
    client = client_for(charlie)
    build(5, start=0, hr=alice, organization=viettel, department=charlie, police=dave)
    client.get(url)  # warm up the session and caches
    small = queries(client, url)
    build(45, start=200, hr=bob, organization=vnpt, department=charlie, police=dave)
    assert PermitRequest.objects.count() == 50
    with django_assert_num_queries(small):
        client.get(url)
