"""Open-case counts per area code, read without counting the cases (the map, the leader view).

The case table's triggers (migration 0007) write a +1/−1 `OpenCountChange` row whenever a case
enters or leaves the open states, moves to another area, turns red or is flagged. `fold_changes`
(a periodic job of the worker) adds them into `OpenCount`; `open_counts` reads both, so it is exact
whether or not the worker has folded them yet. Its cost follows the number of area codes in view
and the changes since the last fold, not the number of open cases.

`recount` rebuilds the counts from the cases (after a bulk load with the triggers off, or a
repair); `count_drift` compares them with a live count (`fengqiao audit counts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from fengqiao.cases.models import Case, DeadlineWarning, OpenCount, OpenCountChange
from fengqiao.cases.states import OPEN_STATES
from fengqiao.geo.codes import under

FIGURES = ("open", "overdue", "flagged")


def _prefix_q(prefixes: Iterable[str] | None) -> Q:
    return Q() if prefixes is None else under(prefixes)


def open_counts(prefixes: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
    """{area code: {open, overdue, flagged}} for the area codes under any of `prefixes` (None: all, [] none);
    area codes with no open case are left out."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    where = _prefix_q(prefixes)
    folded = OpenCount.objects.filter(where).values_list("area_code", *FIGURES)
    pending = (OpenCountChange.objects.filter(where).values("area_code")
               .annotate(*[Sum(name) for name in FIGURES]).order_by()
               .values_list("area_code", *[f"{name}__sum" for name in FIGURES]))
    for rows in (folded, pending):
        for code, *figures in rows:
            slot = totals[code]
            for i, value in enumerate(figures):
                slot[i] += value or 0
    return {code: dict(zip(FIGURES, figures, strict=True)) for code, figures in totals.items() if any(figures)}


def fold_changes() -> int:
    """Add the pending changes into the counts and delete them; the number of changes folded.

    Idempotent and safe beside writers and another fold: each change row is deleted by exactly one
    fold (DELETE … RETURNING), and count rows are locked in area-code order."""
    table = connection.ops.quote_name(OpenCountChange._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} RETURNING area_code, open, overdue, flagged")  # noqa: S608
            changes = cursor.fetchall()
        if not changes:
            return 0
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for code, *figures in changes:
            for i, value in enumerate(figures):
                sums[code][i] += value
        OpenCount.objects.bulk_create([OpenCount(area_code=code) for code in sums], ignore_conflicts=True)
        counts = list(OpenCount.objects.select_for_update().filter(area_code__in=list(sums)).order_by("area_code"))
        for count in counts:
            for name, value in zip(FIGURES, sums[count.area_code], strict=True):
                setattr(count, name, getattr(count, name) + value)
        OpenCount.objects.bulk_update(counts, list(FIGURES))
        OpenCount.objects.filter(area_code__in=list(sums), open=0, overdue=0, flagged=0).delete()
    return len(changes)


def open_figures() -> dict[str, Count]:
    """The aggregates of a live count of open cases, by the names of FIGURES (for `.annotate(**…)`)."""
    return {"open": Count("pk"), "overdue": Count("pk", filter=Q(warning=DeadlineWarning.RED)),
            "flagged": Count("pk", filter=Q(supervised=True))}


def _live(prefixes: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
    rows = (Case.objects.filter(_prefix_q(prefixes), state__in=OPEN_STATES).values("area_code")
            .annotate(**open_figures()).order_by())
    return {row["area_code"]: {name: row[name] for name in FIGURES} for row in rows}


def recount() -> int:
    """Rebuild the counts from the cases; the number of area codes counted.

    Writers of cases wait while it runs (on PostgreSQL a SHARE lock on the case table; SQLite has one
    writer anyway), so no change is lost or counted twice."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(Case._meta.db_table)} IN SHARE MODE")
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(OpenCountChange._meta.db_table)}")  # noqa: S608
        OpenCount.objects.all().delete()
        live = _live()
        OpenCount.objects.bulk_create([OpenCount(area_code=code, **figures) for code, figures in live.items()])
    return len(live)


@dataclass(frozen=True)
class Drift:
    area_code: str
    kept: dict[str, int]
    counted: dict[str, int]


def count_drift(prefixes: Sequence[str] | None = None) -> list[Drift]:
    """Area codes whose kept counts differ from a count of the open cases (empty: all agree)."""
    zero = dict.fromkeys(FIGURES, 0)
    kept, counted = open_counts(prefixes), _live(prefixes)
    return [Drift(code, kept.get(code, zero), counted.get(code, zero))
            for code in sorted(set(kept) | set(counted)) if kept.get(code, zero) != counted.get(code, zero)]
