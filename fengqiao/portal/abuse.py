"""Abuse controls for every public form: a rate limit per client address and a captcha seam.

Other apps' public forms use them too::

    from fengqiao.portal.abuse import captcha_check, limit_public_form

    @limit_public_form("affairs.appointment")
    def appointment(request): ...

Configuration (settings; the environment variables are FENGQIAO_ + the name):

- ``PUBLIC_RATE`` (default ``"20/h"``): POSTs one client may make to one scope per window;
  ``"<n>/<s|m|h|d>"``; ``"0"`` or ``"off"`` disables the limit (benchmarks raise it instead).
- ``PUBLIC_RATES``: a dict ``{scope: rate}`` overriding the default for some scopes.
- ``PUBLIC_CLIENT_HEADER`` (default none): a request header holding the client address when
  the site sits behind a trusted proxy, e.g. ``"HTTP_X_REAL_IP"``; otherwise ``REMOTE_ADDR``.
- ``CAPTCHA_BACKEND`` (default none = off): dotted path of a callable ``(request) -> bool``
  that says whether the request passed the captcha; it may carry a ``widget(request) -> str``
  attribute returning the HTML to put in the form.

Counting happens in the database (one upsert per POST), so it holds across threads and processes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import InvalidInput

DEFAULT_RATE = "20/h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")


def _setting(name: str, default: Any = None) -> Any:
    value = getattr(settings, name, None)
    return default if value in (None, "") else value


@dataclass(frozen=True)
class Rate:
    count: int  # 0: no limit
    seconds: int

    @classmethod
    def parse(cls, text: str | int) -> Rate:
        """"20/h", "100/10m", "5/d"; "0", "off" or "" mean no limit."""
        raw = str(text).strip().lower()
        if raw in {"", "0", "off", "none"}:
            return cls(0, 3600)
        match = _RATE_RE.match(raw)
        if not match:
            raise ValueError(f"rate {text!r} is not like '20/h'")
        count, multiple, unit = match.groups()
        return cls(int(count), (int(multiple) if multiple else 1) * _UNITS[unit])


def rate_for(scope: str) -> Rate:
    rates = _setting("PUBLIC_RATES", {}) or {}
    if isinstance(rates, dict) and scope in rates:
        return Rate.parse(rates[scope])
    return Rate.parse(_setting("PUBLIC_RATE", DEFAULT_RATE))


def client_key(request: HttpRequest) -> str:
    """A keyed hash of the client's address (the address itself is never stored)."""
    header = _setting("PUBLIC_CLIENT_HEADER")
    address = ""
    if header:
        address = str(request.META.get(header, "")).split(",")[0].strip()
    address = address or str(request.META.get("REMOTE_ADDR", ""))
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:40]


def _hit(scope: str, client: str, window: int) -> int:
    """Count one POST and return the window's count so far (one atomic upsert)."""
    from fengqiao.portal.models import RateCounter

    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, client, window_start, count) VALUES (%s, %s, %s, 1) "  # noqa: S608 - table name from the model
            f"ON CONFLICT (scope, client, window_start) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [scope, client, window],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 1


def check_rate(request: HttpRequest, scope: str) -> int:
    """Count this request against `scope`; 0 when allowed, else the seconds until it may try again."""
    rate = rate_for(scope)
    if rate.count <= 0:
        return 0
    now = int(clock.now().timestamp())
    window = now - now % rate.seconds
    count = _hit(scope[:64], client_key(request), window)
    if count <= rate.count:
        return 0
    return max(1, window + rate.seconds - now)


def rate_limited(request: HttpRequest, scope: str) -> bool:
    """Count this request against `scope` and say whether it is over the limit."""
    retry_after = check_rate(request, scope)
    request._fengqiao_retry_after = retry_after  # type: ignore[attr-defined]
    return retry_after > 0


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """HTTP 429 in the user's language: JSON for API callers, a friendly page otherwise."""
    minutes = max(1, (retry_after + 59) // 60)
    message = _("Too many submissions from your connection. Please try again in %(minutes)s minutes.") % {
        "minutes": minutes
    }
    wants_json = request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")
    response: HttpResponse
    if wants_json:
        response = JsonResponse({"errors": [{"field": None, "code": "rate_limited", "message": message}]}, status=429)
    else:
        response = render(request, "portal/rate_limited.html", {"message": message, "minutes": minutes}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def limit_public_form(scope: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a view: its POSTs beyond the rate of `scope` per client get HTTP 429."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                retry_after = check_rate(request, scope)
                if retry_after:
                    return too_many_requests(request, retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _captcha_backend() -> Callable[[HttpRequest], bool] | None:
    path = _setting("CAPTCHA_BACKEND")
    if not path:
        return None
    backend: Callable[[HttpRequest], bool] = import_string(str(path))
    return backend


def captcha_check(request: HttpRequest) -> None:
    """Raise InvalidInput (field "captcha") when a configured captcha backend refuses the request."""
    backend = _captcha_backend()
    if backend is None:
        return
    if not backend(request):
        raise InvalidInput("captcha_failed", _("The check that you are a person did not pass. Please try again."),
                           field="captcha")


def captcha_widget(request: HttpRequest) -> SafeString:
    """The captcha backend's HTML for a form (empty when no backend is configured)."""
    backend = _captcha_backend()
    widget = getattr(backend, "widget", None) if backend else None
    return mark_safe(widget(request)) if widget else mark_safe("")  # noqa: S308 - HTML from the configured backend


def purge_rate_counters() -> int:
    """Delete counters of windows that ended more than a day ago (periodic job)."""
    from fengqiao.portal.models import RateCounter

    cutoff = int(clock.now().timestamp()) - 2 * 86400
    deleted, _detail = RateCounter.objects.filter(window_start__lt=cutoff).delete()
    return deleted
