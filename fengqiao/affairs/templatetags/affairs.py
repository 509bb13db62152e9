"""Template filters of village affairs."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def yuan(value: Decimal | None) -> str:
    """An amount in yuan with thousands separators and 2 places (fen), the same in every language:
    ``Decimal("120000")`` → ``120,000.00``; ``None`` → ""."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value):,.2f}"
