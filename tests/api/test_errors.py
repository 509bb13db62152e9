"""Bad input: structured 422s naming the field, in the caller's language, nothing written; idempotency."""

import base64
import re

import pytest

from fengqiao.cases.models import Case, CaseAttachment, CaseEvent, IdempotencyKey
from tests.api.conftest import b64, create_body, photo
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def reporter(loop, as_user):
    return as_user(loop.grid_worker)


def _nothing_written():
    assert Case.objects.count() == 0
    assert CaseEvent.objects.count() == 0
    assert CaseAttachment.objects.count() == 0


def _error(response, status=422):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"errors"} and body["errors"]
    for error in body["errors"]:
        assert set(error) == {"field", "code", "message"} and error["message"]
    return body["errors"][0]


@pytest.mark.parametrize("overrides, field, code", [
    ({"description": None}, "description", "missing"),
    ({"description": "   "}, "description", "required"),
    ({"description": "很长" * 1001}, "description", "too_long"),
    ({"category": "9999"}, "category", "invalid_choice"),
    ({"lon": None, "lat": None, "grid": "330681101999999"}, "grid", "invalid_choice"),
    ({"lon": 100.0, "lat": 20.0}, "location", "outside_territory"),
    ({"lon": 120.01, "lat": None}, "location", "invalid_point"),
    ({"lon": None, "lat": None}, "location", "location_required"),
    ({"lon": "east"}, "lon", "float_parsing"),
    ({"urgency": "very"}, "urgency", "literal_error"),
    ({"channel": "sensor"}, "channel", "literal_error"),
    ({"address": "路" * 301}, "address", "string_too_long"),
    ({"photos": [photo()] * 10}, "photos", "too_long"),
    ({"photos": [b64(b"just some text, not an image")]}, "photos[0]", "not_an_image"),
    ({"photos": [photo(), "not base64!"]}, "photos[1]", "invalid_base64"),
    ({"photos": [""]}, "photos[0]", "invalid_base64"),
    ({"colour": "red"}, "colour", "extra_forbidden"),
])
def test_bad_reports_answer_422_naming_the_field_and_write_nothing(loop, reporter, overrides, field, code):
    body = create_body(loop, **overrides)
    if overrides.get("description", "") is None:
        del body["description"]
    error = _error(reporter.post("/cases", body))
    assert (error["field"], error["code"]) == (field, code)
    _nothing_written()


def test_an_oversized_image_is_refused(loop, reporter, settings):
    settings.ATTACHMENT_MAX_BYTES = 200
    error = _error(reporter.post("/cases", create_body(loop, photos=[b64(jpeg_bytes(size=(400, 300)))])))
    assert (error["field"], error["code"]) == ("photos[0]", "too_large")
    _nothing_written()


def test_a_photo_may_come_as_a_data_url(loop, reporter):
    response = reporter.post("/cases", create_body(loop, photos=["data:image/jpeg;base64," + photo()]))
    assert response.status_code == 201 and len(response.json()["attachments"]) == 1


def test_unknown_category_and_grid_are_reported_together(loop, reporter):
    response = reporter.post("/cases", create_body(loop, category="9999", grid="nowhere"))
    assert [e["field"] for e in response.json()["errors"]] == ["category", "grid"]


def test_a_body_that_is_not_json_or_not_an_object(loop, reporter):
    response = reporter.client.post("/api/v1/cases", "{not json", content_type="application/json",
                                    headers=reporter.headers, secure=True)
    assert _error(response)["code"] == "json_invalid"
    assert _error(reporter.post("/cases", [1, 2]))["field"] is None
    _nothing_written()


