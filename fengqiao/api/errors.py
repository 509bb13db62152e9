"""Structured error answers: ``{"errors": [{"field", "code", "message"}]}`` for every failure.

* `DomainError` (what services and selectors raise) -> its ``status`` and ``as_dict()``;
* request validation (ninja / pydantic) -> 422, one entry per problem, the field as a dotted path
  without the source (``photos[2]``, ``description``), the pydantic error type as the code and a
  message in the caller's language (LocaleMiddleware picks it from Accept-Language);
* a body that is not JSON -> 422 ``json_invalid``; a body over Django's size limit -> 413;
* no credentials -> 401; CSRF failure -> 403; Http404 -> 404; throttling -> 429;
* anything else -> 500 with a generic message: the traceback goes to the log (as Django logs a
  failed request), never to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled, ValidationError

from fengqiao.api.auth import CsrfFailed
from fengqiao.core.busy import RETRY_AFTER_SECONDS, busy_message, is_busy
from fengqiao.core.errors import DomainError

logger = logging.getLogger("django.request")

SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}
# the names operations give their body and query-schema parameters: not part of the field path
PARAM_NAMES = ("payload", "filters")


def error_body(code: str, message: Any, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"field": field, "code": code, "message": str(message)}]}


def field_path(loc: Sequence[Any], drop: Iterable[str] = ()) -> str | None:
    """``("body", "payload", "photos", 2)`` -> ``photos[2]``; ``("query", "limit")`` -> ``limit``."""
    parts = list(loc)
    if parts and parts[0] in SOURCES:
        parts = parts[1:]
    drop = set(drop)
    if parts and isinstance(parts[0], str) and parts[0] in drop:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


def validation_message(kind: str, ctx: dict[str, Any], fallback: str) -> str:
    """The pydantic error `kind` in the active language; pydantic's own text for the rare ones.

    Where Django's own catalogue has a message of the same meaning, its msgid is used, so the
    message is translated with Django's translations.
    """
    ctx = ctx or {}
    whole, number = _("Enter a whole number."), _("Enter a number.")
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace("'", "")
        choice = _("Select a valid choice. That choice is not one of the available choices.")
        return f"{choice} ({expected})" if expected else choice
    messages = {
        "missing": lambda: _("This field is required."),
        "string_too_long": lambda: _("At most %(n)s characters.") % {"n": ctx.get("max_length")},
        "string_too_short": lambda: _("At least %(n)s characters.") % {"n": ctx.get("min_length")},
        "string_type": lambda: _("Give a text."),
        "string_pattern_mismatch": lambda: _("Enter a valid value."),
        "int_parsing": lambda: whole,
        "int_type": lambda: whole,
        "int_from_float": lambda: whole,
        "float_parsing": lambda: number,
        "float_type": lambda: number,
        "bool_parsing": lambda: _("Give true or false."),
        "bool_type": lambda: _("Give true or false."),
        "greater_than_equal": lambda: _("Ensure this value is greater than or equal to %(limit_value)s.")
        % {"limit_value": ctx.get("ge")},
        "less_than_equal": lambda: _("Ensure this value is less than or equal to %(limit_value)s.")
        % {"limit_value": ctx.get("le")},
        "json_invalid": lambda: _("Enter a valid JSON."),
        "too_long": lambda: _("At most %(n)s items.") % {"n": ctx.get("max_length")},
        "too_short": lambda: _("At least %(n)s items.") % {"n": ctx.get("min_length")},
        "list_type": lambda: _("Enter a list of values."),
        "datetime_parsing": lambda: _("Enter a valid date/time."),
        "datetime_from_date_parsing": lambda: _("Enter a valid date/time."),
        "datetime_type": lambda: _("Enter a valid date/time."),
        "datetime_out_of_range": lambda: _("Enter a valid date/time."),
        "null_character": lambda: _("Text may not contain NUL characters."),
        "extra_forbidden": lambda: _("Unknown field."),
        "model_attributes_type": lambda: _("Give a JSON object."),
        "dict_type": lambda: _("Give a JSON object."),
        "model_type": lambda: _("Give a JSON object."),
    }
    make = messages.get(kind)
    return make() if make else fallback


def _validation_error(request: HttpRequest, exc: ValidationError, api: NinjaAPI) -> HttpResponse:
    errors = []
    for error in exc.errors:
        kind = str(error.get("type", "invalid"))
        errors.append({
            "field": field_path(error.get("loc", ()), drop=PARAM_NAMES),
            "code": kind,
            "message": validation_message(kind, error.get("ctx") or {}, str(error.get("msg", ""))),
        })
    return api.create_response(request, {"errors": errors}, status=422)


def _domain_error(request: HttpRequest, exc: DomainError, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


def _http_error(request: HttpRequest, exc: HttpError, api: NinjaAPI) -> HttpResponse:
    status = exc.status_code
    if isinstance(exc, AuthenticationError):
        body = error_body("not_authenticated", _("Sign in, or send an API token as 'Authorization: Bearer …'."))
    elif isinstance(exc, CsrfFailed):
        body = error_body("csrf_failed", _("The CSRF check failed: send the X-CSRFToken header with the "
                                           "csrftoken cookie's value."))
    elif isinstance(exc, AuthorizationError):
        body = error_body("forbidden", _("Your role does not allow this action."))
    elif isinstance(exc, Throttled):
        body = error_body("throttled", _("Too many requests; try again later."))
    elif status == 400 and isinstance(exc.__cause__, ValueError):
        # ninja wraps a body that json.loads refuses (JSONDecodeError, a ValueError) in a 400
        status, body = 422, error_body("json_invalid", validation_message("json_invalid", {}, ""))
    else:
        body = error_body("bad_request" if status == 400 else f"http_{status}", exc.message)
    return api.create_response(request, body, status=status)


def _not_found(request: HttpRequest, exc: Http404, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, error_body("not_found", _("Not found.")), status=404)


def _too_big(request: HttpRequest, exc: RequestDataTooBig, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, error_body("too_large", _("The request is too large.")), status=413)


def _server_error(request: HttpRequest, exc: Exception, api: NinjaAPI) -> HttpResponse:
    if is_busy(exc):
        logger.warning("database busy: %s", request.path, extra={"status_code": 503})
        response = api.create_response(request, error_body("busy", busy_message()), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    logger.error("Internal Server Error: %s", request.path, exc_info=exc,
                 extra={"status_code": 500, "request": request})
    body = error_body("server_error", _("Something went wrong on our side. Please try again later."))
    return api.create_response(request, body, status=500)


def install(api: NinjaAPI) -> None:
    def bind(handler):
        return lambda request, exc: handler(request, exc, api)

    api.add_exception_handler(Exception, bind(_server_error))
    api.add_exception_handler(Http404, bind(_not_found))
    api.add_exception_handler(HttpError, bind(_http_error))
    api.add_exception_handler(ValidationError, bind(_validation_error))
    api.add_exception_handler(DomainError, bind(_domain_error))
    api.add_exception_handler(RequestDataTooBig, bind(_too_big))
