"""The grid map and the supervision view in Chromium, on the demo township, on a desktop and a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in as staff_sign_in

pytestmark = pytest.mark.browser

PASSWORD = "demo-map-pass-2024"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def demo(live_url):
    """The demo township's territory, departments and staff, with some forty open cases in its grids
    (the demo's year of history would take minutes here)."""
    import random

    from fengqiao.cases import services as s
    from fengqiao.cases.catalogue import catalogue_load_defaults
    from fengqiao.cases.models import Case, Category, Channel
    from fengqiao.core.errors import DomainError
    from fengqiao.demo.build import _point_in, build_grids
    from fengqiao.demo.organisation import build_departments, build_staff
    from fengqiao.demo.territory import build_regions
    from fengqiao.geo.geometry import to_shape
    from fengqiao.org.models import Assignment, Role

    county, township, villages = build_regions()
    grids = build_grids(villages)
    departments = build_departments(county, township, villages)
    catalogue_load_defaults()
    build_staff(PASSWORD, county, township, villages, grids, departments)
    operator = Assignment.objects.get(role=Role.OPERATOR, user__username="operator").user
    leader = Assignment.objects.get(role=Role.LEADER, user__username="leader").user
    categories = list(Category.objects.filter(is_active=True, children__isnull=True).order_by("code")[:12])
    rng = random.Random(3)
    made = []
    for village in villages:
        for grid in rng.sample(grids[village.code], 3):
            for _ in range(rng.randint(0, 3)):
                lon, lat = _point_in(to_shape(grid.geometry), rng)
                try:
                    case = s.case_report(actor=operator, channel=Channel.HOTLINE, category=rng.choice(categories),
                                         description="路灯不亮，夜间行人有危险", lon=lon, lat=lat)
                    s.case_accept(actor=operator, number=case.number)
                    made.append(s.case_dispatch(actor=operator, number=case.number))
                except DomainError:
                    continue
    Case.objects.filter(pk__in=[c.pk for c in made[::3]]).update(warning="red")
    Case.objects.filter(pk__in=[c.pk for c in made[1::5]]).update(warning="yellow")
    for case in made[::7]:
        s.case_flag(actor=leader, number=case.number, reason="群众反映强烈")
    return made


def sign_in(page, username: str) -> None:
    staff_sign_in(page, username, PASSWORD)


def drawn(page) -> None:
    """Wait until the map's chart has drawn the data embedded in the page."""
    expect(page.locator("#map-chart canvas").first).to_be_visible()
    page.wait_for_function("window.FengqiaoMap && window.FengqiaoMap.data && window.FengqiaoMap.data.areas.length > 0")


def click_shape(page, code: str) -> None:
    """Click the map where the shape `code` carries its label."""
    x, y = page.evaluate(
        """code => {
            const area = FengqiaoMap.data.areas.find(a => a.code === code);
            return FengqiaoMap.chart.convertToPixel({geoIndex: 0}, area.label_at);
        }""",
        code,
    )
    box = page.locator("#map-chart").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_an_operator_drills_down_the_map_and_lists_a_grids_cases(page, demo, device):
    from fengqiao.geo.models import Grid, Region

    page.set_viewport_size(VIEWPORTS[device])
    sign_in(page, "operator")
    page.goto("/map/")
    drawn(page)
    township = Region.objects.get(code="330681110")
    expect(page.locator(".map-crumbs [aria-current]")).to_have_text(township.name)
    expect(page.locator("#map-areas-table tbody th")).to_have_count(10)  # the villages
    assert page.evaluate("FengqiaoMap.data.totals.open") > 0

    # pins off, so that the click lands on the shape; then a village
    page.click("label[for=map-show-pins]")
    village = Region.objects.filter(parent=township).order_by("code").first()
    click_shape(page, village.code)
    expect(page.locator(".map-crumbs [aria-current]")).to_have_text(village.name)
    expect(page).to_have_url(re.compile(rf"/map/\?area={village.code}$"))
    page.wait_for_function("code => FengqiaoMap.data.area.code === code", arg=village.code)

    # a grid of that village with open cases: its cases beside (or below) the map
    # (through the map's own hook: a pixel on a small grid may sit under a label at phone size)
    grid_code = page.evaluate("FengqiaoMap.data.areas.filter(a => a.open > 0)[0].code")
    page.evaluate("code => FengqiaoMap.showCases(code)", grid_code)
    grid = Grid.objects.get(code=grid_code)
    listing = page.locator("#map-cases")
    expect(listing.locator("h2")).to_contain_text(grid.name)
    first = listing.locator("a.case-number").first
    expect(first).to_have_attribute("href", re.compile(r"^/cases/[\w-]+/$"))

    # the documented hook does the same for any area in view
    other = page.evaluate("code => FengqiaoMap.data.areas.find(a => a.code !== code).code", grid_code)
    page.evaluate("code => FengqiaoMap.showCases(code)", other)
    expect(listing.locator("h2")).to_contain_text(Grid.objects.get(code=other).name)

    # back to the township through the breadcrumb, with the pins on again
    page.click("label[for=map-show-pins]")
    page.locator(".map-crumbs a").first.click()
    expect(page.locator(".map-crumbs [aria-current]")).to_have_text(township.name)
    page.wait_for_function("code => FengqiaoMap.data.area.code === code", arg=township.code)
    assert page.evaluate("FengqiaoMap.chart.getOption().series[1].data.length") > 0
    page.evaluate("window.scrollTo(0, 0)")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_leader_sees_overdue_cases_by_village_and_department(page, demo, device):
    page.set_viewport_size(VIEWPORTS[device])
    sign_in(page, "leader")
    page.goto("/leader/")
    expect(page.locator("h1")).to_have_text("督办")
    expect(page.locator("#chart-areas canvas").first).to_be_visible()
    expect(page.locator("#chart-departments canvas").first).to_be_visible()
    overdue = page.locator("#overdue a.case-number")
    if overdue.count():
        expect(overdue.first).to_have_attribute("href", re.compile(r"^/cases/[\w-]+/$"))
    # a village row narrows every list to that village
    page.locator("#by-area ~ table tbody th a").first.click()
    expect(page.locator(".leader-filter strong")).to_have_count(1)
