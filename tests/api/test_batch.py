"""POST /api/v1/cases/batch: a system's reports taken in together, all or none, retried safely."""

from datetime import datetime

import pytest

from fengqiao.cases.models import Case, CaseEvent, Channel, IdempotencyKey
from fengqiao.notify.models import Message
from tests.api.conftest import create_body

pytestmark = pytest.mark.django_db


def _batch(loop, n: int, **overrides) -> dict:
    return {"channel": "sensor", "rows": [create_body(loop, description=f"水位超警戒（{i}）", **overrides)
                                          for i in range(n)]}


def _instants(items: list[dict]) -> list[dict]:
    """The items with their times as instants (a new case's clocks may carry the local offset)."""
    times = ("due_at", "created_at", "updated_at")
    return [{k: datetime.fromisoformat(v) if k in times and v else v for k, v in item.items()} for item in items]


def _error(response, status=422) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"errors"} and body["errors"]
    return body


def test_a_batch_makes_a_case_per_row_in_order(loop, as_user):
    operator = as_user(loop.operator)
    body = _batch(loop, 3)
    body["rows"][1].pop("lon"), body["rows"][1].pop("lat")
    body["rows"][1]["grid"] = loop.grid.code  # a row may give its grid instead of a point
    response = operator.post("/cases/batch", body)
    assert response.status_code == 201, response.content
    items = response.json()["items"]
    assert [item["summary"] for item in items] == [f"水位超警戒（{i}）" for i in range(3)]
    assert {(item["channel"], item["state"], item["grid"]) for item in items} == {("sensor", "reported", loop.grid.code)}
    cases = {case.number: case for case in Case.objects.all()}
    assert set(cases) == {item["number"] for item in items}
    assert all(case.next_due_at is not None and case.reporter_user_id == loop.operator.pk for case in cases.values())
    assert CaseEvent.objects.filter(action="report").count() == 3
    assert Message.objects.filter(topic="case.reported", recipient=loop.operator).count() == 3
    # each new case reads back as a single create's would
    detail = operator.get(f"/cases/{items[0]['number']}").json()
    assert detail["timeline"][0]["action"] == "report" and detail["version"] == items[0]["version"]


def test_a_retried_batch_returns_the_same_cases(loop, as_user):
    operator = as_user(loop.operator)
    body = _batch(loop, 4)
    first = operator.post("/cases/batch", body, **{"Idempotency-Key": "sensor-gw-7-0042"})
    again = operator.post("/cases/batch", body, **{"Idempotency-Key": "sensor-gw-7-0042"})
    assert first.status_code == again.status_code == 201
    assert _instants(first.json()["items"]) == _instants(again.json()["items"])
    assert Case.objects.count() == 4 and IdempotencyKey.objects.count() == 1
    body["rows"] = body["rows"][:3]
    other = operator.post("/cases/batch", body, **{"Idempotency-Key": "sensor-gw-7-0042"})
    assert _error(other, status=409)["errors"][0]["code"] == "idempotency_key_reused"
    assert Case.objects.count() == 4


def test_bad_rows_are_each_named_and_nothing_is_written(loop, as_user):
    body = _batch(loop, 4)
    body["rows"][0]["category"] = "9999"
    body["rows"][2]["description"] = "  "
    body["rows"][3].update(lon=100.0, lat=20.0)
    errors = _error(as_user(loop.operator, language="zh-hans").post("/cases/batch", body))["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("rows[0].category", "invalid_choice")]
    assert "9999" in errors[0]["message"]
    body["rows"][0]["category"] = loop.category.code  # the codes known, the rows themselves are checked
    errors = _error(as_user(loop.operator).post("/cases/batch", body))["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("rows[2].description", "required"),
                                                         ("rows[3].location", "outside_territory")]
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({"rows": []}, "rows"),
    ({"channel": "fax", "rows": [{}]}, "channel"),
    ({"channel": "grid_worker"}, "channel"),
])
def test_a_malformed_batch_is_refused(loop, as_user, body, field):
    if body.get("rows") == [{}]:
        body["rows"] = [create_body(loop)]
    errors = _error(as_user(loop.operator).post("/cases/batch", body))["errors"]
    assert any(e["field"] and e["field"].startswith(field) for e in errors), errors
    assert not Case.objects.exists()


def test_more_rows_than_a_batch_holds_are_refused(loop, as_user):
    errors = _error(as_user(loop.operator).post("/cases/batch", _batch(loop, 501)))["errors"]
    assert errors[0]["field"] == "rows"
    assert not Case.objects.exists()


def test_only_intake_staff_send_batches_and_only_where_they_serve(loop, as_user):
    # a grid worker reports one case at a time, but does not take in others' reports
    errors = _error(as_user(loop.grid_worker).post("/cases/batch", _batch(loop, 2)))["errors"]
    assert {e["code"] for e in errors} == {"not_found"}
    # another township's operator: the rows lie outside its scope
    errors = _error(as_user(loop.other_operator).post("/cases/batch", _batch(loop, 1)))["errors"]
    assert errors[0]["field"] == "rows[0].location"
    assert as_user().post("/cases/batch", _batch(loop, 1)).status_code == 401
    assert not Case.objects.filter(channel=Channel.SENSOR).exists()
