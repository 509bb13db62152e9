"""Village affairs in Chromium.

A clerk drafts a finance disclosure → the supervision committee member objects → the clerk edits and
submits again → the member approves → the clerk publishes → a resident on a phone reads it and asks
about an item (a consult case exists, linked to the item). And a resident books an appointment on a
phone, downloads the .ics and cancels the booking with its code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from fengqiao.affairs.models import Booking, BookingState, Disclosure, DisclosureQuestion, DisclosureState
from tests.affairs.conftest import people  # noqa: F401 - the fixture, requested by name
from tests.browser.conftest import PHONE, save_screenshot

pytestmark = pytest.mark.browser



@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_RATE = "1000/h"


def shot(page, request, name: str) -> None:
    save_screenshot(page, request, f"affairs-{name}")


def test_disclosure_review_publication_and_a_residents_question(people, browse, request):  # noqa: F811
    clerk = browse(people.clerk)
    clerk.goto("/affairs/staff/disclosures/new/")
    clerk.select_option("#id_village", people.village.code)
    clerk.fill("#id_year", "2026")
    clerk.select_option("#id_quarter", "3")
    clerk.fill("#id_title", "2026年第三季度财务收支公开")
    clerk.fill("#id_items-0-title", "土地承包费收入")
    clerk.select_option("#id_items-0-direction", "income")
    clerk.fill("#id_items-0-amount", "120,000.00")
    clerk.fill("#id_items-1-title", "道路维修支出")
    clerk.select_option("#id_items-1-direction", "expense")
    clerk.fill("#id_items-1-amount", "35600.5")
    with clerk.expect_navigation():
        clerk.click("#save")
    expect(clerk.locator("#disclosure-state")).to_have_text("草稿")
    disclosure = Disclosure.objects.get()
    with clerk.expect_navigation():
        clerk.click("#submit-review")
    expect(clerk.locator("#disclosure-state")).to_have_text("待审核")
    # publishing is not even offered before the review
    expect(clerk.locator("#publish")).to_have_count(0)

    member = browse(people.member)
    member.goto("/affairs/staff/")
    with member.expect_navigation():
        member.click(f"a[href='/affairs/staff/disclosures/{disclosure.pk}/']")
    member.fill("#id_object_reason", "道路维修支出缺少发票")
    with member.expect_navigation():
        member.click("#object")
    expect(member.locator("#disclosure-state")).to_have_text("监委会提出异议")
    shot(member, request, "committee-objection")

    clerk.goto(f"/affairs/staff/disclosures/{disclosure.pk}/")
    expect(clerk.locator(".review-reason")).to_have_text("道路维修支出缺少发票")
    clerk.fill("#id_items-1-note", "附发票及验收单")
    with clerk.expect_navigation():
        clerk.click("#save")
    expect(clerk.locator("#disclosure-state")).to_have_text("草稿")
    with clerk.expect_navigation():
        clerk.click("#submit-review")

    member.goto(f"/affairs/staff/disclosures/{disclosure.pk}/")
    with member.expect_navigation():
        member.click("#approve")
    expect(member.locator("#disclosure-state")).to_have_text("监委会已审核通过")

    clerk.goto(f"/affairs/staff/disclosures/{disclosure.pk}/")
    with clerk.expect_navigation():
        clerk.click("#publish")
    expect(clerk.locator("#disclosure-state")).to_have_text("已发布")
    shot(clerk, request, "clerk-published")
    disclosure.refresh_from_db()
    assert disclosure.state == DisclosureState.PUBLISHED

    resident = browse(phone=True)
    resident.goto("/affairs/disclosures/")
    with resident.expect_navigation():
        resident.click("text=2026年第三季度财务收支公开")
    expect(resident.locator("[data-total=income]")).to_have_text("¥120,000.00")
    expect(resident.locator("[data-total=expense]")).to_have_text("¥35,600.50")
    expect(resident.locator("[data-total=balance]")).to_have_text("¥84,399.50")
    width = resident.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    shot(resident, request, "resident-disclosure-phone")
    item = disclosure.items.get(title="道路维修支出")
    resident.click(f"#item-{item.pk} a[href*='item=']")
    expect(resident.locator("#id_item")).to_have_value(str(item.pk))
    resident.fill("#id_question", "修的是哪一段路？")
    with resident.expect_navigation():
        resident.click("#ask button[type=submit]")
    expect(resident.get_by_role("heading", name="提问已收到")).to_be_visible()
    shot(resident, request, "resident-asked-phone")
    asked = DisclosureQuestion.objects.select_related("case").get()
    assert asked.item == item and "修的是哪一段路？" in asked.case.description
    code = getattr(asked.case, "tracking_code", None)
    if code:
        expect(resident.locator("#tracking-code")).to_have_text(code)
    resident.goto(f"/affairs/disclosures/{disclosure.pk}/")
    expect(resident.locator("#questions-title + ul")).to_contain_text("修的是哪一段路？")


def test_a_resident_books_downloads_the_calendar_and_cancels(people, browse, request):  # noqa: F811
    slot = people.slot(hours=50, capacity=2)
    people.slot(hours=74, capacity=1)
    resident = browse(phone=True)
    resident.goto("/affairs/appointments/")
    with resident.expect_navigation():
        resident.click(f"a[href='/affairs/appointments/{people.service.pk}/'] >> nth=0")
    with resident.expect_navigation():  # nothing filled in: the errors come back, in Chinese
        resident.click("form.af-form button[type=submit]")
    expect(resident.locator("#slot-error")).to_have_text("请选择时间。")
    resident.check(f"input[name=slot][value='{slot.pk}']")
    resident.fill("#id_name", "王小明")
    resident.fill("#id_phone", "139 1234 8765")
    with resident.expect_navigation():
        resident.click("form.af-form button[type=submit]")
    booking = Booking.objects.get()
    expect(resident.locator("#booking-code")).to_have_text(booking.code)
    assert "王小明" not in resident.content() and "13912348765" not in resident.content()
    shot(resident, request, "booking-confirmed-phone")
    with resident.expect_download() as download_info:
        resident.click("#ics-link")
    ics = Path(download_info.value.path()).read_text()
    assert "BEGIN:VEVENT" in ics and booking.code in ics

    resident.goto("/affairs/appointments/manage/")
    resident.fill("#id_code", booking.code.lower())
    resident.fill("#id_phone_last4", "8765")
    with resident.expect_navigation():
        resident.click("form.af-form button[type=submit]")
    with resident.expect_navigation():
        resident.click("button.danger")
    expect(resident.locator("#done")).to_have_text("您的预约已取消。")
    shot(resident, request, "booking-cancelled-phone")
    booking.refresh_from_db()
    assert booking.state == BookingState.CANCELLED
