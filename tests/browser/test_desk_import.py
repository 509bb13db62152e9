# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""Taking in a file at the desk, in Chromium: a bad file names its line, a good one is checked,
then taken in with one more click (the checked text travels back with the page, line breaks and
Chinese included), and the desk's queue shows the new cases."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fengqiao.cases.models import Case
from tests.browser.conftest import save_screenshot, sign_in
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_an_operator_checks_a_file_then_takes_it_in(page, live_url, loop, clock, request, tmp_path, settings):
    settings.LANGUAGE_CODE = "en"
    lon, lat = loop.point()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"category,description,lon,lat\n0601,占道经营,{lon},{lat}\n0601,远处的摊位,130,40\n",
                   encoding="utf-8")
    good = tmp_path / "hotline-export.csv"
    good.write_bytes((f"category,description,lon,lat,address\n0601,占道经营，影响通行,{lon},{lat},\"解放路 8 号, 东侧\"\n"
                      f"0601,夜市摊位占道,{lon},{lat},\n").encode("gb18030"))

    sign_in(page, loop.operator.username)
    page.goto("/desk/")
    page.click("text=Take in a file")
    expect(page.locator("h1")).to_have_text("Take in a file")

    page.set_input_files("#id_file", str(bad))
    page.click("#import-check")
    expect(page.locator("#import-errors")).to_contain_text("line 3, location")
    save_screenshot(page, request, "desk-import-1-bad-line")

    page.set_input_files("#id_file", str(good))
    page.select_option("#id_channel", "hotline")
    page.click("#import-check")
    expect(page.locator("#import-checked")).to_contain_text("hotline-export.csv is good: its 2 rows")
    assert not Case.objects.exists()
    save_screenshot(page, request, "desk-import-2-checked")

    page.click("#import-take-checked")
    expect(page).to_have_url(f"{live_url}/desk/")
    expect(page.locator(".messages")).to_contain_text("2 cases taken in from hotline-export.csv")
    cases = list(Case.objects.order_by("number"))
    assert [c.channel for c in cases] == ["hotline", "hotline"]
    assert cases[0].address == "解放路 8 号, 东侧" and cases[0].description == "占道经营，影响通行"
    for case in cases:
        expect(page.locator(f'.queue-item[data-number="{case.number}"]')).to_be_visible()
    save_screenshot(page, request, "desk-import-3-queue")
