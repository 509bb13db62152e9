"""Area codes carry the tree (docs/architecture.md): a region's or grid's code starts with the codes
of every area above it, so "in this area" is "the code starts with its code"."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q


def under(prefixes: Iterable[str], field_name: str = "area_code") -> Q:
    """Rows whose `field_name` lies under any of `prefixes` (none: no row)."""
    q = Q(pk__in=[])
    for prefix in prefixes:
        q |= Q(**{f"{field_name}__startswith": prefix})
    return q
