# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The grid worker's field app: scope (a worker sees only their grid), reporting (JSON and plain
form, exactly one case per idempotency key), on-site verification and inspections."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseAttachment, Channel
from fengqiao.cases.states import CaseState
from fengqiao.inspections.models import InspectionRound, InspectionTemplate
from fengqiao.org.models import Role
from tests.cases.conftest import clock, loop  # noqa: F401
from tests.factories import AssignmentFactory, UserFactory, jpeg_bytes

pytestmark = pytest.mark.django_db
S = CaseState
HOME = reverse("web:field_home")
REPORT = reverse("web:field_report")
MY_GRID = reverse("web:field_my_grid")
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _plain_http(settings, tmp_path):
    settings.SECURE_SSL_REDIRECT = False
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"


def as_user(client, user):
    client.force_login(user)
    return client


def photo(name="photo.jpg"):
    return SimpleUploadedFile(name, jpeg_bytes(), content_type="image/jpeg")


def report_data(loop, **extra):
    lon, lat = loop.point()
    data = {"category": str(loop.category.pk), "description": "路灯不亮", "lon": str(lon), "lat": str(lat),
            "urgency": "normal", "idempotency_key": uuid.uuid4().hex}
    data.update(extra)
    return data


def other_worker(loop):
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.GRID_WORKER, grid=loop.territory.grids[1])
    return user


def handled_case(loop, **kwargs):
    """A case in the worker's grid, handled by the department and waiting for verification."""
    case = loop.report(**kwargs)
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    s.case_start(actor=loop.handler, number=case.number)
    return s.case_report_back(actor=loop.handler, number=case.number, result="已修复")


# -- who uses the field app ------------------------------------------------------------------------
def test_the_field_app_asks_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))
    # the app's script gets 401, so a queued report stays queued instead of following a redirect
    assert client.post(REPORT, {}, **JSON).status_code == 401


@pytest.mark.parametrize("who", ["handler", "operator"])
def test_staff_without_a_grid_are_refused(client, loop, who):
    as_user(client, getattr(loop, who))
    assert client.get(HOME).status_code == 403
    assert client.post(REPORT, report_data(loop), **JSON).status_code == 403
    assert not Case.objects.exists()


def test_home_and_report_form(client, loop):
    as_user(client, loop.grid_worker)
    home = client.get(HOME)
    assert home.status_code == 200
    assert reverse("web:field_manifest") in home.content.decode()
    form = client.get(REPORT).content.decode()
    assert 'capture="environment"' in form and 'name="idempotency_key"' in form
    assert loop.category.name_en in form and loop.grid.code in form


# -- a grid worker sees only their grid --------------------------------------------------------------
def test_a_grid_worker_sees_only_their_grid(client, loop, django_assert_max_num_queries):
    mine = loop.report(description="本网格的事")
    lon, lat = loop.point(loop.territory.grids[1])
    theirs = loop.report(actor=loop.operator, channel=Channel.HOTLINE, lon=lon, lat=lat, description="隔壁网格的事")
    waiting = handled_case(loop, description="等待核查")
    as_user(client, loop.grid_worker)

    with django_assert_max_num_queries(15):
        page = client.get(MY_GRID)
    text = page.content.decode()
    assert page.status_code == 200
    assert mine.number in text and waiting.number in text
    assert theirs.number not in text and "隔壁网格的事" not in text
    assert client.get(reverse("web:field_case", args=[mine.number])).status_code == 200
    assert client.get(reverse("web:field_case", args=[theirs.number])).status_code == 404
    assert client.get(reverse("web:field_case", args=["330681101-20990101-9999"])).status_code == 404

    # the other grid's worker sees the other case and none of these
    as_user(client, other_worker(loop))
    text = client.get(MY_GRID).content.decode()
    assert theirs.number in text and mine.number not in text and waiting.number not in text
    assert client.get(reverse("web:field_case", args=[mine.number])).status_code == 404
    response = client.post(reverse("web:field_verify", args=[waiting.number]), {"passed": "yes"})
    assert response.status_code == 404
    assert Case.objects.get(pk=waiting.pk).state == S.HANDLED


