"""What the pages of village affairs share: error maps, uploads, the abuse seam."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from fengqiao.affairs.services import Upload
from fengqiao.core.errors import DomainError

_INDEX = re.compile(r"\[(\d+)\]\.?")


def field_key(field: str | None) -> str:
    """"items[2].amount" -> "items-2-amount"; None -> "general"."""
    if not field:
        return "general"
    return _INDEX.sub(lambda m: f"-{m.group(1)}-", field).rstrip("-")


def errors_by_field(error: DomainError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for detail in error.errors:
        found.setdefault(field_key(detail.field), []).append(str(detail.message))
    return found


def uploads(request: HttpRequest, name: str) -> list[Upload]:
    return [Upload(data=f.read(), name=f.name or "") for f in request.FILES.getlist(name) if f.size]


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# -- the abuse seam: rate limit per client and captcha on every public form ----------------------
def public_form(scope: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Rate-limit a public form's POSTs per client (fengqiao.portal.abuse)."""
    from fengqiao.portal.abuse import limit_public_form

    return limit_public_form(scope)


def captcha(request: HttpRequest) -> None:
    """Raise InvalidInput (field "captcha") when the configured captcha refuses the request."""
    from fengqiao.portal.abuse import captcha_check

    captcha_check(request)


def captcha_html(request: HttpRequest) -> str:
    from fengqiao.portal.abuse import captcha_widget

    return captcha_widget(request)
