"""Reads of staff lists, scoped to the caller's organisation (orgs.access.hr_organizations)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from orgs.access import hr_organizations
from permits.models import Staff
from permits.services.staff import staff_search_key

# The sort orders a staff list offers: name in Vietnamese order (given name first), ID, birth.
STAFF_ORDERS: dict[str, tuple[str, ...]] = {
    "name": ("sort_key", "id_number"),
    "-name": ("-sort_key", "-id_number"),
    "id_number": ("id_number",),
    "-id_number": ("-id_number",),
    "date_of_birth": ("date_of_birth", "sort_key"),
    "-date_of_birth": ("-date_of_birth", "sort_key"),
}


def staff_for_user(user: Any, *, q: str = "", order: str = "name") -> QuerySet[Staff]:
    """The staff of the user's organisation(s), searched and sorted; empty for non-HR users.

    `q` matches names without regard to accents or case ("nguyen van" finds "Nguyễn Văn") and
    ID numbers by their first digits. An unknown `order` falls back to the name order.
    """
    staff = Staff.objects.filter(organization__in=hr_organizations(user))
    term = staff_search_key(q)
    if term:
        digits = term.replace(" ", "")
        match = Q(search_text__contains=term)
        if digits.isdigit():
            match |= Q(id_number__startswith=digits)
        staff = staff.filter(match)
    return staff.order_by(*STAFF_ORDERS.get(order, STAFF_ORDERS["name"]))


def get_staff_for_user(user: Any, pk: int | str) -> Staff:
    """One person of the user's organisation; another organisation's staff is 404 like a miss."""
    try:
        return staff_for_user(user).select_related("organization").get(pk=pk)
    except (Staff.DoesNotExist, ValueError):
        raise Http404 from None
