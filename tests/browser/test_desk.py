# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The command-centre desk in Chromium: an operator takes a report from the queue to dispatch, and
takes a hotline call with a point picked on the grid map."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fengqiao.cases.models import Case, Channel
from tests.browser.conftest import DESKTOP, save_screenshot
from tests.browser.conftest import sign_in as staff_sign_in
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser


def shot(page, request, name: str) -> None:
    save_screenshot(page, request, f"desk-{name}")


def sign_in(page, user) -> None:
    staff_sign_in(page, user.username)


def click_on_map(page, lon: float, lat: float, picker: int = 0) -> None:
    """Click the point (lon, lat) on a grid picker drawn by web/gridpick.js."""
    page.wait_for_function("() => window.FengqiaoGridPick && FengqiaoGridPick.pickers.length > 0")
    x, y = page.evaluate("""([lon, lat, i]) => {
        const p = FengqiaoGridPick.pickers[i];
        p.el.scrollIntoView({block: "center"});
        const px = p.chart.convertToPixel({geoIndex: 0}, [lon, lat]);
        const box = p.el.getBoundingClientRect();
        return [box.left + px[0], box.top + px[1]];
    }""", [lon, lat, picker])
    page.mouse.click(x, y)


def test_operator_accepts_and_dispatches_a_report_from_the_queue(page, live_url, loop, request):
    page.set_viewport_size(DESKTOP)
    older = loop.report(description="菜场门口占道经营，影响通行")
    sign_in(page, loop.operator)

    page.goto("/desk/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    item = page.locator(f'.queue-item[data-number="{older.number}"]')
    expect(item).to_be_visible()
    expect(item).to_contain_text("菜场门口占道经营")
    shot(page, request, "queue")

    item.locator("a").click()  # the panel opens beside the queue
    panel = page.locator("#desk-detail #desk-case")
    expect(panel.locator("#case-title")).to_have_text(older.number)
    expect(panel).to_have_attribute("data-state", "reported")
    shot(page, request, "panel-reported")

    panel.locator("#accept-button").click()
    panel = page.locator("#desk-case")
    expect(panel).to_have_attribute("data-state", "accepted")
    expect(panel.locator(".notice.success")).to_be_visible()
    # the routing suggestion is shown with its reason and preselected
    expect(panel.locator("#suggested-department")).to_have_text(loop.enforcement.name_zh)
    expect(panel.locator("#dispatch-department")).to_have_value(str(loop.enforcement.pk))
    expect(panel.locator(".suggestion")).to_contain_text(loop.enforcement.name_zh)
    shot(page, request, "panel-accepted")

    panel.locator("#dispatch-button").click()
    expect(page.locator("#desk-case")).to_have_attribute("data-state", "dispatched")
    expect(page.locator("#case-state")).to_have_text("已派遣")
    # the queue reloaded itself: the dispatched case has left it
    expect(page.locator(f'.queue-item[data-number="{older.number}"]')).to_have_count(0)
    shot(page, request, "panel-dispatched")

    case = Case.objects.get(pk=older.pk)
    assert case.state == "dispatched" and case.lead_department == loop.enforcement

    # without HTMX, the case's own page says the same
    page.goto(f"/desk/cases/{older.number}/")
    expect(page.locator("#desk-case")).to_have_attribute("data-state", "dispatched")


def test_operator_takes_a_hotline_call_with_a_point_on_the_grid_map(page, live_url, loop, request):
    page.set_viewport_size(DESKTOP)
    sign_in(page, loop.operator)
    page.goto("/desk/hotline/")
    shot(page, request, "hotline-empty")

    page.fill("#id_caller_name", "李大妈")
    page.fill("#id_caller_phone", "13900001111")
    page.fill("#hotline-category-search", loop.category.code)
    page.select_option("#id_category", str(loop.category.pk))
    page.fill("#id_address", "枫桥镇新街3号")

    # first without a description: the error, and what was typed is still there
    click_on_map(page, *loop.point())  # the ECharts grid map, as on the grid map page
    expect(page.locator("#id_lon")).not_to_have_value("")
    expect(page.locator("#map-picked")).to_contain_text(loop.grid.code)
    with page.expect_navigation():
        page.click("#hotline-submit")
    expect(page.locator(".errorlist")).to_contain_text("请描述事件情况")
    expect(page.locator("#id_caller_name")).to_have_value("李大妈")
    shot(page, request, "hotline-error")

    page.fill("#id_description", "小区门口有人占道经营")
    with page.expect_navigation():
        page.click("#hotline-submit")
    expect(page).to_have_url(re.compile(r"/desk/cases/[\w-]+/$"))
    expect(page.locator("#desk-case")).to_have_attribute("data-state", "reported")
    case = Case.objects.get()
    assert case.channel == Channel.HOTLINE and case.grid == loop.grid
    # the caller's details are protected: masked on the panel, absent from the queue
    expect(page.locator("#desk-case")).to_contain_text("李**")
    expect(page.locator("#desk-case")).not_to_contain_text("13900001111")
    shot(page, request, "hotline-created")
    page.goto("/desk/")
    expect(page.locator(f'.queue-item[data-number="{case.number}"]')).to_be_visible()
    expect(page.locator("#desk-queue")).not_to_contain_text("李大妈")


def test_operator_merges_a_duplicate_shown_side_by_side(page, live_url, loop, clock, request):
    page.set_viewport_size(DESKTOP)
    first = loop.report(description="路口有人占道卖菜")
    clock.set(2025, 11, 10, 9, 40)
    second = loop.report(description="又有人在路口占道卖菜，车过不去")
    sign_in(page, loop.operator)

    page.goto("/desk/")
    page.locator(f'.queue-item[data-number="{second.number}"] a').click()
    compare = page.locator("#desk-case .compare")
    expect(compare).to_have_count(1)
    expect(compare.locator(".compare-side").nth(0)).to_contain_text("车过不去")
    expect(compare.locator(".compare-side").nth(1)).to_contain_text(first.number)
    shot(page, request, "duplicates")

    compare.locator("button").click()
    expect(page.locator("#desk-case")).to_have_attribute("data-state", "merged")
    expect(page.locator(f'.queue-item[data-number="{second.number}"]')).to_have_count(0)
    expect(page.locator(f'.queue-item[data-number="{first.number}"]')).to_be_visible()
    assert Case.objects.get(pk=second.pk).duplicate_of_id == first.pk


def test_a_case_changed_meanwhile_is_reloaded_with_a_message(page, live_url, loop, request):
    from fengqiao.cases import services

    page.set_viewport_size(DESKTOP)
    case = loop.report()
    sign_in(page, loop.operator)
    page.goto(f"/desk/cases/{case.number}/")
    expect(page.locator("#desk-case")).to_have_attribute("data-version", "1")

    services.case_flag(actor=loop.leader, number=case.number, reason="群众反映强烈")  # someone else, meanwhile
    page.fill("#reject-reason", "不属于受理范围")
    page.click("#desk-case form.action:has(#reject-reason) button")  # HTMX swaps the panel in place
    expect(page.locator("#desk-case .notice.error")).to_be_visible()
    expect(page.locator("#desk-case")).to_have_attribute("data-version", "2")
    expect(page.locator("#desk-case")).to_have_attribute("data-state", "reported")
    expect(page.locator("#reject-reason")).to_have_value("不属于受理范围")
    shot(page, request, "stale")
    # sent again, with the version the page now shows, it goes through
    page.click("#desk-case form.action:has(#reject-reason) button")
    expect(page.locator("#desk-case")).to_have_attribute("data-state", "rejected")
