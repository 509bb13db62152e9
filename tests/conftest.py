from __future__ import annotations

import pytest
from django.conf import settings

from tests.factories import Territory


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # every process-local cache (locator, calendar) looks at the configuration version each time
    settings.LOCATOR_CHECK_SECONDS = 0
    # hashing demo passwords at full strength would dominate the suite's time
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # pages are served over plain HTTP in tests, and static files come from the apps (no manifest)
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts without what an earlier test's rolled-back data left in process caches."""
    from fengqiao.core.versioning import invalidate_all

    invalidate_all()


@pytest.fixture(autouse=True)
def _english():
    """Tests read messages in English (the source language); tests of Chinese ask for it."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def territory(db) -> Territory:
    return Territory()


@pytest.fixture
def shared_data():
    """The folder of real public data beside the project, or a skip when it is absent.

    In CI (CI=true) its absence is a failure, never a skip.
    """
    import os

    path = settings.PACKAGE_DIR.parent.parent / "shared" / "data"
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run the tests on real data")
        pytest.skip(f"{path} is absent (the shared data folder sits beside the project only in development)")
    return path
