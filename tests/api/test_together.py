"""POST /api/v1/cases outside a test transaction: written through the group of the moment."""

import pytest

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseAttachment
from tests.api.conftest import create_body, photo

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_create_without_photos_goes_through_the_group(loop, as_user, monkeypatch):
    written: list[int] = []
    write = s._write_new_cases
    monkeypatch.setattr(s, "_write_new_cases", lambda cases: written.append(len(cases)) or write(cases))
    reporter = as_user(loop.grid_worker)
    first = reporter.post("/cases", create_body(loop), **{"Idempotency-Key": "phone-1"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert written == [1] and Case.objects.get().number == body["number"]
    assert [e["action"] for e in body["timeline"]] == ["report"] and body["assists"] == body["attachments"] == []
    again = reporter.post("/cases", create_body(loop), **{"Idempotency-Key": "phone-1"})
    assert again.json()["number"] == body["number"] and written == [1]
    # with photos: taken alone, the files stored with it
    with_photo = reporter.post("/cases", create_body(loop, photos=[photo()]))
    assert with_photo.status_code == 201 and written == [1]
    assert CaseAttachment.objects.count() == 1 and len(with_photo.json()["attachments"]) == 1
