"""A database too busy to answer (SQLite's "database is locked", PostgreSQL's lock timeouts) answers
503 with Retry-After, in the user's language, through the API and on pages; other errors stay 500."""

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from fengqiao.core.busy import BusyDatabaseMiddleware, is_busy

pytestmark = pytest.mark.django_db


class LockTimeout(Exception):
    sqlstate = "55P03"


def pg_busy() -> OperationalError:
    error = OperationalError("canceling statement due to lock timeout")
    error.__cause__ = LockTimeout()
    return error


def test_busy_errors_are_told_apart_from_other_database_errors():
    assert is_busy(OperationalError("database is locked"))
    assert is_busy(pg_busy())
    assert not is_busy(OperationalError("no such table: cases_case"))
    assert not is_busy(ValueError("database is locked"))


def test_a_page_answers_503_in_the_users_language():
    request = RequestFactory().get("/cases/")
    request.LANGUAGE_CODE = "en"
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = BusyDatabaseMiddleware(lambda r: None).process_exception(request, pg_busy())
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert "Nothing was saved" in response.content.decode()
    assert BusyDatabaseMiddleware(lambda r: None).process_exception(request, OperationalError("disk I/O error")) is None
