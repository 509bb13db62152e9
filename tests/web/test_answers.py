# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The answer promised to residents, on the staff pages: the case page's facts and its answer form,
the yellow/red "answer due" markers set by the sweep in the inbox, the desk queue and the leader
view, and the lists' "answer overdue" filter."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseEvent, Channel, DeadlineWarning, RequestType
from fengqiao.cases.numbering import tracking_code_display
from fengqiao.cases.states import CaseState
from tests.cases.conftest import TZ, clock, loop  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_pages")]
S = CaseState


def resident_request(loop, **kwargs):
    lon, lat = loop.point()
    defaults = dict(actor=None, channel=Channel.RESIDENT, category=loop.category, lon=lon, lat=lat,
                    description="路灯坏了一个星期，晚上很黑", reporter_name="王小明", reporter_phone="13805751234",
                    request_type=RequestType.COMPLAINT)
    defaults.update(kwargs)
    return s.case_report(**defaults)


def dispatched(loop, case):
    s.case_accept(actor=loop.operator, number=case.number)
    return s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)


def page(client, case) -> str:
    response = client.get(reverse("web:case_detail", args=[case.number]))
    assert response.status_code == 200
    return response.content.decode()


def markers(body: str) -> list[str]:
    """The answer markers on a page: "waiting", "yellow" or "red", in page order."""
    return re.findall(r'class="answer-due answer-due-\w+" data-answer="(\w+)"', body)


def numbers_in(body: str, attribute: str = "data-number") -> list[str]:
    return re.findall(attribute + r'="([^"]+)"', body)


# -- the case page ---------------------------------------------------------------------------------
def test_a_residents_request_shows_its_type_tracking_code_and_answer_deadline(loop, signed_in):
    case = resident_request(loop)
    body = page(signed_in(loop.operator), case)
    assert 'id="request-type">Complaint<' in body
    assert f'id="tracking-code">{tracking_code_display(case.tracking_code)}<' in body
    assert re.search(r"[A-Z0-9]{5}-[A-Z0-9]{5}", tracking_code_display(case.tracking_code))
    status = re.search(r'id="answer-status">(.*?)</dd>', body, re.S).group(1)
    assert f'datetime="{case.answer_due_at.isoformat()}"' in status
    assert markers(status) == ["waiting"]
    # the answer form is offered, open, with a labelled text box
    assert re.search(r'<details class="action card action-answer" id="action-answer" open>', body)
    assert re.search(r'<label for="id_answer_text">Your answer to the resident</label>', body)
    assert re.search(r'<textarea name="text"[^>]*id="id_answer_text"', body)


def test_a_grid_workers_report_has_no_answer_promise_nor_answer_form(loop, signed_in):
    case = loop.report()
    body = page(signed_in(loop.operator), case)
    assert 'id="answer-status"' not in body and 'id="action-answer"' not in body
    assert markers(body) == []


def test_the_sweep_turns_the_marker_yellow_then_red_on_every_list(loop, clock, signed_in):
    clock.set(2025, 11, 10, 9, 0)  # Monday
    waiting = resident_request(loop)  # stays at the desk, not accepted
    handled_here = dispatched(loop, resident_request(loop, description="垃圾没人收"))
    other = dispatched(loop, loop.report(description="not a resident's request"))
    client = signed_in(loop.operator)
    assert markers(client.get(reverse("web:desk")).content.decode()) == ["waiting"]

    clock.now = waiting.answer_warn_at + timedelta(minutes=1)
    s.sweep_deadlines()
    assert Case.objects.get(pk=waiting.pk).answer_warning == DeadlineWarning.YELLOW
    assert markers(page(client, waiting)).count("yellow") == 2  # the badge and the facts
    assert markers(client.get(reverse("web:desk")).content.decode()) == ["yellow"]
    inbox = signed_in(loop.handler).get(reverse("web:case_inbox")).content.decode()
    assert "Answer due soon" in inbox and markers(inbox) == ["yellow"]
    assert other.number in inbox

    clock.now = waiting.answer_due_at + timedelta(minutes=1)
    s.sweep_deadlines()
    assert Case.objects.get(pk=handled_here.pk).answer_warning == DeadlineWarning.RED
    inbox = signed_in(loop.handler).get(reverse("web:case_inbox")).content.decode()
    assert "Answer overdue" in inbox and markers(inbox) == ["red"]
    leader = signed_in(loop.leader).get(reverse("web:leader")).content.decode()
    late = leader.split('id="answers-overdue"', 1)[1].split("</section>", 1)[0]
    assert waiting.number in late and handled_here.number in late and other.number not in late
    assert markers(late) == ["red", "red"]
    assert re.search(r"<strong>2</strong> residents&#x27;? answers overdue|<strong>2</strong> residents' answers overdue",
                     leader)


