# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The whole case loop in Chromium, one browser context per person:

a grid worker reports with a photo and the phone's position → the operator accepts and dispatches →
the handler reports back with a photo → the grid worker verifies on site → the case is closed, its
events are chained, and the grid map no longer counts it as open. Then the scope, as browsers see it:
a handler of another township gets 404 for the case's URL; a grid worker sees only their grid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from fengqiao.cases.models import Case, Channel
from tests.browser.conftest import save_screenshot
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser

@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def shot(page, request, name: str) -> None:
    save_screenshot(page, request, f"loop-{name}")


def photo(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> Path:
    path = tmp_path / name
    Image.new("RGB", (640, 480), colour).save(path, "JPEG")
    return path


def grid_open_count(page, area_code: str, grid_code: str) -> int:
    """The grid's count of open cases on the map, from the map's data endpoint under the page's session."""
    response = page.request.get(f"/map/data.json?area={area_code}")
    assert response.ok, response.status
    areas = {a["code"]: a for a in response.json()["areas"]}
    return areas[grid_code]["open"]


def test_the_loop_from_report_to_closed_on_the_map(browse, loop, tmp_path, request):
    village = loop.grid.region

    # 1. the grid worker reports with a photo and the phone's position, at the centre of their grid
    worker = browse(loop.grid_worker, phone=True, position=loop.point())
    worker.goto("/field/report/")
    expect(worker.locator("#id_lon")).not_to_have_value("")  # the browser's position arrived
    worker.set_input_files("#id_photos", str(photo(tmp_path, "before.jpg", (200, 80, 40))))
    worker.fill("#category-search", loop.category.code)
    option = worker.locator(".cat:visible")
    expect(option).to_have_count(1)
    option.click()
    worker.fill("#id_description", "菜场门口占道经营，影响通行")
    shot(worker, request, "1-worker-report")
    worker.click("#report-submit")
    result = worker.locator("#report-result")
    expect(result).to_contain_text(re.compile(r"\d{9}-\d{8}-\d+"))
    case = Case.objects.get()
    expect(result).to_contain_text(case.number)
    assert case.channel == Channel.GRID_WORKER and case.grid == loop.grid and case.state == "reported"
    assert case.attachments.filter(kind="report").count() == 1
    shot(worker, request, "1-worker-sent")

    # 2. the operator accepts and dispatches from the desk's queue
    operator = browse(loop.operator)
    assert grid_open_count(operator, village.code, loop.grid.code) == 1
    operator.goto("/desk/")
    operator.locator(f'.queue-item[data-number="{case.number}"] a').click()
    panel = operator.locator("#desk-case")
    expect(panel).to_have_attribute("data-state", "reported")
    shot(operator, request, "2-operator-panel")
    panel.locator("#accept-button").click()
    expect(operator.locator("#desk-case")).to_have_attribute("data-state", "accepted")
    expect(operator.locator("#dispatch-department")).to_have_value(str(loop.enforcement.pk))
    operator.locator("#dispatch-button").click()
    expect(operator.locator("#desk-case")).to_have_attribute("data-state", "dispatched")
    shot(operator, request, "2-operator-dispatched")

    # 3. the handler starts and reports back with a photo
    handler = browse(loop.handler)
    handler.goto("/cases/")
    handler.locator(".case-link", has_text=case.number).click()
    expect(handler.locator("#case-state")).to_have_text("已派遣")
    handler.locator("#action-start button").click()
    expect(handler.locator("#case-state")).to_have_text("处置中")
    report = handler.locator("#action-report_back")
    report.evaluate("details => { details.open = true; }")
    report.locator("textarea[name=result]").fill("已劝离摊贩，路面已清理")
    report.locator("input[type=file]").set_input_files(str(photo(tmp_path, "after.jpg", (40, 120, 60))))
    shot(handler, request, "3-handler-report-back")
    report.locator("button[type=submit]").click()
    expect(handler.locator("#case-state")).to_have_text("已处置")
    shot(handler, request, "3-handler-handled")

    # 4. the grid worker finds it waiting for the check, and verifies on site
    worker.goto("/field/grid/")
    waiting = worker.locator("#verify .case-row", has_text=case.number)
    expect(waiting).to_have_count(1)
    shot(worker, request, "4-worker-to-verify")
    waiting.locator("a").click()
    form = worker.locator("#verify-form")
    expect(form).to_be_visible()
    form.locator("input[name=passed][value=yes]").check()
    form.locator("#id_note").fill("现场核查：已无占道")
    form.locator("#id_verify_photo").set_input_files(str(photo(tmp_path, "check.jpg", (90, 90, 200))))
    shot(worker, request, "4-worker-verify")
    with worker.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(worker).to_have_url(re.compile(r"/field/grid/$"))
    expect(worker.locator(".messages")).to_contain_text(case.number)
    expect(worker.locator("#verify .case-row", has_text=case.number)).to_have_count(0)
    shot(worker, request, "4-worker-verified")

    # 5. closed, in order, chained, and no longer open on the map
    from fengqiao.cases.events import verify_chain

    case.refresh_from_db()
    assert case.state == "closed" and case.closed_at is not None
    actions = list(case.events.order_by("seq").values_list("action", flat=True))
    assert actions == ["report", "accept", "dispatch", "start", "report_back", "verify"], actions
    assert case.attachments.filter(kind="after").count() == 1 and case.attachments.filter(kind="verify").count() == 1
    chain = verify_chain()
    assert chain.ok, chain.broken
    assert grid_open_count(operator, village.code, loop.grid.code) == 0
    operator.goto(f"/map/area/{loop.grid.code}/cases/?all=1")
    row = operator.locator("a.case-number", has_text=case.number)
    expect(row).to_have_count(1)
    operator.goto(f"/map/area/{loop.grid.code}/cases/")  # the open cases only
    expect(operator.locator("a.case-number", has_text=case.number)).to_have_count(0)
    operator.goto(f"/map/?area={village.code}")
    expect(operator.locator("#map-chart canvas").first).to_be_visible()
    shot(operator, request, "5-operator-map")
    operator.goto(f"/cases/{case.number}/")
    expect(operator.locator("#case-state")).to_have_text("已结案")
    shot(operator, request, "5-operator-closed")


def test_scope_in_the_browser(browse, loop, request):
    """Another township's handler gets 404 for the case's URL; a grid worker sees their own grid only."""
    from fengqiao.cases import services as s

    mine = loop.report(description="井盖缺失，行人有危险")
    next_grid = loop.territory.grids[1]  # the same village's other grid
    lon, lat = loop.point(next_grid)
    elsewhere = s.case_report(actor=loop.operator, channel=Channel.HOTLINE, category=loop.category,
                              description="隔壁网格路灯不亮", lon=lon, lat=lat)
    for case in (mine, elsewhere):
        s.case_accept(actor=loop.operator, number=case.number)
        s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)

    # the handler of another township: the case's page is "not found"; the desk's and the field app's
    # pages of it are not theirs to open whatever the number (403 for the role, the same for any case)
    other = browse(loop.other_handler)
    response = other.goto(f"/cases/{mine.number}/")
    assert response.status == 404, response.status
    for url in (f"/desk/cases/{mine.number}/", f"/field/cases/{mine.number}/"):
        response = other.goto(url)
        assert response.status in (403, 404), (url, response.status)
        expect(other.locator("body")).not_to_contain_text(mine.number)
    other.goto("/cases/")
    expect(other.locator("main")).not_to_contain_text(mine.number)
    shot(other, request, "scope-other-handler")

    # the grid worker: their grid's case, not the neighbouring grid's
    worker = browse(loop.grid_worker, phone=True)
    worker.goto("/field/grid/")
    expect(worker.locator("#open")).to_contain_text(mine.number)
    expect(worker.locator("main")).not_to_contain_text(elsewhere.number)
    shot(worker, request, "scope-worker-grid")
    assert worker.goto(f"/field/cases/{mine.number}/").status == 200
    for url in (f"/field/cases/{elsewhere.number}/", f"/cases/{elsewhere.number}/"):
        response = worker.goto(url)
        assert response.status == 404, (url, response.status)
    response = worker.request.get(f"/map/data.json?area={next_grid.code}")
    assert response.status in (403, 404), response.status