def test_a_body_over_the_size_limit_answers_413(loop, reporter, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error = _error(reporter.post("/cases", create_body(loop, photos=[photo()])), status=413)
    assert error["code"] == "too_large"
    _nothing_written()


def test_bad_list_filters(loop, reporter):
    for query, field, code in [
        ({"limit": 0}, "limit", "greater_than_equal"),
        ({"limit": 201}, "limit", "less_than_equal"),
        ({"limit": "many"}, "limit", "int_parsing"),
        ({"state": ["reported", "lost"]}, "state[1]", "enum"),
        ({"overdue": "perhaps"}, "overdue", "bool_parsing"),
        ({"created_from": "last week"}, "created_from", "datetime_from_date_parsing"),
        ({"cursor": "!!!"}, "cursor", "invalid_cursor"),
        # a forged cursor holding a time the database cannot store
        ({"cursor": base64.urlsafe_b64encode(b"0001-01-01T00:00:00+08:00|1").decode()}, "cursor", "invalid_cursor"),
        ({"created_from": "0001-01-01T00:00:00+08:00"}, "created_from", "datetime_out_of_range"),
        ({"created_to": "9999-12-31T23:59:59-08:00"}, "created_to", "datetime_out_of_range"),
        ({"q": "a\x00b"}, "q", "null_character"),
    ]:
        error = _error(reporter.get("/cases", query))
        assert (error["field"], error["code"]) == (field, code), query


def test_messages_follow_the_callers_language(loop, as_user):
    body = create_body(loop)
    del body["description"]
    zh = _error(as_user(loop.grid_worker).post("/cases", body))
    en = _error(as_user(loop.grid_worker, language="en").post("/cases", body))
    assert zh["field"] == en["field"] == "description" and zh["code"] == en["code"] == "missing"
    assert en["message"] == "This field is required."
    assert zh["message"] != en["message"] and CJK.search(zh["message"])

    response = as_user(loop.grid_worker, language="en").get("/cases", {"limit": 0})
    assert response["Content-Language"] == "en"
    assert _error(response)["message"] == "Ensure this value is greater than or equal to 1."
    zh = _error(as_user(loop.grid_worker).get("/cases", {"limit": 0}))
    assert CJK.search(zh["message"])


def test_domain_errors_are_structured_in_both_languages(loop, as_user):
    # the project's own messages: structure only (their Chinese catalogue is not written yet)
    for language in (None, "en"):
        error = _error(as_user(loop.grid_worker, language=language).post("/cases", create_body(loop, lon=100.0,
                                                                                               lat=20.0)))
        assert (error["field"], error["code"]) == ("location", "outside_territory")


def test_a_retried_create_returns_the_same_case(loop, reporter, as_user):
    body = create_body(loop, photos=[photo()])
    first = reporter.post("/cases", body, **{"Idempotency-Key": "phone-42-report-7"})
    again = reporter.post("/cases", body, **{"Idempotency-Key": "phone-42-report-7"})
    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"]
    assert Case.objects.count() == 1 and CaseAttachment.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1

    other = reporter.post("/cases", {**body, "description": "另一件事"}, **{"Idempotency-Key": "phone-42-report-7"})
    assert _error(other, status=409)["code"] == "idempotency_key_reused"
    # keys belong to their caller: someone else's identical key is another request
    operator = as_user(loop.operator)
    assert operator.post("/cases", body, **{"Idempotency-Key": "phone-42-report-7"}).status_code == 201
    assert Case.objects.count() == 2
    # without a key, each request is a new case
    assert reporter.post("/cases", body).json()["number"] != first.json()["number"]


def test_an_overlong_idempotency_key_is_refused(loop, reporter):
    error = _error(reporter.post("/cases", create_body(loop), **{"Idempotency-Key": "k" * 101}))
    assert error["code"] == "string_too_long"
    _nothing_written()


def test_text_with_nul_characters_is_refused_before_the_database(loop, reporter):
    # PostgreSQL cannot store NUL in text: a 422 here, never a database error
    for body, field in [(create_body(loop, description="a\x00b"), "description"),
                        (create_body(loop, photos=["ab\x00"]), "photos")]:
        error = _error(reporter.post("/cases", body))
        assert (error["field"], error["code"]) == (field, "null_character")
    _nothing_written()


def test_a_malformed_case_number_is_refused(loop, reporter):
    for path in ("/cases/%00", "/cases/a%20b/route", "/cases/" + "1" * 41):
        assert _error(reporter.get(path))["field"] == "number"
    assert _error(reporter.post("/cases/%00/accept", {"version": 1}))["field"] == "number"


def test_action_fields_name_themselves(loop, as_user):
    case = as_user(loop.grid_worker).post("/cases", create_body(loop)).json()
    operator = as_user(loop.operator)
    for fields, field, code in [
        ({"version": "1"}, "version", "int_type"),
        ({"version": True}, "version", "int_type"),
        ({"version": 0}, "version", "greater_than_equal"),
        ({"version": 1, "reason": "理" * 1001}, "reason", "string_too_long"),
    ]:
        error = _error(operator.post(f"/cases/{case['number']}/accept", fields))
        assert (error["field"], error["code"]) == (field, code), fields
    error = _error(operator.act(case["number"], "rate", 1, rating=True))
    assert (error["field"], error["code"]) == ("rating", "int_type")
    assert Case.objects.get().version == 1


def test_a_fault_answers_a_structured_500_without_details(loop, reporter, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("fengqiao.cases.api.case_get", broken)
    response = reporter.get("/cases/330681101-20251110-0001")
    assert _error(response, status=500)["code"] == "server_error"
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)  # logged
