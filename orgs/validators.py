"""Validators for identifiers of the Vietnamese administration (domain.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def tax_code_check_digit(first_nine: str) -> int:
    """N10 = 10 − (Σ wᵢ·Nᵢ) mod 11. A result of 10 is never issued."""
    total = sum(w * int(d) for w, d in zip(_TAX_WEIGHTS, first_nine, strict=True))
    return 10 - total % 11


def is_valid_tax_code(value: str) -> bool:
    main, _sep, branch = value.partition("-")
    if len(main) != 10 or not main.isascii() or not main.isdigit():
        return False
    if _sep and (len(branch) != 3 or not branch.isdigit()):
        return False
    return tax_code_check_digit(main[:9]) == int(main[9])


def validate_tax_code(value: str) -> None:
    if not is_valid_tax_code(value):
        raise ValidationError(
            _("Mã số thuế %(value)s không hợp lệ (sai độ dài hoặc chữ số kiểm tra)."),
            code="invalid_tax_code",
            params={"value": value},
        )
