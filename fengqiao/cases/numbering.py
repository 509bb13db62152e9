"""Human-readable case numbers: region code + local date + daily sequence, e.g. 330681110-20261123-0042."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from fengqiao.cases.models import CaseSequence


def next_case_number(*, region_code: str, at: datetime) -> str:
    """The next number for `region_code` on `at`'s local day; call inside the creating transaction,
    as late as possible: the counter's row stays locked until the transaction ends."""
    return next_case_numbers(region_code=region_code, at=at, count=1)[0]


def next_case_numbers(*, region_code: str, at: datetime, count: int) -> list[str]:
    """The next `count` numbers for `region_code` on `at`'s local day, taken with one statement."""
    day = timezone.localtime(at).strftime("%Y%m%d")
    key = f"{region_code}-{day}"
    last = _increment(key, count)
    if last is None:
        try:
            with transaction.atomic():
                CaseSequence.objects.create(key=key, value=count)
                last = count
        except IntegrityError:  # another transaction created it first: take the next values
            last = _increment(key, count)
    assert last is not None
    return [f"{key}-{value:04d}" for value in range(last - count + 1, last + 1)]


def _increment(key: str, by: int) -> int | None:
    """Add `by` to the counter and read it back in one statement (PostgreSQL and SQLite >= 3.35)."""
    q = connection.ops.quote_name
    sql = (f"UPDATE {q(CaseSequence._meta.db_table)} SET {q('value')} = {q('value')} + %s "  # noqa: S608
           f"WHERE {q('key')} = %s RETURNING {q('value')}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [by, key])
        row = cursor.fetchone()
    return row[0] if row else None


# Tracking codes: 10 characters of Crockford's base32 (no I, L, O, U), about 50 random bits, so a
# code cannot be guessed from another; people read them in two groups of five.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_LENGTH = 10
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def normalise_tracking_code(text: str) -> str:
    """What a person typed, as stored: upper case, no spaces or dashes, confusable letters mapped."""
    return "".join(ch for ch in (text or "").upper().translate(_CONFUSABLE) if ch in TRACKING_ALPHABET)


def tracking_code_display(code: str | None) -> str:
    code = code or ""
    return f"{code[:5]}-{code[5:]}" if len(code) == TRACKING_LENGTH else code
