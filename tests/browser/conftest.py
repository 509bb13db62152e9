"""Browser tests: Debian's Chromium driven through Playwright's sync API against pytest-django's live server.

Fixtures:

- ``browser``: one Chromium for the whole session (skipped when /usr/bin/chromium is absent, a failure in CI);
- ``browser_locale``: the locale of each new browser context, ``zh-CN`` unless a test overrides it
  (``@pytest.mark.parametrize("browser_locale", ["en-US"])``);
- ``live_url``: the live server's base URL, with settings that let a plain-HTTP browser session work;
- ``page``: a fresh context and page per test, whose relative URLs resolve against ``live_url``;
  a screenshot of it is saved under test-artifacts/screenshots/<test name>.png when the test ends;
- ``admin_login``: signs a user in through the admin login form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test.utils import override_settings

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach the network, which is closed
# on developers' and CI machines alike.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("test-artifacts") / "screenshots"
FACTORY_PASSWORD = "pass-word-123"  # tests.factories.UserFactory
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def save_screenshot(page, request: pytest.FixtureRequest, name: str) -> None:
    """The whole page as test-artifacts/screenshots/<name>.png (CI keeps them; look at them)."""
    directory = Path(request.config.rootpath) / SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=directory / f"{name}.png", full_page=True)


def sign_in(page, username: str, password: str = FACTORY_PASSWORD) -> None:
    """Sign in through the staff sign-in page and wait until it is left."""
    from playwright.sync_api import expect

    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("main form [type=submit]")
    expect(page.locator("#id_password")).to_have_count(0)

# The production-safe defaults (DEBUG off) redirect plain HTTP to HTTPS, mark cookies Secure and expect
# collected, hashed static files; the live server speaks plain HTTP and serves static files from the apps.
LIVE_SERVER_SETTINGS = {
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    "STORAGES": {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
}


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium fonts-noto-cjk)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)

    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this thread for as long as it
    # is started. Django then refuses ORM calls from the tests (SynchronousOnlyOperation) unless told
    # otherwise, and its connection handler, seeing a running loop, switches to per-context storage:
    # without the hand-over below the tests would open second connections to the test database and
    # lose what pytest-django keeps on the first ones (the serialized contents that
    # serialized_rollback restores), for every test that runs after this fixture started.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    thread_connections = {alias: connections[alias] for alias in connections}
    playwright = sync_playwright().start()
    for alias, connection in thread_connections.items():
        connections[alias] = connection
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_locale() -> str:
    return "zh-CN"


def _reload_middleware(live_server) -> None:
    """Rebuild the live server's middleware chain so it reads the current settings.

    Some middleware read their settings once, when built (SecurityMiddleware's SECURE_SSL_REDIRECT), and
    the session-wide server builds its chain when it starts, possibly under other settings.
    """
    handler = live_server.thread.httpd.get_app()
    # the static and media file handlers wrap the WSGIHandler that runs the middleware
    while hasattr(handler, "application"):
        handler = handler.application
    handler.load_middleware()


@pytest.fixture
def live_url(live_server, django_db_serialized_rollback) -> Iterator[str]:
    """The live server's base URL (no trailing slash).

    The database is the migrated one (seed data included) at the start of each test, as users see it.
    """
    with override_settings(**LIVE_SERVER_SETTINGS):
        _reload_middleware(live_server)
        yield live_server.url
    _reload_middleware(live_server)


@pytest.fixture
def page(browser, browser_locale: str, live_url: str, request: pytest.FixtureRequest):
    context = browser.new_context(locale=browser_locale, base_url=live_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    directory = request.config.rootpath / SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    try:
        page.screenshot(path=directory / f"{name}.png", full_page=True)
    finally:
        context.close()


@pytest.fixture
def browse(browser, live_url: str, browser_locale: str) -> Iterator[Callable[..., Any]]:
    """``browse(user=None, phone=False, position=None)``: a page in a browser context of its own (its own
    cookies, so several people can work side by side), signed in as `user` when given, at desktop or
    phone size, with the geolocation permission at `position` ((lon, lat)) when given; downloads
    allowed. The contexts are closed after the test."""
    contexts = []

    def open_as(user=None, *, phone: bool = False, position: tuple[float, float] | None = None):
        context = browser.new_context(locale=browser_locale, base_url=live_url, viewport=PHONE if phone else DESKTOP,
                                      accept_downloads=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        if position is not None:
            context.grant_permissions(["geolocation"], origin=live_url)
            context.set_geolocation({"longitude": position[0], "latitude": position[1], "accuracy": 8})
        page = context.new_page()
        if user is not None:
            sign_in(page, user.username)
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def admin_login(page) -> Callable[..., None]:
    """Sign in through the admin login form: ``admin_login(username, password, path="/admin/login/")``.

    ``path`` may carry a language prefix (``/en/admin/login/``); ``path=None`` fills the login form the
    page already shows. Returns once the admin has accepted the credentials and left the login page;
    fails with the form's error otherwise.
    """

    def login(username: str, password: str, path: str | None = "/admin/login/") -> None:
        if path is not None:
            page.goto(path)
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("#login-form [type=submit]")
        if page.locator("#login-form").count():
            errors = page.locator(".errornote, .errorlist").all_inner_texts()
            pytest.fail(f"admin login as {username!r} failed: {errors}")

    return login
