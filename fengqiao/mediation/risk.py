"""Risk assessment: the checklist's answers and the rules (data) give a level with its reasons.

`evaluate` is a pure function over rules and thresholds (rows of RiskRule and RiskThreshold, or
anything with the same attributes), so it is tested without a database:

- a ticked yes/no item adds its `points`;
- a numeric item (e.g. people involved) counts from `threshold`: it adds `points` once, or, with
  `per_unit`, once for every full `per_unit` of the answer (30 people at 1 point per 5: 6 points);
- the level is the highest threshold whose `min_points` the total reaches;
- an item with a `level_floor` lifts the level to at least that floor (a threat of violence is
  high risk whatever else is said).

The reasons list every item that counted, with its points and floor, in both languages, and is
stored on the assessment so that the level can be explained later even if the rules change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fengqiao.mediation.models import RISK_ORDER, DeadlineStage, RiskLevel


@dataclass(frozen=True)
class Reason:
    code: str
    text_zh: str
    text_en: str
    points: int
    floor: str  # "" or a RiskLevel value
    answer: Any

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text_zh": self.text_zh, "text_en": self.text_en, "points": self.points,
                "floor": self.floor, "answer": self.answer}


@dataclass(frozen=True)
class RiskResult:
    points: int
    level: RiskLevel
    reasons: list[Reason] = field(default_factory=list)


class UnknownItem(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class BadAnswer(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _rank(level: str) -> int:
    return RISK_ORDER.index(RiskLevel(level))


def _as_number(code: str, value: Any) -> int:
    if isinstance(value, bool) or value is None or value == "":
        return 0 if not value else 1
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadAnswer(code) from None
    if number < 0 or number > 1_000_000:
        raise BadAnswer(code)
    return number


def _as_bool(code: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise BadAnswer(code)


def evaluate(*, rules: Iterable[Any], thresholds: Iterable[Any], answers: Mapping[str, Any]) -> RiskResult:
    """The points, level and reasons for `answers` ({rule code: bool or number}).

    Raises UnknownItem for an answer to no active rule, BadAnswer for a value of the wrong kind.
    """
    rules = list(rules)
    by_code = {rule.code: rule for rule in rules}
    for code in answers:
        if code not in by_code:
            raise UnknownItem(code)
    points = 0
    floor_rank = 0
    reasons: list[Reason] = []
    for rule in rules:
        if rule.code not in answers:
            continue
        value = answers[rule.code]
        if rule.numeric:
            number = _as_number(rule.code, value)
            if number < max(rule.threshold, 1):
                continue
            gained = rule.points * (number // rule.per_unit if rule.per_unit else 1)
            answer: Any = number
        else:
            if not _as_bool(rule.code, value):
                continue
            gained, answer = rule.points, True
        points += gained
        if rule.level_floor:
            floor_rank = max(floor_rank, _rank(rule.level_floor))
        reasons.append(Reason(rule.code, rule.name_zh, rule.name_en or rule.name_zh, gained, rule.level_floor or "",
                              answer))
    level_rank = 0
    for threshold in thresholds:
        if points >= threshold.min_points:
            level_rank = max(level_rank, _rank(threshold.level))
    level = RISK_ORDER[max(level_rank, floor_rank)]
    return RiskResult(points=points, level=level, reasons=reasons)


def stage_deadline(*, risk_level: str, stage: DeadlineStage | str, start: datetime) -> datetime | None:
    """When `stage` must be done for a dispute of `risk_level` that started it at `start`, on the
    working calendar; None when the deadline table has no row for it."""
    from fengqiao.core.calendar import TimeUnit, get_calendar
    from fengqiao.mediation.models import MediationDeadline

    row = MediationDeadline.objects.filter(risk_level=risk_level or RiskLevel.LOW, stage=stage).first()
    if row is None:
        return None
    return get_calendar().add(start, row.value, TimeUnit(row.unit))
