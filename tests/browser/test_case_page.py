# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""A department handler works a case in Chromium: inbox, case page, start, report back with a photo."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect

from fengqiao.cases import services as s
from fengqiao.cases.models import Case
from tests.browser.conftest import DESKTOP, PHONE
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser

PASSWORD = "pass-word-123"  # tests.factories.UserFactory


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _shoot(page, request, size: str) -> None:
    directory = request.config.rootpath / "test-artifacts" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=directory / f"case_page_{size}.png", full_page=True)


def _dispatched(loop, description: str) -> Case:
    case = loop.report(description=description, address="枫源村村口")
    s.case_accept(actor=loop.operator, number=case.number)
    return s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_handler_starts_and_reports_back_with_a_photo(page, loop, live_url, tmp_path, request):
    case = _dispatched(loop, "井盖缺失，行人有危险")
    late = _dispatched(loop, "路灯不亮")
    soon = _dispatched(loop, "垃圾满溢")
    # deadline markers as the sweep would set them
    Case.objects.filter(pk=late.pk).update(warning="red", due_at=case.due_at - timedelta(days=2))
    Case.objects.filter(pk=soon.pk).update(warning="yellow", due_at=case.due_at - timedelta(days=1))
    photo = tmp_path / "after.jpg"
    Image.new("RGB", (320, 240), (40, 120, 60)).save(photo, "JPEG")

    page.set_viewport_size(DESKTOP)
    page.goto("/login/?next=/cases/")
    page.get_by_label("Username").fill(loop.handler.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # forms submit with Enter

    expect(page).to_have_url(re.compile(r"/cases/$"))
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    expect(page.locator(".case-row")).to_have_count(3)
    expect(page.locator(".case-row").first).to_contain_text("overdue")  # the nearest deadline first
    expect(page.locator(".case-row").nth(1)).to_contain_text("due soon")
    _shoot(page, request, "inbox_desktop")

    # search by number narrows the list (HTMX refresh; the plain form does the same)
    page.get_by_label("Number or text").fill(case.number)
    page.get_by_label("Number or text").press("Enter")
    expect(page.locator(".case-row")).to_have_count(1)

    page.get_by_role("link", name=re.compile(re.escape(case.number))).click()
    expect(page.get_by_role("heading", name=f"Case {case.number}")).to_be_visible()
    expect(page.locator("#case-state")).to_have_text("dispatched")
    # the handler's actions, and nothing of the command desk's
    expect(page.locator("#action-start")).to_be_visible()
    expect(page.locator("#action-dispatch")).to_have_count(0)

    page.get_by_role("button", name="Start handling").click()
    expect(page.locator("#case-state")).to_have_text("in progress")
    expect(page.locator(".messages")).to_contain_text("Done")

    # a text file is no photo: refused with the service's message, the text kept, nothing changed
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    report = page.locator("#action-report_back")
    report.get_by_label("What was done").fill("已补装井盖，现场已清理")
    report.get_by_label("Photos after handling").set_input_files(str(notes))
    report.get_by_role("button", name="Report back").click()
    expect(report.locator(".form-error")).to_contain_text("not a readable JPEG, PNG or WebP image")
    expect(report.get_by_label("What was done")).to_have_value("已补装井盖，现场已清理")
    expect(page.locator("#case-state")).to_have_text("in progress")
    _shoot(page, request, "error_desktop")

    report.get_by_label("Photos after handling").set_input_files(str(photo))
    report.get_by_role("button", name="Report back").click()

    expect(page.locator("#case-state")).to_have_text("handled")
    timeline = page.locator("#timeline")
    expect(timeline.locator("li")).to_have_count(5)  # report, accept, dispatch, start, report back
    expect(timeline).to_contain_text("Report back")
    expect(timeline).to_contain_text("已补装井盖，现场已清理")
    expect(page.locator(".photos img")).to_have_count(1)
    # the thumbnail is served: wait until the browser has loaded it (it may arrive after the page)
    page.wait_for_function("() => { const img = document.querySelector('.photos img');"
                           " return img && img.complete && img.naturalWidth > 0; }", timeout=10_000)
    # after reporting back, the handler has nothing left to do but wait for the check
    expect(page.locator("#action-report_back")).to_have_count(0)
    _shoot(page, request, "desktop")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#case-state")).to_have_text("handled")
    _shoot(page, request, "phone")

    case.refresh_from_db()
    assert case.state == "handled" and case.attachments.filter(kind="after").count() == 1


def test_handler_sees_the_dispatched_case_on_a_phone_in_chinese(page, loop, live_url, request):
    case = _dispatched(loop, "占道经营，影响通行")
    s.case_request_assist(actor=loop.handler, number=case.number, departments=[loop.county_enforcement])
    page.set_viewport_size(PHONE)
    page.goto("/login/?next=/cases/")
    page.fill("#id_username", loop.handler.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page).to_have_url(re.compile(r"/cases/$"))
    _shoot(page, request, "inbox_phone_zh")
    page.locator(".case-link").first.click()
    expect(page.locator("#case-state")).to_be_visible()
    # the first Tab stops: the skip link, then the shell, then the page's own links and actions
    expect(page.locator("#action-start button")).to_be_visible()
    page.locator("#action-start button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#timeline li")).to_have_count(5)  # report, accept, dispatch, assist, start
    _shoot(page, request, "phone_zh")
