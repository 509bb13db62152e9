"""Working calendar: working time between two instants and deadlines on working time.

Working days come, in order of precedence, from an administrator's `CalendarDay` override, from
the `chinese_calendar` package (State Council holidays and adjusted working days, 调休) for the
years it covers, and otherwise from the plain Monday–Friday week. Office hours are spans of the
local day (default 08:30–12:00 and 13:30–17:30, setting FENGQIAO_OFFICE_HOURS).

Units of a time limit:
- ``minutes``: natural minutes (an emergency does not wait for office hours);
- ``natural_days``: calendar days, same local time of day;
- ``working_hours``: office time;
- ``working_days``: the end of office hours of the N-th working day after the day it starts
  (the day of receipt is not counted: "3 个工作日内" received on Friday ends on Wednesday 17:30).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

MAX_DAYS_SEARCHED = 3660


class TimeUnit(StrEnum):
    MINUTES = "minutes"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    NATURAL_DAYS = "natural_days"

    @property
    def label(self) -> str:
        return str(UNIT_LABELS[self])


UNIT_LABELS = {
    TimeUnit.MINUTES: _("minutes"),
    TimeUnit.WORKING_HOURS: _("working hours"),
    TimeUnit.WORKING_DAYS: _("working days"),
    TimeUnit.NATURAL_DAYS: _("natural days"),
}
# Short forms used in CSV files: 30m, 4wh, 3wd, 7d.
UNIT_SHORT = {
    TimeUnit.MINUTES: "m",
    TimeUnit.WORKING_HOURS: "wh",
    TimeUnit.WORKING_DAYS: "wd",
    TimeUnit.NATURAL_DAYS: "d",
}


def parse_spans(text: str) -> tuple[tuple[time, time], ...]:
    """'08:30-12:00,13:30-17:30' -> ((08:30, 12:00), (13:30, 17:30)); raises ValueError."""
    spans = []
    for part in text.split(","):
        start_text, _sep, end_text = part.strip().partition("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        if end <= start:
            raise ValueError(f"office hours span {part!r} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False):
        if s2 < e1:
            raise ValueError("office hours spans overlap")
    if not spans:
        raise ValueError("no office hours")
    return tuple(spans)


class WorkingCalendar:
    def __init__(
        self,
        spans: Iterable[tuple[time, time]] | None = None,
        overrides: Mapping[date, bool] | None = None,
        tz: ZoneInfo | None = None,
    ):
        self.spans = tuple(spans) if spans is not None else parse_spans(settings.OFFICE_HOURS)
        self.overrides = dict(overrides or {})
        self.tz = tz or ZoneInfo(settings.TIME_ZONE)
        self._warned_years: set[int] = set()
        self._day_spans: dict[date, tuple[tuple[datetime, datetime], ...]] = {}  # a calendar's days do not change

    # -- days ---------------------------------------------------------------------------------
    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                logger.warning(
                    "holiday calendar has no data for %s; using Monday-Friday plus calendar overrides",
                    day.year,
                )
            return day.weekday() < 5

    def _spans_of(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        spans = self._day_spans.get(day)
        if spans is None:
            spans = self._day_spans[day] = tuple(
                (datetime.combine(day, s, tzinfo=self.tz), datetime.combine(day, e, tzinfo=self.tz))
                for s, e in self.spans) if self.is_workday(day) else ()
        return spans

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("working calendar needs aware datetimes")
        return moment.astimezone(self.tz)

    # -- measuring ----------------------------------------------------------------------------
    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Office time between two instants (negative when end is before start)."""
        if end < start:
            return -self.working_seconds_between(end, start)
        start, end = self._local(start), self._local(end)
        total = 0.0
        day = start.date()
        while day <= end.date():
            for span_start, span_end in self._spans_of(day):
                lo, hi = max(span_start, start), min(span_end, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    # -- adding -------------------------------------------------------------------------------
    def add(self, start: datetime, amount: float, unit: TimeUnit | str) -> datetime:
        unit = TimeUnit(unit)
        if amount < 0:
            raise ValueError("time limits are not negative")
        if unit is TimeUnit.MINUTES:
            return start + timedelta(minutes=amount)
        if unit is TimeUnit.NATURAL_DAYS:
            local = self._local(start)
            return (local + timedelta(days=amount)).astimezone(start.tzinfo)
        if unit is TimeUnit.WORKING_HOURS:
            return self.add_working_seconds(start, amount * 3600)
        return self._end_of_nth_workday(start, int(amount))

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of office time have passed since `start`."""
        if seconds == 0:
            return start
        local = self._local(start)
        remaining = float(seconds)
        day = local.date()
        for _i in range(MAX_DAYS_SEARCHED):
            for span_start, span_end in self._spans_of(day):
                lo = max(span_start, local)
                if span_end <= lo:
                    continue
                available = (span_end - lo).total_seconds()
                if remaining <= available:
                    return (lo + timedelta(seconds=remaining)).astimezone(start.tzinfo)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years")

    def _end_of_nth_workday(self, start: datetime, n: int) -> datetime:
        day = self._local(start).date()
        if n == 0:
            spans = self._spans_of(day)
            return spans[-1][1].astimezone(start.tzinfo) if spans else start
        counted = 0
        for _i in range(MAX_DAYS_SEARCHED):
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
                if counted == n:
                    return datetime.combine(day, self.spans[-1][1], tzinfo=self.tz).astimezone(start.tzinfo)
        raise ValueError("no working day found within ten years")


def _build_calendar() -> WorkingCalendar:
    from fengqiao.core.models import CalendarDay

    return WorkingCalendar(overrides=dict(CalendarDay.objects.values_list("date", "is_workday")))


_cache = None


def get_calendar() -> WorkingCalendar:
    """The process's calendar with the administrators' overrides; rebuilt when they change."""
    global _cache
    if _cache is None:
        from fengqiao.core.versioning import VersionedCache

        _cache = VersionedCache("calendar", _build_calendar, lambda: settings.LOCATOR_CHECK_SECONDS)
    return _cache.get()
