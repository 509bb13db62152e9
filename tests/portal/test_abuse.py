"""Rate limits per client on public forms, and the captcha seam."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory

from fengqiao.core import clock
from fengqiao.core.errors import InvalidInput
from fengqiao.portal import abuse
from fengqiao.portal.models import RateCounter

pytestmark = pytest.mark.django_db


@abuse.limit_public_form("test.form")
def _view(request):
    return HttpResponse("ok")


def _post(address="10.0.0.1", **headers):
    request = RequestFactory().post("/portal/report/", {"x": "1"}, REMOTE_ADDR=address, **headers)
    request.user = AnonymousUser()
    return request


def test_rate_parse():
    assert abuse.Rate.parse("20/h") == abuse.Rate(20, 3600)
    assert abuse.Rate.parse("100/10m") == abuse.Rate(100, 600)
    assert abuse.Rate.parse("off").count == 0
    with pytest.raises(ValueError, match="not like"):
        abuse.Rate.parse("twenty")


def test_posts_beyond_the_rate_get_429_with_retry_after(settings):
    settings.PUBLIC_RATE = "3/h"
    statuses = [_view(_post()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = _view(_post())
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert b"Too many submissions" in refused.content


def test_clients_and_scopes_are_counted_apart(settings):
    settings.PUBLIC_RATE = "1/h"
    assert _view(_post("10.0.0.1")).status_code == 200
    assert _view(_post("10.0.0.1")).status_code == 429
    assert _view(_post("10.0.0.2")).status_code == 200
    other = abuse.limit_public_form("test.other")(lambda request: HttpResponse("ok"))
    assert other(_post("10.0.0.1")).status_code == 200


def test_gets_are_not_counted(settings):
    settings.PUBLIC_RATE = "1/h"
    for _ in range(3):
        request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")
        assert _view(request).status_code == 200
    assert _view(_post()).status_code == 200


def test_scope_override_and_off(settings):
    settings.PUBLIC_RATE = "1/h"
    settings.PUBLIC_RATES = {"test.form": "off"}
    assert all(_view(_post()).status_code == 200 for _ in range(5))


def test_window_passes(settings):
    settings.PUBLIC_RATE = "1/h"
    assert not abuse.rate_limited(_post(), "test.form")
    assert abuse.rate_limited(_post(), "test.form")
    with clock.travel(clock.now() + timedelta(hours=1, seconds=1)):
        assert not abuse.rate_limited(_post(), "test.form")


def test_addresses_are_not_stored(settings):
    settings.PUBLIC_RATE = "5/h"
    abuse.rate_limited(_post("203.0.113.77"), "test.form")
    counter = RateCounter.objects.get()
    assert "203.0.113.77" not in counter.client and counter.count == 1


def test_client_header_behind_a_proxy(settings):
    settings.PUBLIC_RATE = "1/h"
    settings.PUBLIC_CLIENT_HEADER = "HTTP_X_REAL_IP"
    assert _view(_post("10.0.0.9", HTTP_X_REAL_IP="198.51.100.1")).status_code == 200
    assert _view(_post("10.0.0.9", HTTP_X_REAL_IP="198.51.100.2")).status_code == 200
    assert _view(_post("10.0.0.9", HTTP_X_REAL_IP="198.51.100.1")).status_code == 429


def test_json_callers_get_a_structured_429(settings):
    settings.PUBLIC_RATE = "1/h"
    _view(_post())
    response = _view(_post(HTTP_ACCEPT="application/json"))
    assert response.status_code == 429
    assert json.loads(response.content)["errors"][0]["code"] == "rate_limited"


def test_429_page_in_chinese(settings):
    from django.utils import translation

    settings.PUBLIC_RATE = "1/h"
    _view(_post())
    with translation.override("zh-hans"):
        response = _view(_post())
    assert response.status_code == 429
    assert "提交" in response.content.decode()


def test_purge_keeps_current_windows(settings):
    settings.PUBLIC_RATE = "5/h"
    with clock.travel(clock.now() - timedelta(days=3)):
        abuse.rate_limited(_post(), "test.form")
    abuse.rate_limited(_post(), "test.form")
    assert abuse.purge_rate_counters() == 1
    assert RateCounter.objects.count() == 1


def _refuse(request):
    return request.POST.get("captcha") == "yes"


_refuse.widget = lambda request: '<input name="captcha">'


def test_captcha_off_by_default():
    abuse.captcha_check(_post())
    assert abuse.captcha_widget(_post()) == ""


def test_captcha_backend_refuses(settings):
    settings.CAPTCHA_BACKEND = "tests.portal.test_abuse._refuse"
    with pytest.raises(InvalidInput) as raised:
        abuse.captcha_check(_post())
    assert raised.value.errors[0].field == "captcha"
    passing = RequestFactory().post("/", {"captcha": "yes"})
    abuse.captcha_check(passing)
    assert 'name="captcha"' in abuse.captcha_widget(passing)
