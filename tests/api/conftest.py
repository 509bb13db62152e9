"""The case-loop township of tests/cases, and API clients holding a personal token per role."""

from __future__ import annotations

import base64
import json

import pytest

from fengqiao.api.tokens import api_token_create
from tests.cases.conftest import clock, loop  # noqa: F401
from tests.factories import jpeg_bytes


class Api:
    """A Django test client speaking JSON with a bearer token."""

    def __init__(self, client, user=None, language: str | None = None):
        self.client = client
        self.headers: dict[str, str] = {}
        if user is not None:
            self.headers["Authorization"] = f"Bearer {api_token_create(user=user, name='tests').plain}"
        if language:
            self.headers["Accept-Language"] = language

    def get(self, path: str, data=None, **headers):
        return self.client.get(f"/api/v1{path}", data or {}, headers={**self.headers, **headers}, secure=True)

    def post(self, path: str, body=None, **headers):
        return self.client.post(f"/api/v1{path}", json.dumps(body if body is not None else {}),
                                content_type="application/json", headers={**self.headers, **headers}, secure=True)

    def act(self, number: str, action: str, version: int, **fields):
        return self.post(f"/cases/{number}/{action}", {"version": version, **fields})


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def as_user(client):
    """``as_user(user, language=None)``: an API client authenticated with a new token of `user`."""

    def make(user=None, language=None):
        return Api(client, user, language)

    return make


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def photo() -> str:
    return b64(jpeg_bytes())


def create_body(township, **overrides) -> dict:
    lon, lat = township.point()
    body = {"category": township.category.code, "description": "井盖缺失，行人有危险", "lon": lon, "lat": lat}
    body.update(overrides)
    return body
