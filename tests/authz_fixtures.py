"""Shared data for the authorisation matrix, built through the real services, on demand.

For each enterprise (viettel: alice's, vnpt: bob's): a staff member, a draft request, a
submitted request, an approved request with its permits, and a finished print job. Each object
is built the first time a test asks for it (`World.kwargs("vnpt_job")`), so a test pays only
for what its URL needs; the personas come from the conftest fixtures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from permits.models import PermitRequest, PrintJob, PrintJobStatus, Staff
from permits.services.keys import signing_key_create
from permits.services.requests import request_create, request_review, request_submit
from permits.services.staff import staff_import

# One person per enterprise (valid CCCDs: province, century/gender digit and birth year agree).
PEOPLE = {
    "viettel": ("Nguyễn Thị Thu Hương", "001171492817", "30/05/1971", "0796667674"),
    "vnpt": ("Lê Hoàng Yến", "001195004321", "01/01/1995", "0987654321"),
}
HR_OF = {"viettel": "alice", "vnpt": "bob"}
SIDES = tuple(PEOPLE)
KINDS = ("org", "staff", "draft", "submitted", "approved", "permit", "job")


class World:
    """Lazily built objects of both enterprises, keyed "<side>_<kind>" (e.g. "viettel_draft")."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._fixtures = request
        self._built: dict[str, Any] = {}
        self._key = False

    def user(self, name: str) -> Any:
        return self._fixtures.getfixturevalue(name)

    def signing_key(self) -> None:
        if not self._key:
            signing_key_create(actor=None)
            self._key = True

    def get(self, key: str) -> Any:
        if key not in self._built:
            side, _sep, kind = key.partition("_")
            assert side in SIDES and kind in KINDS, key
            self._built[key] = getattr(self, f"_build_{kind}")(side)
        return self._built[key]

    def kwargs(self, key: str | None) -> dict[str, Any]:
        """URL kwargs for an object key (None: a URL without arguments)."""
        if key is None:
            return {}
        kind = key.partition("_")[2]
        obj = self.get(key)
        if kind == "org":
            return {"tax_code": obj.tax_code}
        if kind == "staff":
            return {"pk": obj.pk}
        if kind == "permit":
            return {"serial": obj.serial}
        if kind == "job":
            return {"job_id": obj.pk}
        return {"pk": obj.pk}

    # --- builders ---------------------------------------------------------------------------

    def _build_org(self, side: str) -> Any:
        return self.user(side)

    def _build_staff(self, side: str) -> Staff:
        org, hr = self.get(f"{side}_org"), self.user(HR_OF[side])
        name, number, dob, phone = PEOPLE[side]
        data = f"full_name,id_number,date_of_birth,phone\n{name},{number},{dob},{phone}\n"
        staff_import(actor=hr, organization=org, data=data.encode(), filename="staff.csv")
        return Staff.objects.get(organization=org, id_number=number)

    def _draft(self, side: str) -> PermitRequest:
        staff = self.get(f"{side}_staff")
        today = timezone.localdate()
        return request_create(
            actor=self.user(HR_OF[side]),
            organization=staff.organization,
            id_numbers=[staff.id_number],
            valid_from=today,
            valid_to=today + timedelta(days=6),
            areas=["001", "004"],
            reason="Ứng cứu thông tin",
        )

    def _build_draft(self, side: str) -> PermitRequest:
        return self._draft(side)

    def _submitted(self, side: str) -> PermitRequest:
        req = self._draft(side)
        return request_submit(actor=self.user(HR_OF[side]), request=req)

    def _build_submitted(self, side: str) -> PermitRequest:
        return self._submitted(side)

    def _build_approved(self, side: str) -> PermitRequest:
        self.signing_key()
        req = self._submitted(side)
        request_review(actor=self.user("charlie"), request=req, decision="approve")
        req = request_review(actor=self.user("dave"), request=req, decision="approve")
        assert req.permits.count() == 1
        return req

    def _build_permit(self, side: str) -> Any:
        return self.get(f"{side}_approved").permits.get()

    def _build_job(self, side: str) -> PrintJob:
        req = self.get(f"{side}_approved")
        job = PrintJob.objects.create(
            request=req,
            created_by=self.user(HR_OF[side]),
            total=1,
            done=1,
            status=PrintJobStatus.DONE,
            finished_at=timezone.now(),
        )
        job.file.save(f"{req.reference}.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"))
        return job


@pytest.fixture
def world(request: pytest.FixtureRequest, db: Any) -> World:
    return World(request)
