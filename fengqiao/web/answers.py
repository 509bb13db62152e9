"""The answer promised to residents, as the staff pages show and filter it.

A resident's request carries `answer_due_at` (the answer is due within ANSWER_WORKING_DAYS working
days), `answer_warning` (set by the sweep: "" / "yellow" / "red") and `answered_at` (the first
answer, rejection or closing). Lists mark the requests still waiting for an answer and may keep only
those whose answer is due soon or overdue. Every helper here narrows a queryset that a selector has
already scoped to the actor; none widens it.
"""

from __future__ import annotations

from typing import Any, overload

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fengqiao.cases.deadlines import ANSWER_CHANNELS
from fengqiao.cases.models import Case, DeadlineWarning
from fengqiao.cases.selectors import CASE_LIST_RELATED, MergedCases, cases_visible_to

# the values of the lists' "answer to the resident" filter
ANSWER_FILTERS = [
    ("", _("any")),
    ("waiting", _("waiting for an answer")),
    ("late", _("answer due soon or overdue")),
    ("red", _("answer overdue")),
]
ANSWER_FILTER_VALUES = frozenset(value for value, _label in ANSWER_FILTERS)


def clean_answer_filter(value: str | None) -> str:
    value = (value or "").strip()
    return value if value in ANSWER_FILTER_VALUES else ""


def waiting_q() -> Q:
    """Residents' requests whose answer clock still runs (no answer yet)."""
    return Q(answer_due_at__isnull=False, answered_at__isnull=True)


@overload
def filter_by_answer(qs: QuerySet[Case], which: str) -> QuerySet[Case]: ...
@overload
def filter_by_answer(qs: QuerySet[Case] | MergedCases, which: str) -> QuerySet[Case] | MergedCases: ...
def filter_by_answer(qs: Any, which: str) -> Any:
    """A case list as the selectors give it (a queryset, or the inbox's merged arms), narrowed:
    keep the requests waiting for an answer ("waiting"), those whose answer is due soon or overdue
    ("late") or overdue ("red"); "" keeps everything."""
    if which == "waiting":
        return qs.filter(waiting_q())
    if which == "late":
        return qs.filter(waiting_q(), answer_warning__in=[DeadlineWarning.YELLOW, DeadlineWarning.RED])
    if which == "red":
        return qs.filter(waiting_q(), answer_warning=DeadlineWarning.RED)
    return qs


def answers_overdue(*, actor: Any, area: str | None = None, department: str | None = None,
                    limit: int = 20) -> tuple[list[Case], int]:
    """Residents' requests the actor may see whose answer is overdue, the longest overdue first,
    with their number; `area` (a region or grid code) and `department` (the lead's code) narrow it."""
    qs = filter_by_answer(cases_visible_to(actor), "red")
    if area:
        qs = qs.filter(area_code__startswith=area)
    if department:
        qs = qs.filter(lead_department__code=department)
    rows = list(qs.select_related(*CASE_LIST_RELATED).order_by(F("answer_due_at").asc(), "pk")[:limit])
    total = len(rows) if len(rows) < limit else qs.count()
    return rows, total


def takes_answer(case: Case) -> bool:
    """Whether the case is a resident's request, to whom an answer is promised."""
    return case.channel in ANSWER_CHANNELS or case.answer_due_at is not None
