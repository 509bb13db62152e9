"""The grid worker's field app in Chromium at phone size: report with a photo and the browser's
position, and a report made offline that is sent exactly once when the network returns."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from fengqiao.cases.models import Case
from fengqiao.inspections.models import InspectionRound
from fengqiao.org.models import Role
from tests.browser.conftest import PHONE, save_screenshot
from tests.factories import AssignmentFactory, Territory, UserFactory, jpeg_bytes

pytestmark = pytest.mark.browser

PASSWORD = "pass-word-123"  # tests.factories.UserFactory


@dataclass
class Field:
    territory: Territory
    worker: object
    grid: object

    def centre(self) -> dict:
        lon, lat = self.territory.grid_centre(self.grid)
        return {"longitude": lon, "latitude": lat, "accuracy": 8}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def field(page, live_url) -> Field:
    from fengqiao.cases.catalogue import catalogue_load_defaults

    territory = Territory()
    catalogue_load_defaults()
    grid = territory.grids[0]
    worker = UserFactory(username="gw-0101")
    AssignmentFactory(user=worker, role=Role.GRID_WORKER, grid=grid)
    setup = Field(territory=territory, worker=worker, grid=grid)
    page.set_viewport_size(PHONE)
    page.context.grant_permissions(["geolocation"], origin=live_url)
    page.context.set_geolocation(setup.centre())
    return setup


def shoot(page, request, name: str) -> None:
    save_screenshot(page, request, f"field_{name}")


def sign_in(page, username: str) -> None:
    page.goto("/login/?next=/field/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.locator("main form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/field/$"))


def fill_report(page, description: str, photo_name: str = "matter.jpg") -> None:
    expect(page.locator("#id_lon")).not_to_have_value("")  # the browser's position arrived
    page.set_input_files("#id_photos", files=[{"name": photo_name, "mimeType": "image/jpeg",
                                               "buffer": jpeg_bytes((640, 480))}])
    page.fill("#category-search", "消防通道")
    option = page.locator(".cat:visible")
    expect(option).to_have_count(1)
    option.click()
    page.fill("#id_description", description)


def test_grid_worker_reports_with_a_photo_and_the_browsers_position(page, field, request):
    sign_in(page, field.worker.username)
    expect(page.locator(".tabbar")).to_be_visible()
    shoot(page, request, "home")

    page.get_by_role("link", name=re.compile("Report a matter|上报")).first.click()
    expect(page).to_have_url(re.compile(r"/field/report/$"))
    fill_report(page, "楼道堆放电动车，堵塞消防通道")
    shoot(page, request, "report_form")
    page.click("#report-submit")

    result = page.locator("#report-result")
    expect(result).to_contain_text(re.compile(r"\d{9}-\d{8}-\d+"))
    case = Case.objects.get()
    expect(result).to_contain_text(case.number)
    assert case.grid == field.grid and case.category.code == "1102"
    assert case.reporter_user == field.worker and case.attachments.count() == 1
    assert abs(case.lon - field.centre()["longitude"]) < 1e-5
    shoot(page, request, "report_sent")

    result.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text(case.number)


def test_an_offline_report_is_queued_and_sent_once_when_the_network_returns(page, field, request):
    sign_in(page, field.worker.username)
    page.goto("/field/report/")
    expect(page.locator("#outbox")).to_have_attribute("data-queue-state", "idle")

    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_be_visible()
    fill_report(page, "夜间巡查：楼道消防通道被杂物堵塞")
    page.click("#report-submit")

    expect(page.locator("#report-result")).to_have_class(re.compile("queued"))
    expect(page.locator("#outbox-count")).to_have_text("1")
    expect(page.locator("#outbox-list li")).to_contain_text("夜间巡查")
    assert Case.objects.count() == 0
    shoot(page, request, "offline_queued")

    page.context.set_offline(False)
    sent = page.locator("#outbox-log li.sent")
    expect(sent).to_have_count(1)
    expect(page.locator("#outbox-count")).to_have_text("0")
    expect(page.locator("#outbox")).to_have_attribute("data-queue-state", "idle")
    case = Case.objects.get()
    expect(sent).to_contain_text(case.number)
    assert case.description == "夜间巡查：楼道消防通道被杂物堵塞" and case.attachments.count() == 1
    shoot(page, request, "offline_sent")

    # nothing is left to send: a reload sends nothing again
    page.reload()
    expect(page.locator("#outbox")).to_have_attribute("data-queue-state", "idle")
    expect(page.locator("#outbox-log li")).to_have_count(0)
    assert Case.objects.count() == 1


def test_a_failed_inspection_item_becomes_a_case(page, field, request):
    sign_in(page, field.worker.username)
    page.goto("/field/inspections/")
    shoot(page, request, "inspections")
    page.locator(".inspection-list form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/field/inspections/\d+/$"))
    items = page.locator(".checklist > li")
    expect(items).to_have_count(4)

    first = items.nth(0)
    first.locator("textarea").fill("楼道堆满纸箱")
    first.locator("button[value=no]").click()
    expect(page.locator(".checklist > li").nth(0).locator(".result.failed")).to_be_visible()
    for index in range(1, 4):
        page.locator(".checklist > li").nth(index).locator("button[value=yes]").click()
        expect(page.locator(".checklist > li").nth(index).locator(".result.ok")).to_be_visible()
    shoot(page, request, "inspection_round")
    page.locator("form[action$='/finish/'] button").click()
    expect(page).to_have_url(re.compile(r"/field/inspections/$"))

    case = Case.objects.get()
    assert case.category.code == "1102" and case.grid == field.grid
    assert InspectionRound.objects.get().finished_at is not None
