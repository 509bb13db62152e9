"""The case-loop township (tests.cases.conftest) with residents' helpers for the portal's tests."""

from __future__ import annotations

import pytest

from fengqiao.cases import services as s
from tests.cases.conftest import clock, loop  # noqa: F401

PHONE = "13805751234"
NAME = "王小明"
ADDRESS = "东溪村3组15号"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _rates(settings):
    settings.PUBLIC_RATE = "1000/h"


def close_case(township, number):
    s.case_accept(actor=township.operator, number=number)
    s.case_dispatch(actor=township.operator, number=number, department=township.enforcement)
    s.case_report_back(actor=township.handler, number=number, result="已修复")
    return s.case_verify(actor=township.grid_worker, number=number, passed=True)


@pytest.fixture
def client(client):
    """Pages in English unless a test asks for Chinese (Accept-Language)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
