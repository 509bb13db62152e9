"""A database too busy to answer now is "try again shortly" (503 with Retry-After), not a 500.

SQLite lets one writer at a time; a writer that waited its whole busy timeout gets "database is
locked". PostgreSQL may cancel a statement that waited past lock_timeout or statement_timeout, or
a transaction that lost a serialization or deadlock check. In each case nothing was written and the
same request may be sent again (with the same idempotency key where there is one).
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger("fengqiao.busy")

RETRY_AFTER_SECONDS = 2
# SQLSTATE: lock_not_available, query_canceled (statement or lock timeout), serialization_failure,
# deadlock_detected
_PG_BUSY = {"55P03", "57014", "40001", "40P01"}


def is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _PG_BUSY:
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


def busy_message() -> str:
    return _("The system is busy right now. Nothing was saved; please try again in a moment.")


class BusyDatabaseMiddleware:
    """Pages: a busy database answers 503 with Retry-After and a short page in the user's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_busy(exception):
            return None
        logger.warning("database busy: %s", request.path, extra={"status_code": 503})
        body = render_to_string("503.html", {"message": busy_message()}, request=request)
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
