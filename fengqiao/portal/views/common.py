"""Helpers shared by the portal's views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from fengqiao.core.errors import DomainError

# tracking codes a visitor proved (code + phone digits, or their account) in this browser session
SESSION_TRACKED = "portal_tracked"
SESSION_REPORTED = "portal_reported"


def errors_by_field(error: DomainError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for detail in error.errors:
        name = (detail.field or "general").split("[", 1)[0]
        found.setdefault(name, []).append(str(detail.message))
    return found


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def remember(request: HttpRequest, key: str, code: str, value: Any = True, keep: int = 20) -> None:
    """Keep `code` in the session under `key` (the newest `keep` codes)."""
    stored: dict[str, Any] = dict(request.session.get(key, {}))
    stored.pop(code, None)
    stored[code] = value
    request.session[key] = dict(list(stored.items())[-keep:])


def is_resident(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and hasattr(user, "resident_profile")
