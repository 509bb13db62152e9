# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""Every page a role reaches speaks the language chosen: no Chinese left on the English pages, and
Chinese (with html[lang=zh-hans]) on the Chinese ones.

Each role signs in with the browser's locale and the language cookie set, then walks every link of
the staff shell's navigation and of the field app's tab bar (following the links that each page it
reaches shows there), plus the pages their work leads to: a case in scope, the hotline form and its
errors, the field report form, an inspection round, the notifications.

The data is built so that whatever Chinese shows on an English page is an untranslated interface
string: categories and departments have English names (the pages show `.name`), region, grid and
staff names are ASCII, and the cases' texts are written in English. Two things are left out as data
rather than interface: the language selector, which names each language in that language, and the
notifications' subjects and bodies, which are written once, in the site's language, when they are sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from fengqiao.cases import services as s
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.cases.conftest import clock, loop  # noqa: F401

pytestmark = pytest.mark.browser

PASSWORD = "pass-word-123"  # tests.factories.UserFactory
CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_RUN = re.compile(r".{0,30}[\u4e00-\u9fff][\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]*.{0,30}")
# what the walk does not treat as interface text (see the module's docstring)
DATA_SELECTORS = ["select#language", "ul.inbox > li strong", "ul.inbox > li > div"]
NAV_LINKS = "header.topbar nav a[href], nav.tabbar a[href]"

# The text a user may meet on the page: what is shown, what is hidden until opened or switched on
# (closed <details>, error slots, the strings the scripts show, kept in <template>), the page's title,
# and the attributes read aloud or shown as hints.
PAGE_TEXT_JS = """excluded => {
    const clone = document.body.cloneNode(true);
    for (const selector of ["script", "style", ...excluded]) {
        clone.querySelectorAll(selector).forEach(node => node.remove());
    }
    let shown = document.body.innerText;
    for (const node of excluded.flatMap(sel => [...document.querySelectorAll(sel)])) {
        const own = node.innerText.trim();
        if (own) shown = shown.split(own).join(" ");
    }
    const parts = [document.title, shown, clone.textContent];
    document.body.querySelectorAll("template").forEach(t => parts.push(t.content.textContent));
    const skip = new Set(excluded.flatMap(sel => [...document.querySelectorAll(sel)]));
    for (const node of document.body.querySelectorAll("[aria-label], [placeholder], [title], [alt]")) {
        if ([...skip].some(s => s.contains(node))) continue;
        for (const name of ["aria-label", "placeholder", "title", "alt"]) {
            const value = node.getAttribute(name);
            if (value) parts.push(`${name}="${value}"`);
        }
    }
    return parts.join("\\n");
}"""


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@dataclass
class World:
    loop: object
    reported: object
    dispatched: object
    handled: object


@pytest.fixture
def world(loop, live_url) -> World:
    """The loop's territory with ASCII names, and a case waiting at each role's desk."""
    from fengqiao.cases.models import Case
    from fengqiao.geo.models import Grid, Region
    from fengqiao.org.models import StaffProfile

    for region in Region.objects.all():
        region.name = f"Region {region.code}"
        region.save(update_fields=["name"])
    for grid in Grid.objects.all():
        grid.name = f"Grid {grid.code[-6:]}"
        grid.save(update_fields=["name"])
    for profile in StaffProfile.objects.all():
        profile.display_name = profile.user.username
        profile.save(update_fields=["display_name"])
    loop.grid.refresh_from_db()

    def dispatched(description):
        case = loop.report(description=description, address="3 New Street")
        s.case_accept(actor=loop.operator, number=case.number)
        return s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)

    reported = loop.report(description="A stall blocks the pavement at the market gate", address="Market gate")
    waiting = dispatched("Street light out on the main road")
    s.case_flag(actor=loop.leader, number=waiting.number, reason="Many residents complained")
    # late, as the deadline sweep would mark it
    Case.objects.filter(pk=waiting.pk).update(warning="red", due_at=waiting.created_at - timedelta(days=1))
    handled = dispatched("Rubbish bins overflowing")
    s.case_start(actor=loop.handler, number=handled.number)
    s.case_report_back(actor=loop.handler, number=handled.number, result="Bins emptied and area cleaned")
    return World(loop=loop, reported=reported, dispatched=waiting, handled=handled)


def _open_as(browser, live_url, user, language: str, *, phone: bool = False):
    context = browser.new_context(locale="en-US" if language == "en" else "zh-CN", base_url=live_url,
                                  viewport=PHONE if phone else DESKTOP)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_url}])
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form [type=submit]")
    expect(page.locator("#id_password")).to_have_count(0)
    return page


def _shot(page, request, name: str) -> None:
    directory = Path(request.config.rootpath) / SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=directory / f"lang-{name}.png", full_page=True)


