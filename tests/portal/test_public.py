"""Public cases (list, page, map JSON) carry no personal data; e-mail subscriptions and the update mailer."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from fengqiao.cases import services as s
from fengqiao.cases.models import Case
from fengqiao.notify.models import Message
from fengqiao.portal import services as portal
from fengqiao.portal.models import Subscription
from tests.portal.conftest import ADDRESS, NAME, PHONE, close_case
from tests.portal.test_report import form

pytestmark = pytest.mark.django_db

SECRET_WORDS = [NAME, PHONE, PHONE[:3] + "****" + PHONE[-4:], ADDRESS, "wang@example.org"]


def assert_clean(text: str) -> None:
    for word in SECRET_WORDS:
        assert word not in text, f"{word!r} leaked"


@pytest.fixture
def cases(client, loop):
    """A public and a private request with full contact details, and one with a phone in the text."""
    client.post("/portal/report/", form(loop, idempotency_key="pub", email="wang@example.org"))
    client.post("/portal/report/", form(loop, idempotency_key="priv", is_public="0", description="家门口私事"))
    client.post("/portal/report/", form(loop, idempotency_key="text",
                                        description=f"请打 {PHONE} 找{NAME}，地址{ADDRESS}"))
    public, private, text = (Case.objects.get(description__startswith=p) for p in ("路灯", "家门口", "请打"))
    s.case_answer(actor=loop.operator, number=public.number, text="已安排维修")
    return public, private, text


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_public_pages_and_json_show_no_personal_data(cases, loop, language):
    public, private, text = cases
    visitor = Client(HTTP_ACCEPT_LANGUAGE=language)
    pages = ["/portal/", "/portal/cases/", f"/portal/cases/?village={loop.grid.region.code}", "/portal/cases/?state=received",
             f"/portal/cases/{public.number}/", f"/portal/cases/{text.number}/", "/portal/cases/map.json",
             "/portal/subscribe/", f"/portal/subscribe/?case={public.number}", "/portal/track/",
             "/api/v1/portal/cases", "/api/v1/portal/map"]
    for path in pages:
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert_clean(response.content.decode())
    listing = visitor.get("/portal/cases/").content.decode()
    assert public.number in listing and private.number not in listing
    assert visitor.get(f"/portal/cases/{private.number}/").status_code == 404
    assert "已安排维修" in visitor.get(f"/portal/cases/{public.number}/").content.decode()


def test_the_map_shows_grids_and_pins_blurred_to_the_grid(cases, loop):
    public, _private, _text = cases
    data = json.loads(Client().get("/portal/cases/map.json").content)
    assert {f["properties"]["name"] for f in data["grids"]["features"]} >= {loop.grid.code}
    pin = next(p for p in data["pins"] if p["number"] == public.number)
    grid = loop.grid
    assert (pin["lon"], pin["lat"]) == (round((grid.min_lon + grid.max_lon) / 2, 5),
                                        round((grid.min_lat + grid.max_lat) / 2, 5))
    assert (pin["lon"], pin["lat"]) != (public.lon, public.lat)
    assert "pins" not in json.loads(Client().get("/portal/cases/map.json?pins=0").content)


def test_filters(cases, loop):
    public, _private, _text = cases
    other_village = loop.territory.villages[3].code
    assert public.number not in Client().get(f"/portal/cases/?village={other_village}").content.decode()
    assert public.number not in Client().get("/portal/cases/?state=done").content.decode()
    assert public.number in Client().get("/portal/cases/?type=report&state=received").content.decode()


def confirm_link(message: Message) -> str:
    return next(w for w in message.body.split() if "/subscribe/confirm/" in w).split("testserver")[-1]


def test_subscribe_to_a_case_double_opt_in_one_mail_per_event_and_unsubscribe(cases, loop, client):
    public, _private, _text = cases
    visitor = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = visitor.post("/portal/subscribe/", {"case": public.number, "email": "reader@example.org"})
    assert response.status_code == 200
    subscription = Subscription.objects.get(case=public, own_request=False)
    # asking twice sends one confirmation
    visitor.post("/portal/subscribe/", {"case": public.number, "email": "reader@example.org"})
    confirmations = [m for m in Message.objects.filter(topic="portal.subscription.confirm") if m.address == "reader@example.org"]
    assert len(confirmations) == 1
    # before confirming: nothing is mailed
    s.case_accept(actor=loop.operator, number=public.number)
    portal.send_case_updates()
    assert not [m for m in Message.objects.filter(topic="portal.case.update") if m.address == "reader@example.org"]
    # the link shows a button; the POST confirms
    path = f"/portal/subscribe/confirm/{subscription.token}/"
    assert visitor.get(path).status_code == 200
    subscription.refresh_from_db()
    assert subscription.confirmed_at is None
    assert visitor.post(path).status_code == 200
    s.case_dispatch(actor=loop.operator, number=public.number, department=loop.enforcement)
    portal.send_case_updates()
    portal.send_case_updates()  # a second run mails nothing twice
    updates = [m for m in Message.objects.filter(topic="portal.case.update") if m.address == "reader@example.org"]
    assert len(updates) == 1
    assert f"/portal/subscribe/cancel/{subscription.token}/" in updates[0].body
    assert_clean(updates[0].body.replace("wang@example.org", ""))
    visitor.post(f"/portal/subscribe/cancel/{subscription.token}/")
    s.case_start(actor=loop.handler, number=public.number)
    portal.send_case_updates()
    assert len([m for m in Message.objects.filter(topic="portal.case.update") if m.address == "reader@example.org"]) == 1


def test_subscribe_to_a_grid_gets_its_public_cases_only(cases, loop):
    public, private, _text = cases
    subscription = portal.subscription_request(email="grid@example.org", grid_code=loop.grid.code)
    portal.subscription_confirm(token=subscription.token)
    s.case_accept(actor=loop.operator, number=public.number)
    s.case_accept(actor=loop.operator, number=private.number)
    portal.send_case_updates()
    mails = [m for m in Message.objects.filter(topic="portal.case.update") if m.address == "grid@example.org"]
    assert mails and {m.case_number for m in mails} == {public.number}  # the answer and the acceptance


def test_bad_subscription_requests(cases, loop):
    public, private, _text = cases
    visitor = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert visitor.post("/portal/subscribe/", {"case": public.number, "email": "nope"}).status_code == 422
    assert visitor.post("/portal/subscribe/", {"case": private.number, "email": "a@example.org"}).status_code == 404
    assert visitor.post("/portal/subscribe/", {"grid": "999", "email": "a@example.org"}).status_code == 404
    assert visitor.post("/portal/subscribe/confirm/not-a-token/").status_code == 404
    assert Subscription.objects.filter(own_request=False).count() == 0


def test_account_holders_get_mail_about_their_own_requests(loop, client):
    user = portal.resident_register(email="li@example.org", password="a-long-pass-phrase-1")
    client.force_login(user)
    client.post("/portal/report/", form(loop, is_public="0"))
    case = Case.objects.get()
    s.case_answer(actor=loop.operator, number=case.number, text="答复内容")
    portal.send_case_updates()
    mails = [m for m in Message.objects.filter(topic="portal.request.update") if m.address == "li@example.org"]
    assert len(mails) == 1 and "答复内容" in mails[0].body
    portal.resident_set_preferences(actor=user, email_on_changes=False)
    close_case(loop, case.number)
    portal.send_case_updates()
    assert len([m for m in Message.objects.filter(topic="portal.request.update")]) == 1


def test_the_demo_is_idempotent(loop):
    from fengqiao.portal import demo

    first = demo.build(township=loop.territory.townships[0], villages=loop.territory.villages, password="pw-123456")
    second = demo.build(township=loop.territory.townships[0], villages=loop.territory.villages, password="pw-123456")
    assert first.counts == second.counts
    assert Case.objects.count() == first.counts["portal requests"] > 0
