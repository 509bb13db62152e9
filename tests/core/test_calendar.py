"""Working calendar: holidays, adjusted working days (调休), office hours, overrides."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from fengqiao.core.calendar import TimeUnit, WorkingCalendar, get_calendar, parse_spans
from fengqiao.core.models import CalendarDay

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=9, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture
def cal():
    return WorkingCalendar(spans=parse_spans("08:30-12:00,13:30-17:30"), tz=TZ)


def test_national_day_week_is_not_working_and_the_adjusted_saturday_is(cal):
    assert not cal.is_workday(date(2025, 10, 1))
    assert not cal.is_workday(date(2025, 10, 8))
    assert cal.is_workday(date(2025, 9, 28))  # Sunday, adjusted working day
    assert cal.is_workday(date(2025, 10, 11))  # Saturday, adjusted working day
    assert not cal.is_workday(date(2025, 10, 12))


def test_working_days_skip_the_holiday(cal):
    # Received on Tuesday 30 September 2025: 3 working days are 9, 10 and 11 October (a Saturday).
    assert cal.add(at(2025, 9, 30, 10), 3, TimeUnit.WORKING_DAYS) == at(2025, 10, 11, 17, 30)


def test_working_days_do_not_count_the_day_of_receipt(cal):
    # Friday 7 November 2025 afternoon + 3 working days -> Wednesday 12 November 17:30
    assert cal.add(at(2025, 11, 7, 16), 3, TimeUnit.WORKING_DAYS) == at(2025, 11, 12, 17, 30)


def test_working_hours_cross_lunch_and_the_night(cal):
    # 11:00 + 2 working hours: 1 h until 12:00, then 13:30 -> 14:30
    assert cal.add(at(2025, 11, 10, 11), 2, TimeUnit.WORKING_HOURS) == at(2025, 11, 10, 14, 30)
    # 17:00 + 1 working hour: 30 min today, 30 min from 08:30 next day
    assert cal.add(at(2025, 11, 10, 17), 1, TimeUnit.WORKING_HOURS) == at(2025, 11, 11, 9, 0)


def test_working_hours_jump_the_national_day_holiday(cal):
    # 30 Sep 17:00 + 1 working hour: 30 min on the 30th, then the next working day is 9 October
    assert cal.add(at(2025, 9, 30, 17), 1, TimeUnit.WORKING_HOURS) == at(2025, 10, 9, 9, 0)


def test_working_hours_on_the_adjusted_saturday(cal):
    # Friday 10 Oct 2025 17:00 + 2 working hours continues on Saturday 11 Oct (a working day)
    assert cal.add(at(2025, 10, 10, 17), 2, TimeUnit.WORKING_HOURS) == at(2025, 10, 11, 10, 0)


def test_reported_at_night_starts_counting_next_morning(cal):
    assert cal.add(at(2025, 11, 10, 22), 1, TimeUnit.WORKING_HOURS) == at(2025, 11, 11, 9, 30)


def test_minutes_and_natural_days_ignore_office_hours(cal):
    assert cal.add(at(2025, 10, 1, 23, 50), 30, TimeUnit.MINUTES) == at(2025, 10, 2, 0, 20)
    assert cal.add(at(2025, 9, 30, 10), 7, TimeUnit.NATURAL_DAYS) == at(2025, 10, 7, 10)


def test_working_seconds_between(cal):
    assert cal.working_seconds_between(at(2025, 11, 10, 8, 0), at(2025, 11, 10, 18, 0)) == 7.5 * 3600
    # over the whole National Day holiday only the two adjusted days and normal days count
    assert cal.working_seconds_between(at(2025, 9, 30, 17, 0), at(2025, 10, 9, 9, 0)) == 3600
    assert cal.working_seconds_between(at(2025, 10, 9, 9, 0), at(2025, 9, 30, 17, 0)) == -3600


def test_adding_then_measuring_agrees(cal):
    start = at(2025, 9, 26, 15, 10)
    for hours in (0.5, 3, 7.5, 20, 41):
        end = cal.add(start, hours, TimeUnit.WORKING_HOURS)
        assert cal.working_seconds_between(start, end) == pytest.approx(hours * 3600)


def test_years_beyond_the_package_fall_back_to_weekdays_and_overrides():
    cal = WorkingCalendar(spans=((time(9), time(17)),), overrides={date(2031, 1, 1): False}, tz=TZ)
    assert not cal.is_workday(date(2031, 1, 1))  # override
    assert cal.is_workday(date(2031, 1, 2))  # Thursday
    assert not cal.is_workday(date(2031, 1, 4))  # Saturday


def test_an_override_beats_the_package(cal):
    cal = WorkingCalendar(spans=cal.spans, overrides={date(2025, 10, 11): False}, tz=TZ)
    assert not cal.is_workday(date(2025, 10, 11))


@pytest.mark.django_db
def test_get_calendar_picks_up_an_administrators_override():
    assert get_calendar().is_workday(date(2025, 11, 10))
    CalendarDay.objects.create(date=date(2025, 11, 10), is_workday=False, name="台风停工")
    assert not get_calendar().is_workday(date(2025, 11, 10))


def test_bad_office_hours_are_refused():
    with pytest.raises(ValueError):
        parse_spans("12:00-08:00")
    with pytest.raises(ValueError):
        parse_spans("08:00-12:00,11:00-13:00")


def test_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError):
        cal.working_seconds_between(datetime(2025, 1, 1), datetime(2025, 1, 2))  # noqa: DTZ001
