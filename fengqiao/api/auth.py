"""Who calls the API: a personal bearer token, or the signed-in browser session.

Both are accepted on every operation, the token first. The session path enforces CSRF on unsafe
methods (as ninja's ``django_auth`` does), but only once the session has a signed-in, active user:
a request with neither credential answers 401, not a CSRF failure.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth as NinjaSessionAuth
from ninja.utils import check_csrf

from fengqiao.api.tokens import api_token_authenticate


class TokenAuth(HttpBearer):
    """``Authorization: Bearer fq_…`` (see `fengqiao.api.tokens`)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = api_token_authenticate(token.strip())
        if user is not None:
            request.user = user  # what the rest of the request (and its logs) see as the caller
        return user


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(403, "CSRF check failed")


class SessionAuth(NinjaSessionAuth):
    """Django's session (ninja's ``django_auth``), with the CSRF check for unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        return user


token_auth = TokenAuth()
session_auth = SessionAuth(csrf=True)
AUTH = [token_auth, session_auth]
