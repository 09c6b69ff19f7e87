"""Reads for the statistics page: anonymous counts, aggregated in the database.

Every figure is a GROUP BY or an ORDER BY … OFFSET in SQL, so the page costs the same number
of queries (five) with ten requests as with a hundred thousand. Days are local dates in Hanoi
(settings.TIME_ZONE, Asia/Ho_Chi_Minh). Nothing here reads a personal field, so the figures
are the same before and after permits.services.retention purges personal data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from permits.models import Permit, PermitRequest, RequestStatus

DEFAULT_PERIOD_DAYS = 14
MAX_PERIOD_DAYS = 92  # a quarter: a wider table is unreadable on the page


def _local_tz() -> tzinfo:
    return timezone.get_default_timezone()  # Asia/Ho_Chi_Minh


@dataclass(frozen=True)
class Period:
    """A run of local days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        """Aware datetimes [start 00:00, the day after end 00:00) in Hanoi time."""
        tz = _local_tz()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )


def default_period(today: date | None = None) -> Period:
    """The last DEFAULT_PERIOD_DAYS days, today included."""
    end = today or timezone.localdate()
    return Period(start=end - timedelta(days=DEFAULT_PERIOD_DAYS - 1), end=end)


# --- requests by status ------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


def requests_by_status() -> list[StatusCount]:
    """Every status in workflow order with how many requests are in it now (one query)."""
    counts = dict(PermitRequest.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return [
        StatusCount(status=value, label=str(label), count=counts.get(value, 0))
        for value, label in RequestStatus.choices
    ]


# --- permits by enterprise and day --------------------------------------------------------


@dataclass(frozen=True)
class EnterpriseRow:
    organization_id: int
    short_name: str
    name: str
    counts: list[int]  # one per day of the period
    total: int


@dataclass(frozen=True)
class PermitsByDay:
    days: list[date]
    rows: list[EnterpriseRow]  # enterprises that were issued at least one permit, by name
    day_totals: list[int]
    total: int


def permits_by_enterprise_and_day(*, period: Period) -> PermitsByDay:
    """Permits issued per enterprise and local day of issue (one grouped query).

    Every permit counts, including those revoked or re-issued later: it was issued that day.
    """
    start, end = period.bounds()
    grouped = (
        Permit.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .annotate(day=TruncDate("issued_at", tzinfo=_local_tz()))
        .values_list("organization_id", "organization__short_name", "organization__name", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    days = period.days
    column = {day: i for i, day in enumerate(days)}
    names: dict[int, tuple[str, str]] = {}
    counts: dict[int, list[int]] = {}
    for org_id, short_name, name, day, n in grouped:
        names[org_id] = (short_name, name)
        counts.setdefault(org_id, [0] * len(days))[column[day]] += n
    rows = sorted(
        (
            EnterpriseRow(
                organization_id=org_id,
                short_name=names[org_id][0],
                name=names[org_id][1],
                counts=per_day,
                total=sum(per_day),
            )
            for org_id, per_day in counts.items()
        ),
        key=lambda row: (row.short_name.casefold(), row.organization_id),
    )
    day_totals = [sum(row.counts[i] for row in rows) for i in range(len(days))]
    return PermitsByDay(days=days, rows=rows, day_totals=day_totals, total=sum(day_totals))


# --- time from submission to final approval ------------------------------------------------


@dataclass(frozen=True)
class ApprovalTimes:
    count: int
    median_hours: float | None
    p90_hours: float | None


def _quantile(durations: QuerySet[PermitRequest, timedelta], count: int, q: float) -> float:
    """The q-quantile in hours, interpolated between the two nearest ranks (as
    statistics.quantiles(method="inclusive") and PostgreSQL's percentile_cont): one query
    fetching at most two rows, sorted by the database."""
    position = q * (count - 1)
    low = math.floor(position)
    values = list(durations[low : math.ceil(position) + 1])
    low_value = values[0].total_seconds()
    high_value = values[-1].total_seconds()
    seconds = low_value + (high_value - low_value) * (position - low)
    return seconds / 3600


def approval_times(*, period: Period) -> ApprovalTimes:
    """Hours from (the last) submission to the police approval, for requests approved in the
    period: how many, the median and the 90th percentile (three queries; one when none)."""
    start, end = period.bounds()
    approved = PermitRequest.objects.filter(
        status=RequestStatus.APPROVED,
        approved_at__gte=start,
        approved_at__lt=end,
        submitted_at__isnull=False,
    )
    count = approved.count()
    if count == 0:
        return ApprovalTimes(count=0, median_hours=None, p90_hours=None)
    durations = (
        approved.annotate(
            waited=ExpressionWrapper(
                F("approved_at") - F("submitted_at"), output_field=DurationField()
            )
        )
        .order_by("waited", "pk")
        .values_list("waited", flat=True)
    )
    return ApprovalTimes(
        count=count,
        median_hours=_quantile(durations, count, 0.5),
        p90_hours=_quantile(durations, count, 0.9),
    )


# --- the whole page --------------------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    period: Period
    statuses: list[StatusCount]
    requests_total: int
    permits: PermitsByDay
    approval: ApprovalTimes


def statistics_for(*, period: Period) -> Statistics:
    statuses = requests_by_status()
    return Statistics(
        period=period,
        statuses=statuses,
        requests_total=sum(s.count for s in statuses),
        permits=permits_by_enterprise_and_day(period=period),
        approval=approval_times(period=period),
    )
