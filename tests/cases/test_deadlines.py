"""Deadlines on the working calendar, the clock stopping while suspended, and the sweep."""

from datetime import datetime

import pytest

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseEvent, DeadlineWarning, Level, PendingNotice
from fengqiao.cases.notifications import fan_out_notices
from fengqiao.cases.states import CaseState
from fengqiao.notify.models import Message
from tests.cases.conftest import TZ

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=TZ)


def dispatch_at(loop, clock, *moment):
    clock.set(*moment)
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    return s.case_dispatch(actor=loop.operator, number=case.number)


def test_handling_deadline_skips_the_national_day_holiday(loop, clock):
    # dispatched Tuesday 30 September 2025; 2 working days: 9 and 10 October
    case = dispatch_at(loop, clock, 2025, 9, 30, 10, 0)
    assert case.due_at == at(2025, 10, 10, 17, 30)


def test_handling_deadline_counts_the_adjusted_working_saturday(loop, clock):
    # dispatched Thursday 9 October 2025; 2 working days: Friday 10 and Saturday 11 (调休 working day)
    case = dispatch_at(loop, clock, 2025, 10, 9, 10, 0)
    assert case.due_at == at(2025, 10, 11, 17, 30)


def test_warning_time_is_eighty_percent_of_working_time(loop, clock):
    case = dispatch_at(loop, clock, 2025, 11, 10, 8, 30)  # Monday; due Wednesday 17:30 = 22.5 working hours
    assert case.due_at == at(2025, 11, 12, 17, 30)
    assert case.warn_at == at(2025, 11, 12, 11, 30)  # 18 working hours after Monday 08:30
    assert case.next_due_at == case.warn_at


def test_suspension_stops_the_clock(loop, clock):
    case = dispatch_at(loop, clock, 2025, 11, 10, 9, 0)  # Monday 09:00; due Wednesday 17:30
    clock.set(2025, 11, 11, 9, 0)
    case = s.case_suspend(actor=loop.leader, number=case.number, reason="等待当事人补充材料")
    assert case.state == CaseState.SUSPENDED and case.next_due_at is None
    clock.set(2025, 11, 13, 9, 0)  # two working days later
    case = s.case_resume(actor=loop.leader, number=case.number)
    assert case.state == CaseState.DISPATCHED
    assert case.due_at == at(2025, 11, 14, 17, 30)  # moved by the 15 working hours the clock stood still


def test_extension_request_and_approval_move_the_deadline(loop, clock):
    case = dispatch_at(loop, clock, 2025, 11, 10, 9, 0)
    s.case_request_extension(actor=loop.handler, number=case.number, working_days=3, reason="需采购配件")
    with pytest.raises(s.TransitionNotAllowed):
        s.case_request_extension(actor=loop.handler, number=case.number, working_days=3, reason="again")
    case = s.case_decide_extension(actor=loop.leader, number=case.number, approve=True)
    assert case.due_at == at(2025, 11, 17, 17, 30) and not case.extension_requested


def test_sweep_warns_then_marks_overdue_then_escalates_and_is_idempotent(loop, clock):
    case = dispatch_at(loop, clock, 2025, 11, 10, 9, 0)  # due Wednesday 12 Nov 17:30
    clock.set(2025, 11, 12, 12, 0)  # past the 80 % mark
    assert s.sweep_deadlines().warned == 1
    assert s.sweep_deadlines().looked_at == 0  # running again does nothing
    assert Case.objects.get(pk=case.pk).warning == DeadlineWarning.YELLOW

    clock.set(2025, 11, 13, 9, 0)
    first = s.sweep_deadlines()
    second = s.sweep_deadlines()
    assert (first.overdue, second.looked_at) == (1, 0)
    case = Case.objects.get(pk=case.pk)
    assert case.warning == DeadlineWarning.RED and case.reminder_count == 1
    assert CaseEvent.objects.filter(case=case, action="overdue").count() == 1
    # the sweep leaves a notice a due event; the worker's next step tells the recipients, once
    overdue_messages = Message.objects.filter(case_number=case.number, topic="case.overdue")
    assert not overdue_messages.exists()
    assert PendingNotice.objects.filter(case=case, topic="case.overdue").count() == 1
    assert (fan_out_notices(), fan_out_notices()) == (2, 0)  # the yellow warning's and the red one's
    assert overdue_messages.filter(channel="inbox", recipient=loop.handler).count() == 1
    assert Message.objects.filter(case_number=case.number, topic="case.warning", recipient=loop.handler).count() == 1
    assert not PendingNotice.objects.exists()

    clock.set(2025, 11, 14, 9, 0)  # 8 working hours of grace later
    assert s.sweep_deadlines().escalated == 1
    case = Case.objects.get(pk=case.pk)
    assert case.level == Level.COUNTY and case.state == CaseState.ACCEPTED
    assert s.sweep_deadlines().looked_at == 0
    assert fan_out_notices() == 1
    assert Message.objects.filter(case_number=case.number, topic="case.escalated").exists()


def test_a_notice_left_by_the_sweep_survives_a_failed_fan_out(loop, clock, monkeypatch):
    case = dispatch_at(loop, clock, 2025, 11, 10, 9, 0)
    clock.set(2025, 11, 13, 9, 0)  # overdue at once
    s.sweep_deadlines()
    from fengqiao.cases import notifications

    def broken(notices):
        list(notices)
        raise RuntimeError("the mail relay's address book is down")

    monkeypatch.setattr(notifications, "write_notices", broken)
    with pytest.raises(RuntimeError):
        fan_out_notices()
    assert PendingNotice.objects.filter(case=case).count() == 1
    assert not Message.objects.filter(topic="case.overdue").exists()
    monkeypatch.undo()
    assert fan_out_notices() == 1
    assert Message.objects.filter(case_number=case.number, topic="case.overdue", recipient=loop.handler).exists()


def test_a_muted_sweep_leaves_no_notice(loop, clock):
    from fengqiao.cases.notifications import muted

    dispatch_at(loop, clock, 2025, 11, 10, 9, 0)
    clock.set(2025, 11, 13, 9, 0)
    with muted():
        assert s.sweep_deadlines().overdue == 1
    assert not PendingNotice.objects.exists() and fan_out_notices() == 0


def test_the_sweeps_statements_do_not_grow_with_the_cases_it_moves(loop, clock, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def sweep_of(n: int) -> int:
        clock.set(2025, 11, 10, 9, 0)
        for _ in range(n):
            dispatch_at(loop, clock, 2025, 11, 10, 9, 0)
        clock.set(2025, 11, 20, 9, 0)  # each is warned, overdue and escalated in one run
        with CaptureQueriesContext(connection) as statements:
            assert s.sweep_deadlines().escalated == n
        return len(statements)

    settings.LOCATOR_CHECK_SECONDS = 3600  # the caches' look at the configuration's version, as in a running process
    sweep_of(1)  # the process's caches (time limits, routing table) filled
    assert sweep_of(2) == sweep_of(6)


def test_sweep_reads_only_due_cases(loop, clock, django_assert_max_num_queries):
    for _ in range(5):
        dispatch_at(loop, clock, 2025, 11, 10, 9, 0)
    clock.set(2025, 11, 10, 10, 0)  # nothing is due yet
    with django_assert_max_num_queries(1):
        assert s.sweep_deadlines().looked_at == 0
