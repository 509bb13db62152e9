"""Deadlines are data: each running stage has `due_at` and `warn_at` computed on the working
calendar from the category's time limit and urgency, and `next_due_at`, the one indexed timestamp
the sweep reads (its cost grows with what is due, not with the number of cases).

Warnings: yellow from `warn_at` (DEADLINE_WARN_FRACTION of the stage's time, default 0.8), red from
`due_at`; an overdue case is escalated once DEADLINE_ESCALATE_AFTER working hours have passed.

Besides the stages, a resident's request carries the promise of an answer within
ANSWER_WORKING_DAYS working days (`answer_due_at`, with its own yellow/red `answer_warning`); it
runs whatever the stage, until the first answer, rejection or closing. `next_due_at` is the earlier
of the two clocks' next looks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from fengqiao.cases.models import Case, DeadlineWarning
from fengqiao.cases.states import CLOCK_STATES, STAGE_OF_STATE, CaseState
from fengqiao.core.calendar import TimeUnit, get_calendar
from fengqiao.core.versioning import Remembered

# Used when neither the category nor its ancestors give a limit for the stage.
STAGE_DEFAULTS: dict[str, tuple[int, TimeUnit]] = {
    "accept": (2, TimeUnit.WORKING_HOURS),
    "dispatch": (2, TimeUnit.WORKING_HOURS),
    "handle": (5, TimeUnit.WORKING_DAYS),
    "verify": (1, TimeUnit.WORKING_DAYS),
}
WORKING_UNITS = {TimeUnit.WORKING_HOURS, TimeUnit.WORKING_DAYS}


ANSWER_CHANNELS = frozenset({"resident"})


def answer_working_days() -> int:
    return int(getattr(settings, "ANSWER_WORKING_DAYS", 3))


def warn_fraction() -> float:
    return float(getattr(settings, "DEADLINE_WARN_FRACTION", 0.8))


def escalate_after_hours() -> float:
    return float(getattr(settings, "DEADLINE_ESCALATE_AFTER", 8))


# Limits already looked up, per process; forgotten when the catalogue changes (cases.signals).
_limits: Remembered[tuple[int, str, str], tuple[int, TimeUnit] | None] = Remembered("cases.catalogue")


def stage_limit(case: Case, stage: str) -> tuple[int, TimeUnit]:
    from fengqiao.cases.selectors import time_limit_for

    limit = _limits.get((case.category_id, stage, case.urgency),
                        lambda: time_limit_for(category=case.category, stage=stage, urgency=case.urgency))
    return limit or STAGE_DEFAULTS[stage]


def _deadline(start: datetime, amount: int, unit: TimeUnit) -> tuple[datetime, datetime]:
    calendar = get_calendar()
    due = calendar.add(start, amount, unit)
    if unit in WORKING_UNITS:
        warn = calendar.add_working_seconds(start, warn_fraction() * calendar.working_seconds_between(start, due))
    else:
        warn = start + (due - start) * warn_fraction()
    return due, warn


def stage_deadlines(case: Case, stage: str, start: datetime) -> tuple[datetime, datetime]:
    """(due_at, warn_at) of `stage` started at `start`."""
    return _deadline(start, *stage_limit(case, stage))


def start_answer_clock(case: Case, now: datetime) -> None:
    """A resident's request: the answer is due ANSWER_WORKING_DAYS working days from now."""
    if case.channel in ANSWER_CHANNELS and case.answered_at is None:
        case.answer_due_at, case.answer_warn_at = _deadline(now, answer_working_days(), TimeUnit.WORKING_DAYS)
        case.answer_warning = DeadlineWarning.NONE


def mark_answered(case: Case, now: datetime) -> None:
    """The resident has an answer (or the case's result): the answer clock stops."""
    if case.answered_at is None:
        case.answered_at = now
    case.next_due_at = next_look(case)


def answer_next_look(case: Case) -> datetime | None:
    if case.answered_at is not None or case.answer_due_at is None:
        return None
    if case.answer_warning == DeadlineWarning.NONE and case.answer_warn_at is not None:
        return case.answer_warn_at
    if case.answer_warning in (DeadlineWarning.NONE, DeadlineWarning.YELLOW):
        return case.answer_due_at
    return None


def start_stage(case: Case, now: datetime) -> None:
    """Set the deadlines of the stage the case's state runs (or clear them when none runs)."""
    stage = STAGE_OF_STATE.get(CaseState(case.state))
    case.warning = DeadlineWarning.NONE
    case.overdue_since = None
    case.escalated_for_overdue = False
    if stage is None:
        case.stage_started_at = case.due_at = case.warn_at = None
        case.next_due_at = next_look(case)
        return
    case.stage_started_at = now
    case.due_at, case.warn_at = stage_deadlines(case, stage, now)
    case.next_due_at = next_look(case)


def next_look(case: Case) -> datetime | None:
    """When the sweep must look at the case again; None when nothing more will happen by itself."""
    looks = [t for t in (stage_next_look(case), answer_next_look(case)) if t is not None]
    return min(looks) if looks else None


def stage_next_look(case: Case) -> datetime | None:
    if case.state not in CLOCK_STATES or case.due_at is None:
        return None
    if case.warning == DeadlineWarning.NONE and case.warn_at is not None:
        return case.warn_at
    if case.warning in (DeadlineWarning.NONE, DeadlineWarning.YELLOW):
        return case.due_at
    if not case.escalated_for_overdue and case.overdue_since is not None:
        return escalation_due(case)
    return None


def escalation_due(case: Case) -> datetime | None:
    """When an overdue case is escalated: the grace period after its deadline passed."""
    if case.overdue_since is None:
        return None
    return get_calendar().add_working_seconds(case.overdue_since, escalate_after_hours() * 3600)


def shift_deadlines(case: Case, paused_from: datetime, now: datetime) -> None:
    """The clock stopped from `paused_from` to `now` (suspension): move the deadlines by that much
    working time, so the case has as much time left as it had when it stopped."""
    if case.due_at is None:
        return
    calendar = get_calendar()
    paused = max(0.0, calendar.working_seconds_between(paused_from, now))
    case.due_at = calendar.add_working_seconds(case.due_at, paused) if paused else case.due_at
    if case.warn_at is not None and paused:
        case.warn_at = calendar.add_working_seconds(case.warn_at, paused)
    if case.due_at > now:
        case.warning = DeadlineWarning.YELLOW if case.warn_at and case.warn_at <= now else DeadlineWarning.NONE
        case.overdue_since = None
    case.next_due_at = next_look(case)


def extend(case: Case, working_days: int) -> None:
    calendar = get_calendar()
    base = case.due_at or case.stage_started_at
    if base is None:
        return
    case.due_at = calendar.add(base, working_days, TimeUnit.WORKING_DAYS)
    case.extension_days += working_days
    case.warning = DeadlineWarning.NONE
    case.overdue_since = None
    case.escalated_for_overdue = False
    case.next_due_at = next_look(case)


def is_on_time(case: Case, at: datetime) -> bool:
    return case.overdue_since is None and (case.due_at is None or at <= case.due_at + timedelta(seconds=0))
