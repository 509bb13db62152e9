"""Reporting and asking through the portal: the form, its checks, idempotency, prefill from QR codes."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from fengqiao.cases.models import Case, CaseAttachment, Channel, RequestType
from fengqiao.portal.models import Subscription
from tests.factories import AssetFactory, jpeg_bytes
from tests.portal.conftest import ADDRESS, NAME, PHONE

pytestmark = pytest.mark.django_db


def form(loop, **extra):
    lon, lat = loop.point()
    data = {"request_type": "report", "category": str(loop.category.pk), "description": "路灯坏了，晚上很黑",
            "lon": f"{lon}", "lat": f"{lat}", "address": ADDRESS, "name": NAME, "phone": PHONE,
            "is_public": "1", "idempotency_key": "k-1"}
    data.update(extra)
    return data


def photo(data=None, name="p.jpg"):
    return SimpleUploadedFile(name, data if data is not None else jpeg_bytes(), content_type="image/jpeg")


def test_the_form_offers_types_leaf_topics_villages_and_a_key(client, loop):
    response = client.get("/portal/report/")
    assert response.status_code == 200
    html = response.content.decode()
    for value in RequestType.values:
        assert f'value="{value}"' in html
    assert loop.category.name_en in html
    assert 'name="idempotency_key"' in html
    assert loop.territory.villages[0].code in html and loop.grid.code in html


def test_a_report_with_a_photo_gets_a_code_and_the_answer_deadline(client, loop):
    response = client.post("/portal/report/", {**form(loop), "photos": photo()})
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.channel == Channel.RESIDENT and case.reporter_user is None
    assert case.reporter_phone == PHONE and case.grid == loop.grid
    assert case.answer_due_at is not None
    assert case.attachments.filter(kind=CaseAttachment.Kind.REPORT).count() == 1
    assert response["Location"] == f"/portal/report/done/{case.tracking_code}/"
    done = client.get(response["Location"])
    html = done.content.decode()
    assert f"{case.tracking_code[:5]}-{case.tracking_code[5:]}" in html
    assert case.answer_due_at.astimezone(translation.get_language() and case.answer_due_at.tzinfo).strftime("%Y-") in html


def test_the_done_page_only_shows_in_the_browser_that_reported(client, loop, django_user_model):
    client.post("/portal/report/", form(loop))
    case = Case.objects.get()
    from django.test import Client

    assert Client().get(f"/portal/report/done/{case.tracking_code}/").status_code == 404


def test_asking_a_question_anonymously(client, loop):
    response = client.post("/portal/report/", form(loop, request_type="consult", anonymous="on"))
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.request_type == RequestType.CONSULT and case.anonymous
    assert case.reporter_name == "" and case.reporter_phone == ""


def test_a_double_submit_creates_one_case(client, loop):
    data = form(loop)
    first = client.post("/portal/report/", {**data, "photos": photo()})
    second = client.post("/portal/report/", {**data, "photos": photo()})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.count() == 1 and CaseAttachment.objects.count() == 1


def test_json_callers_get_the_code(client, loop):
    response = client.post("/portal/report/", form(loop), HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["tracking_code"] == Case.objects.get().tracking_code and body["answer_due_at"]


@pytest.mark.parametrize(("change", "field"), [
    ({"description": "  "}, "description"),
    ({"category": ""}, "category"),
    ({"category": "999999"}, "category"),
    ({"lon": "", "lat": "", "grid": ""}, "location"),
    ({"lon": "abc"}, "location"),
    ({"lon": "10", "lat": "10"}, "location"),
    ({"phone": "call me"}, "reporter_phone"),
    ({"email": "not-an-address"}, "email"),
    ({"request_type": "rumour"}, "request_type"),
])
def test_bad_input_gets_a_message_by_field_and_saves_nothing(client, loop, change, field):
    response = client.post("/portal/report/", form(loop, **change), HTTP_ACCEPT="application/json")
    assert response.status_code in (400, 404, 422)
    assert field in {e["field"].split("[")[0] for e in response.json()["errors"] if e["field"]}
    assert Case.objects.count() == 0


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_saved(client, loop, settings):
    response = client.post("/portal/report/", {**form(loop), "photos": photo(b"%PDF-1.4 not an image", "x.jpg")})
    assert response.status_code == 422
    assert "Please correct the marked fields" in response.content.decode()
    assert Case.objects.count() == 0 and CaseAttachment.objects.count() == 0
    assert not list((settings.MEDIA_ROOT).rglob("*.jpg")) if settings.MEDIA_ROOT.exists() else True


def test_a_photo_above_the_size_limit_is_refused(client, loop, settings):
    settings.ATTACHMENT_MAX_BYTES = 500
    response = client.post("/portal/report/", {**form(loop), "photos": photo(jpeg_bytes(size=(400, 400)))},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("photos")
    assert Case.objects.count() == 0


def test_the_form_shows_errors_and_keeps_what_was_typed(client, loop):
    response = client.post("/portal/report/", form(loop, description=""))
    html = response.content.decode()
    assert response.status_code == 422
    assert ADDRESS in html and 'id="description-error"' in html


def test_grid_without_a_point(client, loop):
    response = client.post("/portal/report/", form(loop, lon="", lat="", grid=loop.grid.code))
    assert response.status_code == 302
    assert Case.objects.get().grid == loop.grid


def test_qr_code_of_an_asset_fills_the_place(client, loop):
    lon, lat = loop.point()
    asset = AssetFactory(code="MH-0042", name="东溪路井盖", lon=lon, lat=lat, grid=loop.grid,
                         region=loop.grid.region)
    html = client.get("/portal/report/?asset=MH-0042").content.decode()
    assert 'id="asset-box"' in html and "MH-0042" in html and "东溪路井盖" in html
    assert f'value="{lon:.6f}"' in html
    assert f'value="{loop.grid.code}" data-village="{loop.grid.region.code}" selected' in html
    response = client.post("/portal/report/", form(loop, lon="", lat="", asset="MH-0042"))
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.asset == asset and case.grid == loop.grid
    # an unknown asset code prefills nothing and breaks nothing
    assert 'id="asset-box"' not in client.get("/portal/report/?asset=NOPE").content.decode()


def test_qr_code_of_a_village_preselects_it(client, loop):
    village = loop.territory.villages[1]
    html = client.get(f"/portal/report/?region={village.code}").content.decode()
    assert f'<option value="{village.code}" selected>' in html


def test_signed_in_resident_becomes_the_reporter(client, loop):
    from fengqiao.portal.services import resident_register

    user = resident_register(email="li@example.org", password="a-long-pass-phrase-1")
    client.force_login(user)
    client.post("/portal/report/", form(loop))
    assert Case.objects.get().reporter_user == user


def test_an_email_on_the_form_asks_to_confirm_updates_of_the_own_request(client, loop):
    from fengqiao.notify.models import Message

    client.post("/portal/report/", form(loop, email="wang@example.org", is_public="0"))
    case = Case.objects.get()
    subscription = Subscription.objects.get()
    assert subscription.case == case and subscription.own_request and subscription.confirmed_at is None
    mails = [m.address for m in Message.objects.filter(topic="portal.subscription.confirm")]
    assert mails == ["wang@example.org"]


def test_captcha_seam_refuses_and_saves_nothing(client, loop, settings):
    settings.CAPTCHA_BACKEND = "tests.portal.test_abuse._refuse"
    response = client.post("/portal/report/", form(loop), HTTP_ACCEPT="application/json")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "captcha"
    assert Case.objects.count() == 0
    assert client.post("/portal/report/", form(loop, captcha="yes")).status_code == 302


def test_the_report_form_is_rate_limited(client, loop, settings):
    settings.PUBLIC_RATE = "2/h"
    statuses = [client.post("/portal/report/", form(loop, idempotency_key=f"k{i}")).status_code for i in range(3)]
    assert statuses == [302, 302, 429]
    assert Case.objects.count() == 2


def test_the_form_in_chinese(client, loop):
    with translation.override("zh-hans"):
        html = client.get("/portal/report/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "个工作日内答复" in html and "匿名" in html