def test_the_answer_overdue_filter_keeps_only_late_answers(loop, clock, signed_in):
    clock.set(2025, 11, 10, 9, 0)
    late = dispatched(loop, resident_request(loop, description="第一件"))
    clock.set(2025, 11, 12, 9, 0)  # two days later: its answer is not due yet when the first one is late
    recent = dispatched(loop, resident_request(loop, description="第二件"))
    plain = dispatched(loop, loop.report(description="第三件"))
    clock.now = late.answer_due_at + timedelta(minutes=1)
    s.sweep_deadlines()
    assert Case.objects.get(pk=recent.pk).answer_warning != DeadlineWarning.RED

    client = signed_in(loop.handler)
    inbox = reverse("web:case_inbox")
    everything = client.get(inbox).content.decode()
    assert all(c.number in everything for c in (late, recent, plain))
    only_late = client.get(inbox, {"answer": "red"}).content.decode()
    assert late.number in only_late and recent.number not in only_late and plain.number not in only_late
    waiting = client.get(inbox, {"answer": "waiting"}).content.decode()
    assert late.number in waiting and recent.number in waiting and plain.number not in waiting
    assert 'option value="red" selected' in only_late
    # an unknown value is ignored rather than refused
    assert plain.number in client.get(inbox, {"answer": "bogus"}).content.decode()

    desk_late = resident_request(loop, description="第四件")  # the desk's queue holds reported cases
    clock.now = desk_late.answer_due_at + timedelta(minutes=1)
    s.sweep_deadlines()
    fresh = resident_request(loop, description="第五件")
    operator = signed_in(loop.operator)
    whole = numbers_in(operator.get(reverse("web:desk")).content.decode())
    queue = numbers_in(operator.get(reverse("web:desk"), {"answer": "red"}).content.decode())
    assert desk_late.number in queue and fresh.number in whole and fresh.number not in queue
    # (overdue cases escalated by the sweep come back to the desk: they are in the queue too)
    assert set(queue) == {c.number for c in Case.objects.filter(number__in=whole, answer_warning="red",
                                                                answered_at__isnull=True)}


# -- answering -------------------------------------------------------------------------------------
def test_an_operator_answers_through_the_page_and_the_answer_is_highlighted(loop, clock, signed_in):
    case = resident_request(loop)
    client = signed_in(loop.operator)
    url = reverse("web:case_action", args=[case.number, "answer"])
    text = "已转城管中队处理，预计本周内修复。"
    response = client.post(url, {"expected_version": case.version, "text": text, "form_token": "t1"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.answered_at == clock.now
    event = CaseEvent.objects.get(case=case, action="answer")
    assert event.reason == text and event.actor == loop.operator

    body = page(client, case)
    item = re.search(r'<li class="event event-answer is-answer">(.*?)</li>', body, re.S).group(1)
    assert text in item and "shown to the resident" in item
    assert "answered at" in re.search(r'id="answer-status">(.*?)</dd>', body, re.S).group(1)
    assert markers(body) == []
    # the form is still there for a follow-up, closed now
    assert '<details class="action card action-answer" id="action-answer">' in body

    # the same form sent twice does nothing more
    client.post(url, {"expected_version": case.version - 1, "text": text, "form_token": "t1"})
    assert CaseEvent.objects.filter(case=case, action="answer").count() == 1


def test_an_empty_answer_is_refused_and_a_stale_one_keeps_the_text(loop, signed_in):
    case = resident_request(loop)
    client = signed_in(loop.operator)
    url = reverse("web:case_action", args=[case.number, "answer"])
    response = client.post(url, {"expected_version": case.version, "text": "   "})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="id_answer_text_error"' in body
    assert not CaseEvent.objects.filter(case=case, action="answer").exists()

    s.case_accept(actor=loop.operator, number=case.number)  # someone else, meanwhile
    response = client.post(url, {"expected_version": case.version, "text": "请耐心等待，已在处理。"})
    assert response.status_code == 409
    body = response.content.decode()
    assert "请耐心等待，已在处理。" in body and "Someone changed this case" in body
    assert not CaseEvent.objects.filter(case=case, action="answer").exists()


def test_the_lead_department_answers_and_an_assisting_one_is_not_offered_to(loop, signed_in):
    case = dispatched(loop, resident_request(loop))
    case = s.case_request_assist(actor=loop.handler, number=case.number, departments=[loop.county_enforcement])
    assert 'id="action-answer"' in page(signed_in(loop.handler), case)
    assert 'id="action-answer"' not in page(signed_in(loop.county_handler), case)
    response = signed_in(loop.county_handler).post(reverse("web:case_action", args=[case.number, "answer"]),
                                                   {"expected_version": case.version, "text": "答复"})
    assert response.status_code == 403
    assert not CaseEvent.objects.filter(case=case, action="answer").exists()


# -- the desk panel --------------------------------------------------------------------------------
def test_the_desk_panel_of_a_dispatched_case_says_what_happens_next_instead_of_empty_actions(loop, signed_in):
    case = dispatched(loop, resident_request(loop))
    client = signed_in(loop.operator)
    body = client.get(reverse("web:desk_case", args=[case.number])).content.decode()
    assert 'id="next-step"' in body and loop.enforcement.name_en in body
    assert 'id="actions-title"' in body and "Flag for supervision" in body  # the one action left
    s.case_flag(actor=loop.leader, number=case.number)
    body = client.get(reverse("web:desk_case", args=[case.number])).content.decode()
    assert 'id="actions-title"' not in body  # no heading over nothing
    assert 'id="next-step"' in body
    assert f'href="{reverse("web:case_detail", args=[case.number])}#action-answer"' in body
    assert tracking_code_display(case.tracking_code) in body

    reported = resident_request(loop)
    body = signed_in(loop.operator).get(reverse("web:desk_case", args=[reported.number])).content.decode()
    assert 'id="actions-title"' in body and 'id="next-step"' not in body
