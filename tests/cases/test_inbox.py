"""The department inbox: what it leads and the assists it still owes, most urgent deadline first,
read as two ordered arms and merged."""

from datetime import timedelta

import pytest
from django.core.paginator import Paginator

from fengqiao.cases import services as s
from fengqiao.cases.selectors import MergedCases, case_inbox

pytestmark = pytest.mark.django_db


def dispatched(loop, clock, to):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    case = s.case_dispatch(actor=loop.operator, number=case.number, department=to)
    clock.now += timedelta(hours=1)  # each later case is due later
    return case


def test_led_cases_and_owed_assists_come_merged_by_deadline(loop, clock):
    own_first = dispatched(loop, clock, loop.enforcement)
    assisted = dispatched(loop, clock, loop.county_enforcement)
    own_second = dispatched(loop, clock, loop.enforcement)
    s.case_request_assist(actor=loop.county_handler, number=assisted.number, departments=[loop.enforcement])
    inbox = case_inbox(actor=loop.handler)
    assert isinstance(inbox, MergedCases)
    assert [c.number for c in inbox[0:10]] == [own_first.number, assisted.number, own_second.number]
    assert inbox.count() == 3
    page = Paginator(inbox, 2).get_page(2)
    assert [c.number for c in page] == [own_second.number] and page.paginator.num_pages == 2


def test_an_assist_reported_leaves_the_inbox_of_the_assisting_department(loop, clock):
    assisted = dispatched(loop, clock, loop.county_enforcement)
    s.case_request_assist(actor=loop.county_handler, number=assisted.number, departments=[loop.enforcement])
    s.case_assist_report(actor=loop.handler, number=assisted.number, department=loop.enforcement, report="已配合")
    assert case_inbox(actor=loop.handler).count() == 0
    assert [c.number for c in case_inbox(actor=loop.county_handler)] == [assisted.number]


def test_filters_apply_to_both_arms(loop, clock):
    own = dispatched(loop, clock, loop.enforcement)
    assisted = dispatched(loop, clock, loop.county_enforcement)
    s.case_request_assist(actor=loop.county_handler, number=assisted.number, departments=[loop.enforcement])
    assert [c.number for c in case_inbox(actor=loop.handler, text=assisted.number)] == [assisted.number]
    assert [c.number for c in case_inbox(actor=loop.handler, text=own.number)] == [own.number]
    assert [c.number for c in case_inbox(actor=loop.handler).filter(pk=assisted.pk)] == [assisted.number]
    assert case_inbox(actor=loop.handler, deadline="red").count() == 0


def test_another_departments_handler_sees_none_of_it(loop, clock):
    dispatched(loop, clock, loop.enforcement)
    assert case_inbox(actor=loop.other_handler).count() == 0
