"""Human-readable dispute numbers: TJ + region code + local date + daily sequence,
e.g. TJ330681110-20261123-007 (调解)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from fengqiao.mediation.models import DisputeSequence


def next_dispute_number(*, region_code: str, at: datetime) -> str:
    """The next number for `region_code` on `at`'s local day; call inside the creating transaction."""
    day = timezone.localtime(at).strftime("%Y%m%d")
    key = f"TJ{region_code}-{day}"
    if not DisputeSequence.objects.filter(key=key).update(value=F("value") + 1):
        try:
            with transaction.atomic():
                DisputeSequence.objects.create(key=key, value=1)
        except IntegrityError:  # another transaction created it first: take the next value
            DisputeSequence.objects.filter(key=key).update(value=F("value") + 1)
    value = DisputeSequence.objects.filter(key=key).values_list("value", flat=True).get()
    return f"{key}-{value:03d}"