def test_my_grid_query_count_does_not_grow_with_cases(client, loop, django_assert_max_num_queries):
    for i in range(12):
        loop.report(description=f"事项{i}")
    as_user(client, loop.grid_worker)
    with django_assert_max_num_queries(15):
        assert client.get(MY_GRID).status_code == 200


# -- reporting -------------------------------------------------------------------------------------
def test_report_by_script_answers_the_number_and_a_repeat_with_the_same_key_makes_one_case(client, loop):
    as_user(client, loop.grid_worker)
    data = report_data(loop)
    first = client.post(REPORT, {**data, "photos": photo()}, **JSON)
    assert first.status_code == 201, first.content
    number = first.json()["number"]
    case = Case.objects.get(number=number)
    assert case.channel == Channel.GRID_WORKER and case.grid == loop.grid and case.reporter_user == loop.grid_worker
    assert case.attachments.filter(kind=CaseAttachment.Kind.REPORT).count() == 1

    # the answer was lost and the outbox sends the same report again
    again = client.post(REPORT, {**data, "photos": photo()}, **JSON)
    assert again.status_code == 201 and again.json()["number"] == number
    assert Case.objects.count() == 1


def test_a_double_posted_plain_form_makes_one_case(client, loop):
    as_user(client, loop.grid_worker)
    data = report_data(loop)
    first = client.post(REPORT, data)
    second = client.post(REPORT, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.count() == 1
    page = client.get(first["Location"])
    assert Case.objects.get().number in page.content.decode()


def test_report_errors_are_structured_for_the_script(client, loop):
    as_user(client, loop.grid_worker)
    response = client.post(REPORT, report_data(loop, category="", description=""), **JSON)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "category" in fields
    assert not Case.objects.exists()

    response = client.post(REPORT, report_data(loop, photos=SimpleUploadedFile("x.jpg", b"not an image")), **JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("photos")


def test_a_point_outside_the_workers_grid_is_a_location_error(client, loop):
    as_user(client, loop.grid_worker)
    lon, lat = loop.point(loop.territory.grids[1])
    response = client.post(REPORT, report_data(loop, lon=str(lon), lat=str(lat)), **JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "location"


def test_plain_form_errors_keep_what_was_typed(client, loop):
    as_user(client, loop.grid_worker)
    response = client.post(REPORT, report_data(loop, category="", description="井盖松动", lon="abc"))
    assert response.status_code == 422
    text = response.content.decode()
    assert "井盖松动" in text  # what was typed is kept
    assert "Choose a category." in text and "Give the position as numbers." in text


def test_report_by_grid_without_a_position(client, loop):
    as_user(client, loop.grid_worker)
    response = client.post(REPORT, report_data(loop, lon="", lat="", grid=loop.grid.code), **JSON)
    assert response.status_code == 201
    assert Case.objects.get().grid == loop.grid
    other = loop.territory.grids[1].code
    response = client.post(REPORT, report_data(loop, lon="", lat="", grid=other), **JSON)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "grid"


def test_fixed_on_the_spot_needs_an_after_photo_and_closes_the_case(client, loop):
    as_user(client, loop.grid_worker)
    data = report_data(loop, close_on_spot="on", resolution="已清理")
    response = client.post(REPORT, data, **JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "after_photo_required"
    response = client.post(REPORT, {**report_data(loop, close_on_spot="on", resolution="已清理"),
                                    "after_photos": photo("after.jpg")}, **JSON)
    assert response.status_code == 201
    case = Case.objects.get(number=response.json()["number"])
    assert case.state == S.CLOSED
    assert case.attachments.filter(kind=CaseAttachment.Kind.AFTER).count() == 1


# -- on-site verification ----------------------------------------------------------------------------
def test_verification_with_a_photo_closes_the_case(client, loop):
    case = handled_case(loop)
    as_user(client, loop.grid_worker)
    page = client.get(reverse("web:field_case", args=[case.number])).content.decode()
    assert 'id="verify-form"' in page
    response = client.post(reverse("web:field_verify", args=[case.number]),
                           {"passed": "yes", "note": "现场已修复", "photo": photo(), "expected_version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.CLOSED
    assert case.attachments.filter(kind=CaseAttachment.Kind.VERIFY).count() == 1


def test_failed_verification_needs_a_note_and_a_stale_form_is_refused(client, loop):
    case = handled_case(loop)
    as_user(client, loop.grid_worker)
    url = reverse("web:field_verify", args=[case.number])
    response = client.post(url, {"passed": "no", "note": "", "expected_version": case.version})
    assert response.status_code == 422 and "Say why the verification failed." in response.content.decode()
    response = client.post(url, {"passed": "yes", "expected_version": case.version - 1})
    assert response.status_code == 409
    response = client.post(url, {"passed": "no", "note": "仍未修好", "expected_version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.DISPATCHED and case.rework_count == 1


# -- inspections ---------------------------------------------------------------------------------------
def test_an_inspection_in_the_browser_reports_a_failed_item(client, loop):
    template = InspectionTemplate.objects.get(name_zh="出租房夜间消防安全检查")
    template.items.update(category_code=loop.category.code)
    as_user(client, loop.grid_worker)
    page = client.get(reverse("web:field_inspections")).content.decode()
    assert template.name_en in page
    response = client.post(reverse("web:field_inspection_start"), {"template": template.pk, "grid": loop.grid.code})
    assert response.status_code == 302
    inspection = InspectionRound.objects.get()
    assert response["Location"] == reverse("web:field_inspection", args=[inspection.pk])
    items = list(template.items.all())

    item_url = reverse("web:field_inspection_item", args=[inspection.pk, items[0].pk])
    response = client.post(item_url, {"passed": "no", "note": ""})
    assert response.status_code == 422 and not Case.objects.exists()
    response = client.post(item_url, {"passed": "no", "note": "楼道堆满杂物", "photo": photo()})
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.grid == loop.grid
    for item in items[1:]:
        client.post(reverse("web:field_inspection_item", args=[inspection.pk, item.pk]), {"passed": "yes"})
    page = client.get(reverse("web:field_inspection", args=[inspection.pk])).content.decode()
    assert case.number in page
    response = client.post(reverse("web:field_inspection_finish", args=[inspection.pk]))
    assert response.status_code == 302
    inspection.refresh_from_db()
    assert inspection.finished_at is not None and Case.objects.count() == 1

    # another grid's worker finds no such round
    as_user(client, other_worker(loop))
    assert client.get(reverse("web:field_inspection", args=[inspection.pk])).status_code == 404
    response = client.post(reverse("web:field_inspection_start"), {"template": template.pk, "grid": loop.grid.code})
    assert response.status_code == 404


# -- installable -------------------------------------------------------------------------------------
def test_manifest_and_service_worker(client):
    manifest = client.get(reverse("web:field_manifest"))
    assert manifest.status_code == 200 and manifest["Content-Type"].startswith("application/manifest+json")
    data = json.loads(manifest.content)
    assert data["start_url"] == HOME and data["display"] == "standalone"
    assert {icon["sizes"] for icon in data["icons"]} >= {"192x192", "512x512"}
    for icon in data["icons"]:  # the icons exist among the static files
        assert finders.find(icon["src"].removeprefix(settings.STATIC_URL))

    worker = client.get(reverse("web:field_sw"))
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == HOME
    source = worker.content.decode()
    assert "__SHELL__" not in source and REPORT in source and "web/field.js" in source
    assert "__LAZY__" not in source and "vendor/echarts/echarts.min.js" in source  # kept once used
