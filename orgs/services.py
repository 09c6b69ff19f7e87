"""Writes for organisations, checkpoints and users. Each records an audit event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm

from orgs.access import Role
from orgs.audit import audit_record
from orgs.errors import InvalidInput
from orgs.models import Area, Checkpoint, Organization, Profile, Sector
from orgs.validators import is_valid_tax_code

HR_PERMISSIONS = ("orgs.manage_staff", "orgs.submit_request", "orgs.revoke_permit")


def _first_message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


@transaction.atomic
def organization_create(
    *,
    actor: Any | None,
    tax_code: str,
    name: str,
    short_name: str,
    sector: str,
    address: str = "",
) -> Organization:
    """Create an enterprise. Writes Organization and an audit event."""
    tax_code, name, short_name = tax_code.strip(), name.strip(), short_name.strip()
    if not is_valid_tax_code(tax_code):
        raise InvalidInput(_("Mã số thuế %(code)s không hợp lệ.") % {"code": tax_code})
    if sector not in Sector.values:
        raise InvalidInput(
            _("Lĩnh vực phải là một trong: %(choices)s.") % {"choices": ", ".join(Sector.values)}
        )
    if not name or not short_name:
        raise InvalidInput(_("Tên và tên viết tắt không được để trống."))
    if Organization.objects.filter(tax_code=tax_code).exists():
        raise InvalidInput(_("Đã có doanh nghiệp với mã số thuế %(code)s.") % {"code": tax_code})
    if Organization.objects.filter(short_name__iexact=short_name).exists():
        raise InvalidInput(_("Tên viết tắt %(name)s đã được dùng.") % {"name": short_name})
    org = Organization.objects.create(
        tax_code=tax_code, name=name, short_name=short_name, sector=sector, address=address
    )
    audit_record(actor=actor, action="org.create", object_type="organization", object_id=org.pk)
    return org


@transaction.atomic
def checkpoint_create(*, actor: Any | None, code: str, name: str, district: str) -> Checkpoint:
    """Create a checkpoint in a district. Writes Checkpoint and an audit event."""
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise InvalidInput(_("Mã chốt và tên chốt không được để trống."))
    area = Area.objects.filter(code=district).first()
    if area is None:
        raise InvalidInput(_("Không có quận/huyện mã %(code)s.") % {"code": district})
    if Checkpoint.objects.filter(code=code).exists():
        raise InvalidInput(_("Đã có chốt mã %(code)s.") % {"code": code})
    checkpoint = Checkpoint.objects.create(code=code, name=name, district=area)
    audit_record(actor=actor, action="checkpoint.create", object_type="checkpoint", object_id=code)
    return checkpoint


def hr_grant_organization(*, user: User, organization: Organization) -> None:
    """The one place that grants object permissions: an HR clerk on their enterprise."""
    for perm in HR_PERMISSIONS:
        assign_perm(perm, user, organization)


@transaction.atomic
def user_create(
    *,
    actor: Any | None,
    username: str,
    password: str,
    roles: Iterable[str],
    organization: Organization | None = None,
    checkpoint: Checkpoint | None = None,
    email: str = "",
    full_name: str = "",
) -> User:
    """Create a user with roles. Writes User, Profile, groups, object permissions, audit."""
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in Role.values]
    if not roles or unknown:
        raise InvalidInput(
            _("Vai trò phải là một trong: %(choices)s.") % {"choices": ", ".join(Role.values)}
        )
    if Role.ORG_HR in roles and organization is None:
        raise InvalidInput(_("Vai trò org_hr cần một doanh nghiệp (--org)."))
    if organization is not None and Role.ORG_HR not in roles:
        raise InvalidInput(_("Chỉ vai trò org_hr gắn với doanh nghiệp."))
    if checkpoint is not None and Role.CHECKPOINT_OFFICER not in roles:
        raise InvalidInput(_("Chỉ vai trò checkpoint_officer gắn với chốt."))
    if not username or User.objects.filter(username=username).exists():
        raise InvalidInput(_("Tên đăng nhập %(name)s đã tồn tại.") % {"name": username})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise InvalidInput(_("Mật khẩu không đạt: %(why)s") % {"why": _first_message(exc)}) from exc
    first, _sep, last = full_name.rpartition(" ")
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first,
        last_name=last,
        is_staff=Role.ADMIN in roles,
        is_superuser=Role.ADMIN in roles,
    )
    for role in roles:
        group, _created = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    Profile.objects.create(user=user, checkpoint=checkpoint)
    if organization is not None:
        hr_grant_organization(user=user, organization=organization)
    audit_record(
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.pk,
        details={
            "roles": roles,
            "organization": organization.tax_code if organization else None,
            "checkpoint": checkpoint.code if checkpoint else None,
        },
    )
    return user
