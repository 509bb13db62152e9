"""Fixtures for the staff pages: the case loop's territory and staff (tests/cases/conftest.py)."""

from __future__ import annotations

import pytest

from tests.cases.conftest import Clock, Loop, clock, loop  # noqa: F401


@pytest.fixture
def english_pages(settings, tmp_path):
    """Pages in English (the site's default language for these tests) and uploads in a temporary folder."""
    settings.LANGUAGE_CODE = "en"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def signed_in(client):
    """``signed_in(user)``: the test client, signed in as `user`."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
