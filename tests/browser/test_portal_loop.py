# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The resident's side of the loop in Chromium on a phone-sized screen:

a resident reports with a photo and the phone's position → gets a tracking code → staff answer (service)
and close the case → the resident finds the answer by code and the last 4 digits of the phone, rates it 1
with a comment → the case is back in review. And a walk of every public page, in English and in Chinese,
asserting that seeded reporter names, phone numbers and exact addresses never appear in what is rendered.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image
from playwright.sync_api import expect

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, Channel, RequestType
from fengqiao.cases.public import case_for_resident
from fengqiao.cases.states import CaseState
from tests.browser.conftest import save_screenshot
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser

PHONE_SIZE = {"width": 390, "height": 844}
NAME, PHONE, ADDRESS = "王小明", "13805751234", "东溪村3组15号"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_RATE = "1000/h"


def shot(page, request, name: str) -> None:
    save_screenshot(page, request, f"portal-{name}")


def resident_page(browser, live_url, *, locale="zh-CN", position=None):
    context = browser.new_context(locale=locale, base_url=live_url, viewport=PHONE_SIZE, has_touch=True)
    context.set_default_timeout(15_000)
    if position is not None:
        context.grant_permissions(["geolocation"], origin=live_url)
        context.set_geolocation({"longitude": position[0], "latitude": position[1], "accuracy": 10})
    return context, context.new_page()


def test_resident_reports_tracks_the_answer_and_an_unsatisfied_rating_reopens(browser, live_url, loop, tmp_path,
                                                                            request):
    context, page = resident_page(browser, live_url, position=loop.point())
    try:
        page.goto("/portal/")
        expect(page.locator("#promise")).to_contain_text("3")
        shot(page, request, "1-home")
        page.goto("/portal/report/")
        page.locator("#category-search").fill(loop.category.code)
        topic = page.locator("#category-list label:visible")
        expect(topic).to_have_count(1)
        topic.click()
        page.fill("#id_description", "路灯坏了一个星期，晚上很黑")
        photo = tmp_path / "lamp.jpg"
        Image.new("RGB", (2400, 1800), (200, 80, 40)).save(photo, "JPEG", quality=95)
        page.set_input_files("#id_photos", str(photo))
        expect(page.locator("#photos-previews img")).to_have_count(1)
        page.click("#locate")
        expect(page.locator("#id_lon")).not_to_have_value("")
        page.fill("#id_address", ADDRESS)
        page.fill("#id_name", NAME)
        page.fill("#id_phone", PHONE)
        shot(page, request, "2-report-form")
        page.click("#report-submit")
        code_box = page.locator("#tracking-code")
        expect(code_box).to_be_visible()
        code = code_box.inner_text().strip()
        shot(page, request, "3-code")
        case = Case.objects.get()
        assert code.replace("-", "") == case.tracking_code
        assert case.channel == Channel.RESIDENT and case.request_type == RequestType.REPORT
        assert case.grid == loop.grid and case.attachments.count() == 1
        assert case.attachments.get().width <= 1600  # made smaller in the browser before upload
        expect(page.locator("#answer-due")).to_have_text(case.answer_due_at.astimezone().strftime("%Y-%m-%d"))

        # staff answer the resident and close the case
        s.case_answer(actor=loop.operator, number=case.number, text="路灯已报修，周五前修好。")
        s.case_accept(actor=loop.operator, number=case.number)
        s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
        s.case_report_back(actor=loop.handler, number=case.number, result="已更换灯泡")
        s.case_verify(actor=loop.grid_worker, number=case.number, passed=True)
    finally:
        context.close()

    # later, on another phone: by code and the last 4 digits
    context, page = resident_page(browser, live_url)
    try:
        page.goto("/portal/track/")
        page.fill("#id_code", code.lower())
        page.fill("#id_phone_last4", "9999")
        page.locator("form [type=submit]").click()
        expect(page.locator(".form-status")).not_to_be_empty()
        page.fill("#id_code", code.lower())
        page.fill("#id_phone_last4", PHONE[-4:])
        page.locator("form [type=submit]").click()
        expect(page.locator("#answer")).to_contain_text("路灯已报修，周五前修好。")
        expect(page.locator("#timeline li")).not_to_have_count(0)
        shot(page, request, "4-track")
        page.locator("#rate-form label", has_text="1 ★").click()
        page.fill("#id_comment", "灯还是不亮")
        page.locator("#rate-form [type=submit]").click()
        expect(page.locator(".messages")).to_be_visible()
        shot(page, request, "5-rated")
    finally:
        context.close()
    again = case_for_resident(code=code, phone_last4=PHONE[-4:])
    assert again.state == CaseState.ACCEPTED and again.rating == 1 and again.reopen_count == 1


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_no_public_page_shows_personal_data(browser, live_url, loop, locale, request):
    lon, lat = loop.point()
    public = s.case_report(actor=None, channel=Channel.RESIDENT, category=loop.category, lon=lon, lat=lat,
                           description=f"门口下水道堵了，联系{NAME} {PHONE}", reporter_name=NAME, reporter_phone=PHONE,
                           address=ADDRESS)
    s.case_answer(actor=loop.operator, number=public.number, text="已通知清掏")
    private = s.case_report(actor=None, channel=Channel.RESIDENT, category=loop.category, lon=lon, lat=lat,
                            description="私下反映的事", reporter_name=NAME, reporter_phone=PHONE, address=ADDRESS,
                            is_public=False)
    secrets = [NAME, PHONE, PHONE[-8:], ADDRESS]
    context, page = resident_page(browser, live_url, locale=locale)
    try:
        pages = ["/portal/", "/portal/report/", f"/portal/report/?region={loop.grid.region.code}", "/portal/track/",
                 "/portal/cases/", f"/portal/cases/?village={loop.grid.region.code}", f"/portal/cases/{public.number}/",
                 "/portal/subscribe/", f"/portal/subscribe/?case={public.number}", "/portal/account/login/",
                 "/portal/account/register/"]
        for path in pages:
            response = page.goto(path)
            assert response is not None and response.ok, path
            page.wait_for_load_state("networkidle")
            html = page.content()
            for secret in secrets:
                assert secret not in html, f"{secret} on {path}"
            assert private.number not in html
            expected_lang = "en" if locale == "en-US" else "zh-hans"
            assert page.locator("html").get_attribute("lang") == expected_lang
        shot(page, request, f"public-case-{locale}")
        page.goto("/portal/cases/")
        expect(page.locator("#public-map canvas")).to_have_count(1)
        shot(page, request, f"public-cases-{locale}")
        for path in ["/portal/cases/map.json", "/api/v1/portal/cases", "/api/v1/portal/map"]:
            response = page.request.get(path)
            assert response.ok, path
            body = response.text()
            json.loads(body)
            for secret in secrets:
                assert secret not in body and json.dumps(secret)[1:-1] not in body, f"{secret} in {path}"
            assert private.number not in body
    finally:
        context.close()
