"""Statistics of dispute mediation, for the centres and the command centre.

The population is the disputes registered in [date_from, date_to) (local dates, both optional) in
the actor's scope (MANAGE_DISPUTES or VIEW_STATISTICS over the area), narrowed to `area_code`.

Definitions (docs/mediation.md):
- concluded = settled + failed (an agreement came into force, or mediation failed or the dispute
  was referred on without one); withdrawn disputes are counted apart and are not concluded;
- success rate = settled / concluded;
- share settled at township level or below = settled at village or township level / settled;
- median days to settlement = median of (agreement in force − registered), in days, over settled
  disputes;
- performance rate = agreements found performed at a follow-up visit / agreements in force with
  at least one recorded follow-up visit;
- satisfaction = the parties' ratings (1–5): how many, their mean, and the share of 4 and 5.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.core.errors import InvalidInput, NotFound
from fengqiao.mediation.models import (
    Agreement,
    Dispute,
    DisputeType,
    FollowUpResult,
    FollowUpState,
    Level,
    Outcome,
    Party,
)
from fengqiao.mediation.states import OPEN_STATES, DisputeState
from fengqiao.org.permissions import Action, Target, permissions_for

TOWNSHIP_OR_BELOW = (Level.VILLAGE, Level.TOWNSHIP)


@dataclass
class Row:
    key: str
    label: str
    count: int
    settled: int = 0


@dataclass
class Statistics:
    total: int
    open: int
    settled: int
    failed: int
    withdrawn: int
    concluded: int
    success_rate: float | None
    settled_township_or_below: int
    share_township_or_below: float | None
    median_days_to_settlement: float | None
    agreements_followed_up: int
    agreements_performed: int
    performance_rate: float | None
    ratings: int
    mean_rating: float | None
    satisfaction_rate: float | None
    by_type: list[Row] = field(default_factory=list)
    by_level: list[Row] = field(default_factory=list)
    by_outcome: list[Row] = field(default_factory=list)
    by_state: list[Row] = field(default_factory=list)
    by_month: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _scope(actor: Any):
    perms = permissions_for(actor)
    q_manage = perms.scope_q(Action.MANAGE_DISPUTES, area_field="area_code")
    q_stats = perms.scope_q(Action.VIEW_STATISTICS, area_field="area_code")
    if q_manage is None or q_stats is None:
        return None
    return q_manage | q_stats


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def mediation_statistics(*, actor: Any, area_code: str | None = None, date_from: date | None = None,
                         date_to: date | None = None) -> Statistics:
    """The figures above for the actor's scope; an `area_code` outside it is not found."""
    perms = permissions_for(actor)
    if not (perms.may_ever(Action.MANAGE_DISPUTES) or perms.may_ever(Action.VIEW_STATISTICS)):
        raise NotFound("not_found", _("No statistics to show."))
    if area_code:
        target = Target(area_code=area_code)
        if not (perms.can(Action.MANAGE_DISPUTES, target) or perms.can(Action.VIEW_STATISTICS, target)):
            raise NotFound("not_found", _("No such area."))
    if date_from and date_to and date_to < date_from:
        raise InvalidInput("invalid_range", _("The end comes before the start."), field="date_to")
    qs = Dispute.objects.all()
    scope = _scope(actor)
    if scope is not None:
        qs = qs.filter(scope)
    if area_code:
        qs = qs.filter(area_code__startswith=area_code)
    if date_from:
        qs = qs.filter(created_at__gte=_start(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=_start(date_to + timedelta(days=1)))

    rows = list(qs.values_list("pk", "type_id", "level", "state", "outcome", "created_at", "settled_at"))
    outcomes = Counter(r[4] for r in rows)
    settled_rows = [r for r in rows if r[4] == Outcome.SETTLED]
    settled, failed, withdrawn = len(settled_rows), outcomes[Outcome.FAILED], outcomes[Outcome.WITHDRAWN]
    concluded = settled + failed
    township = sum(1 for r in settled_rows if r[2] in TOWNSHIP_OR_BELOW)
    days = [(r[6] - r[5]).total_seconds() / 86400 for r in settled_rows if r[6] is not None]
    median = round(statistics.median(days), 2) if days else None

    ids = [r[0] for r in rows]
    agreements = (Agreement.objects.filter(dispute_id__in=ids, effective_at__isnull=False)
                  .annotate(done=Count("follow_ups", filter=Q(follow_ups__state=FollowUpState.DONE)),
                            performed=Count("follow_ups", filter=Q(follow_ups__result=FollowUpResult.PERFORMED)))
                  .values_list("done", "performed"))
    followed = [(done, performed) for done, performed in agreements if done]
    performed_count = sum(1 for _done, performed in followed if performed)

    ratings: list[int] = [r for r in Party.objects.filter(dispute_id__in=ids, rating__isnull=False).values_list(
        "rating", flat=True) if r is not None]

    types = {t.pk: t for t in DisputeType.objects.all()}
    by_type_count = Counter(r[1] for r in rows)
    by_type_settled = Counter(r[1] for r in settled_rows)
    by_level_count = Counter(r[2] for r in rows)
    by_level_settled = Counter(r[2] for r in settled_rows)
    by_state = Counter(r[3] for r in rows)
    months = Counter(timezone.localtime(r[5]).strftime("%Y-%m") for r in rows)
    months_settled = Counter(timezone.localtime(r[5]).strftime("%Y-%m") for r in settled_rows)
    open_count = sum(by_state[s] for s in OPEN_STATES)

    return Statistics(
        total=len(rows), open=open_count, settled=settled, failed=failed, withdrawn=withdrawn, concluded=concluded,
        success_rate=_ratio(settled, concluded), settled_township_or_below=township,
        share_township_or_below=_ratio(township, settled), median_days_to_settlement=median,
        agreements_followed_up=len(followed), agreements_performed=performed_count,
        performance_rate=_ratio(performed_count, len(followed)), ratings=len(ratings),
        mean_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
        satisfaction_rate=_ratio(sum(1 for r in ratings if r >= 4), len(ratings)),
        by_type=sorted((Row(types[pk].code, types[pk].name, n, by_type_settled[pk]) for pk, n in by_type_count.items()),
                       key=lambda row: (-row.count, row.key)),
        by_level=[Row(level.value, str(level.label), by_level_count[level], by_level_settled[level])
                  for level in Level],
        by_outcome=[Row(Outcome.SETTLED.value, str(Outcome.SETTLED.label), settled),
                    Row(Outcome.FAILED.value, str(Outcome.FAILED.label), failed),
                    Row(Outcome.WITHDRAWN.value, str(Outcome.WITHDRAWN.label), withdrawn),
                    Row("open", _("open"), open_count)],
        by_state=[Row(s.value, str(s.label), by_state[s]) for s in DisputeState if by_state[s]],
        by_month=[Row(m, m, months[m], months_settled[m]) for m in sorted(months)],
    )
