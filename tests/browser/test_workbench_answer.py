# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The answer promised to a resident, in Chromium: the request shows its answer deadline, the sweep
turns it yellow then red at the right clock times (in the desk queue, the inbox and on the case
page), and an operator answers through the case page; the answer is highlighted in the timeline."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseEvent, Channel, RequestType
from fengqiao.cases.numbering import tracking_code_display
from tests.browser.conftest import save_screenshot
from tests.browser.conftest import sign_in as staff_sign_in
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def shot(page, request, name: str) -> None:
    save_screenshot(page, request, f"workbench-answer-{name}")


def sign_in(page, user) -> None:
    page.context.clear_cookies()  # one page changes hands between people
    staff_sign_in(page, user.username)


def resident_request(loop, description: str):
    lon, lat = loop.point()
    return s.case_report(actor=None, channel=Channel.RESIDENT, category=loop.category, lon=lon, lat=lat,
                         description=description, reporter_name="王小明", reporter_phone="13805751234",
                         request_type=RequestType.CONSULT)


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_the_answer_deadline_turns_yellow_then_red_and_an_operator_answers(page, live_url, loop, clock, request):
    clock.set(2025, 11, 10, 9, 0)  # Monday
    case = resident_request(loop, "小区路灯坏了一个星期，晚上很黑，什么时候能修？")
    due = case.answer_due_at
    page.set_viewport_size(DESKTOP)
    sign_in(page, loop.operator)

    page.goto(f"/cases/{case.number}/")
    status = page.locator("#answer-status")
    expect(status).to_contain_text("due")
    expect(status.locator("time")).to_have_attribute("datetime", due.isoformat())
    expect(status.locator(".answer-due")).to_have_attribute("data-answer", "waiting")
    expect(page.locator("#request-type")).to_have_text("Question")
    expect(page.locator("#tracking-code")).to_have_text(tracking_code_display(case.tracking_code))
    shot(page, request, "1-waiting")

    # just before the warning time nothing changes; just after, the sweep turns it yellow
    clock.now = case.answer_warn_at - timedelta(minutes=1)
    s.sweep_deadlines()
    page.goto("/desk/")
    item = page.locator(f'.queue-item[data-number="{case.number}"]')
    expect(item.locator(".answer-due")).to_have_attribute("data-answer", "waiting")
    clock.now = case.answer_warn_at + timedelta(minutes=1)
    s.sweep_deadlines()
    page.reload()
    expect(item.locator(".answer-due")).to_have_text("Answer due soon")
    expect(item.locator(".answer-due")).to_have_css("background-color", "rgb(253, 226, 147)")
    shot(page, request, "2-desk-yellow")

    # past the promised time: red, and the queue's filter keeps it
    clock.now = due + timedelta(minutes=1)
    s.sweep_deadlines()
    assert Case.objects.get(pk=case.pk).answer_warning == "red"
    page.select_option("#queue-answer", "red")
    expect(page).to_have_url(re.compile(r"answer=red"))
    expect(page.locator(".queue-item")).to_have_count(1)
    expect(item.locator(".answer-due")).to_have_text("Answer overdue")
    expect(item.locator(".answer-due")).to_have_css("color", "rgb(255, 255, 255)")
    shot(page, request, "3-desk-red")

    # the operator answers on the case page, on a phone
    page.set_viewport_size(PHONE)
    page.goto(f"/cases/{case.number}/")
    expect(page.locator("#case-state + .answer-due, .case-badges .answer-due")).to_have_text("Answer overdue")
    form = page.locator("#action-answer")
    expect(form).to_have_attribute("open", "")
    box = page.get_by_label("Your answer to the resident")
    box.fill("")
    form.get_by_role("button", name="Send the answer").click()
    expect(page.locator("#id_answer_text_error")).to_be_visible()  # required, nothing written
    assert not CaseEvent.objects.filter(case=case, action="answer").exists()
    shot(page, request, "4-answer-error")

    text = "您好，已通知城管中队，预计本周五前修复路灯。"
    page.get_by_label("Your answer to the resident").fill(text)
    page.get_by_role("button", name="Send the answer").click()
    expect(page.locator(".messages")).to_contain_text("Done")
    answer = page.locator("#timeline .event.is-answer")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text(text)
    expect(answer).to_contain_text("shown to the resident")
    expect(page.locator("#answer-status")).to_contain_text("answered at")
    expect(page.locator(".answer-due")).to_have_count(0)
    shot(page, request, "5-answered-phone")

    saved = Case.objects.get(pk=case.pk)
    assert saved.answered_at == clock.now
    assert CaseEvent.objects.get(case=case, action="answer").reason == text
