"""Following a request by code (+ phone digits) or from the account, the answer, and rating it."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from fengqiao.cases import selectors as case_selectors
from fengqiao.cases import services as s
from fengqiao.cases.models import Case
from fengqiao.cases.states import CaseState
from fengqiao.portal.services import resident_register
from tests.portal.conftest import PHONE, close_case
from tests.portal.test_report import form

pytestmark = pytest.mark.django_db

NOT_FOUND = "We found no request with this code and these phone digits"


def reported(client, loop, **extra):
    client.post("/portal/report/", form(loop, **extra))
    return Case.objects.order_by("-pk").first()


def english_client():
    other = Client()
    other.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return other


def test_track_by_code_and_phone_digits_shows_the_answer(client, loop):
    case = reported(client, loop)
    s.case_answer(actor=loop.operator, number=case.number, text="路灯已报修，预计周五前修好。")
    visitor = english_client()
    code = f"{case.tracking_code[:5].lower()}-{case.tracking_code[5:]}"  # as people type it
    response = visitor.post("/portal/track/", {"code": code, "phone_last4": PHONE[-4:]})
    assert response.status_code == 302
    page = visitor.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="answer"' in html and "路灯已报修，预计周五前修好。" in html
    assert "We received your request." in html


@pytest.mark.parametrize("wrong", ["code", "phone", "no_phone"])
def test_a_wrong_code_or_phone_gets_one_neutral_message(client, loop, wrong):
    case = reported(client, loop)
    code = case.tracking_code if wrong != "code" else "ABCDE12345"
    digits = {"code": PHONE[-4:], "phone": "0000", "no_phone": ""}[wrong]
    visitor = english_client()
    response = visitor.post("/portal/track/", {"code": code, "phone_last4": digits})
    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()
    # and the case page stays closed to that browser
    assert visitor.get(f"/portal/track/{case.tracking_code}/").status_code == 404


def test_without_a_phone_the_code_alone_opens_the_request(client, loop):
    case = reported(client, loop, anonymous="on")
    visitor = english_client()
    response = visitor.post("/portal/track/", {"code": case.tracking_code, "phone_last4": ""})
    assert response.status_code == 302


def test_tracking_is_rate_limited(client, loop, settings):
    settings.PUBLIC_RATES = {"portal.track": "3/h"}
    visitor = english_client()
    statuses = [visitor.post("/portal/track/", {"code": "ABCDE12345", "phone_last4": "1111"}).status_code
                for _ in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_an_unsatisfied_rating_reopens_review(client, loop):
    case = reported(client, loop)
    close_case(loop, case.number)
    visitor = english_client()
    visitor.post("/portal/track/", {"code": case.tracking_code, "phone_last4": PHONE[-4:]})
    page = visitor.get(f"/portal/track/{case.tracking_code}/").content.decode()
    assert 'id="rate-form"' in page
    response = visitor.post(f"/portal/track/{case.tracking_code}/rate/", {"rating": "1", "comment": "灯还是不亮"})
    assert response.status_code == 302
    again = case_selectors.case_for_resident(code=case.tracking_code, phone_last4=PHONE[-4:])
    assert again.state == CaseState.ACCEPTED and again.reopen_count == 1 and again.rating == 1
    assert "reviewed again" in visitor.get(response["Location"]).content.decode()


def test_a_good_rating_closes_the_loop(client, loop):
    case = reported(client, loop)
    close_case(loop, case.number)
    client.post("/portal/track/", {"code": case.tracking_code, "phone_last4": PHONE[-4:]})
    client.post(f"/portal/track/{case.tracking_code}/rate/", {"rating": "5"})
    assert Case.objects.get(pk=case.pk).state == CaseState.RATED


def test_rating_input_is_checked(client, loop):
    case = reported(client, loop)
    close_case(loop, case.number)
    client.post("/portal/track/", {"code": case.tracking_code, "phone_last4": PHONE[-4:]})
    response = client.post(f"/portal/track/{case.tracking_code}/rate/", {"rating": "9"})
    assert response.status_code == 422 and "1 to 5" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == CaseState.CLOSED


def test_an_open_case_cannot_be_rated(client, loop):
    case = reported(client, loop)
    client.post("/portal/track/", {"code": case.tracking_code, "phone_last4": PHONE[-4:]})
    assert 'id="rate-form"' not in client.get(f"/portal/track/{case.tracking_code}/").content.decode()
    response = client.post(f"/portal/track/{case.tracking_code}/rate/", {"rating": "5"})
    assert response.status_code == 409


def test_an_account_sees_all_its_requests_without_codes(client, loop):
    user = resident_register(email="li@example.org", password="a-long-pass-phrase-1")
    client.force_login(user)
    first, second = reported(client, loop, idempotency_key="a"), reported(client, loop, idempotency_key="b")
    html = client.get("/portal/account/my/").content.decode()
    assert first.tracking_code in html and second.tracking_code in html
    assert client.get(f"/portal/track/{first.tracking_code}/").status_code == 200
    # another resident's account sees none of them
    other = english_client()
    other.force_login(resident_register(email="zhao@example.org", password="a-long-pass-phrase-2"))
    assert first.tracking_code not in other.get("/portal/account/my/").content.decode()
    assert other.get(f"/portal/track/{first.tracking_code}/").status_code == 404


def test_register_sign_in_and_preferences(client, loop):
    response = client.post("/portal/account/register/", {"email": "Chen@Example.org", "password": "short",
                                                           "password2": "short"})
    assert response.status_code == 422 and 'id="password-error"' in response.content.decode()
    response = client.post("/portal/account/register/", {"email": "Chen@Example.org", "password": "a-long-pass-1x",
                                                           "password2": "a-long-pass-1x", "email_on_changes": "on"})
    assert response.status_code == 302
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="chen@example.org")
    assert not user.is_staff and not user.assignments.exists() and user.resident_profile.email_on_changes
    again = client.post("/portal/account/register/", {"email": "chen@example.org", "password": "a-long-pass-1x",
                                                        "password2": "a-long-pass-1x"})
    assert again.status_code == 302  # already signed in: to the account page
    client.logout()
    dup = client.post("/portal/account/register/", {"email": "chen@example.org", "password": "a-long-pass-1x",
                                                     "password2": "a-long-pass-1x"})
    assert dup.status_code == 422 and "exists already" in dup.content.decode()
    signed = client.post("/portal/account/login/", {"username": "CHEN@example.org", "password": "a-long-pass-1x"})
    assert signed.status_code == 302 and signed["Location"] == "/portal/account/my/"
    client.post("/portal/account/", {})
    user.resident_profile.refresh_from_db()
    assert user.resident_profile.email_on_changes is False


def test_failed_resident_sign_ins_are_throttled(client, loop, settings):
    resident_register(email="sun@example.org", password="a-long-pass-phrase-3")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/portal/account/login/", {"username": "sun@example.org", "password": "wrong"})
    locked = client.post("/portal/account/login/", {"username": "sun@example.org", "password": "a-long-pass-phrase-3"})
    assert locked.status_code == 429 or "_auth_user_id" not in client.session


def test_a_resident_has_no_way_into_staff_pages(client, loop):
    user = resident_register(email="zhou@example.org", password="a-long-pass-phrase-4")
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    for path in ("/desk/", "/cases/"):
        response = client.get(path)
        assert response.status_code in (302, 403, 404) or not re.search(r"\d{9}-\d{8}-\d{4}", response.content.decode())
