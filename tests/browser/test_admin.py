import re

import pytest
from playwright.sync_api import expect

from fengqiao.geo.models import Grid
from tests.factories import Territory

pytestmark = pytest.mark.browser

PASSWORD = "grid-admin-pass-2024"


@pytest.fixture
def administrator(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.org", PASSWORD)


def test_administrator_renames_a_grid_in_the_admin(page, admin_login, administrator):
    grid = Territory().grids[0]

    admin_login("admin", PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#content h1")).to_have_text("站点管理")

    page.goto(f"/admin/geo/grid/{grid.pk}/change/")
    expect(page.locator("#id_name")).to_have_value(grid.name)
    page.fill("#id_name", "枫源村东网格")
    page.click("input[name=_save]")

    expect(page).to_have_url(re.compile(r"/admin/geo/grid/$"))
    expect(page.locator(".messagelist .success")).to_contain_text("枫源村东网格")
    expect(page.locator("#result_list")).to_contain_text("枫源村东网格")
    assert Grid.objects.get(pk=grid.pk).name == "枫源村东网格"


def test_admin_index_in_english(page, admin_login, administrator, live_url):
    # the language cookie (set by the language selector) gives the admin in English
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_url}])
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    admin_login("admin", PASSWORD, path=None)

    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#content h1")).to_have_text("Site administration")
    expect(page.locator("#user-tools")).to_contain_text("Log out")


def test_language_selector_on_the_home_page_switches_to_english(page, admin_login, administrator):
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    with page.expect_navigation():
        page.select_option("#language", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    expect(page.get_by_role("link", name="Staff sign-in")).to_be_visible()
    page.goto("/admin/")
    admin_login("admin", PASSWORD, path=None)

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#content h1")).to_have_text("Site administration")