class Walk:
    """Visits pages and records, per page, what does not match the language."""

    def __init__(self, page, language: str, request, role: str):
        self.page, self.language, self.request, self.role = page, language, request, role
        self.visited: list[str] = []
        self.nav_paths: set[str] = set()  # the paths the navigation links to
        self.problems: dict[str, list[str]] = {}

    def check(self, label: str) -> None:
        page = self.page
        self.visited.append(label)
        found: list[str] = []
        lang = page.locator("html").get_attribute("lang")
        if self.language == "en":
            text = page.evaluate(PAGE_TEXT_JS, DATA_SELECTORS)
            found = sorted({m.group(0).strip() for line in text.splitlines() for m in CJK_RUN.finditer(line)})
            if lang != "en":
                found.insert(0, f"html[lang]={lang!r}")
        else:
            if lang != "zh-hans":
                found.append(f"html[lang]={lang!r}")
            if not CJK.search(page.inner_text("body")):
                found.append("no Chinese text on the page")
        if found:
            self.problems[label] = found
        name = re.sub(r"[^\w.-]+", "_", label).strip("_") or "home"
        _shot(page, self.request, f"{self.language}-{self.role}-{name}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.check(urlsplit(self.page.url).path + (f"?{urlsplit(self.page.url).query}" if urlsplit(
            self.page.url).query else ""))

    def navigation(self, extra: list[str]) -> None:
        """Every link of the navigation, following what each page reached shows there, then `extra`."""
        queue, seen = ["/"], set()
        while queue:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            self.visit(path)
            for href in self.page.locator(NAV_LINKS).evaluate_all("links => links.map(a => a.getAttribute('href'))"):
                target = urlsplit(href)
                if target.netloc or not target.path.startswith("/") or target.path.startswith("/admin/"):
                    continue
                self.nav_paths.add(target.path)
                if target.path not in seen:
                    queue.append(target.path)
        for path in extra:
            if path not in seen:
                seen.add(path)
                self.visit(path)

    def assert_clean(self) -> None:
        if self.problems:
            wanted = "English only" if self.language == "en" else "Chinese and html[lang=zh-hans]"
            lines = [f"{self.role}: pages not in {wanted} ({len(self.problems)} of {len(self.visited)}):"]
            for label, found in self.problems.items():
                lines.append(f"  {label}")
                lines.extend(f"      {item!r}" for item in found)
            pytest.fail("\n".join(lines), pytrace=False)


ROLES = ["operator", "handler", "grid_worker", "leader"]
# what each role's navigation must at least lead to (the walk follows whatever else it shows)
NAVIGATION = {"operator": {"/desk/", "/map/"}, "handler": {"/cases/", "/map/"}, "grid_worker": {"/field/"},
              "leader": {"/leader/", "/map/"}}


def _walk_role(world: World, walk: Walk, role: str) -> None:
    page = walk.page
    w, lp = world, world.loop
    if role == "operator":
        walk.navigation(["/desk/", "/desk/hotline/", f"/desk/cases/{w.reported.number}/",
                         f"/desk/cases/{w.dispatched.number}/", f"/cases/{w.dispatched.number}/",
                         f"/map/?area={lp.grid.region.code}", f"/map/area/{lp.grid.code}/cases/", "/notifications/"])
        # the hotline form sent empty: its errors
        page.goto("/desk/hotline/")
        with page.expect_navigation():
            page.click("#hotline-submit")
        expect(page.locator(".errorlist").first).to_be_visible()
        walk.check("/desk/hotline/ (errors)")
    elif role == "handler":
        walk.navigation(["/cases/", f"/cases/{w.dispatched.number}/", f"/cases/{w.handled.number}/",
                         "/notifications/"])
        # the page after an action: its message and the next actions
        page.goto(f"/cases/{w.dispatched.number}/")
        start = page.locator("#action-start button")
        if start.count():
            start.click()
            expect(page.locator("#case-state")).to_be_visible()
            walk.check(f"/cases/{w.dispatched.number}/ (after start)")
    elif role == "grid_worker":
        page.set_viewport_size(PHONE)
        walk.navigation(["/field/", "/field/report/", "/field/grid/", "/field/inspections/",
                         f"/field/cases/{w.handled.number}/", f"/field/cases/{w.reported.number}/",
                         "/notifications/"])
        # an inspection round, started from the list
        page.goto("/field/inspections/")
        start = page.locator(".inspection-list form button[type=submit]")
        if start.count():
            with page.expect_navigation():
                start.first.click()
            walk.check(urlsplit(page.url).path)
        # the verification sent without an answer: its errors
        page.goto(f"/field/cases/{w.handled.number}/")
        with page.expect_navigation():
            page.locator("#verify-form button[type=submit]").click()
        walk.check(f"/field/cases/{w.handled.number}/ (errors)")
    elif role == "leader":
        walk.navigation(["/leader/", f"/leader/?area={lp.grid.region.code}", f"/cases/{w.dispatched.number}/",
                         "/notifications/"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_page_a_role_reaches_is_in_the_chosen_language(browser, live_url, world, role, language, request):
    user = getattr(world.loop, role)
    page = _open_as(browser, live_url, user, language)
    try:
        walk = Walk(page, language, request, role)
        _walk_role(world, walk, role)
        assert NAVIGATION[role] <= walk.nav_paths, walk.nav_paths
        walk.assert_clean()
    finally:
        page.context.close()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_sign_in_page_is_in_the_chosen_language(browser, live_url, language, request):
    context = browser.new_context(locale="en-US" if language == "en" else "zh-CN", base_url=live_url)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_url}])
    page = context.new_page()
    try:
        walk = Walk(page, language, request, "anonymous")
        walk.visit("/login/")
        page.fill("#id_username", "nobody")
        page.fill("#id_password", "wrong-password")
        with page.expect_navigation():
            page.click("main form [type=submit]")
        walk.check("/login/ (error)")
        walk.assert_clean()
    finally:
        context.close()
