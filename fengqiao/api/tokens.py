"""Personal API tokens: created once (the plain token is shown only then), kept as a SHA-256 hash.

A token looks like ``fq_<43 URL-safe characters>`` (32 random bytes). A request presents it as
``Authorization: Bearer fq_…``; :func:`api_token_authenticate` finds the token by its hash and
answers its user, unless the token is revoked or expired or the user is inactive.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import InvalidInput
from fengqiao.org.models import ApiToken

TOKEN_PREFIX = "fq_"  # noqa: S105 (a marker, not a secret)
# last_used_at is refreshed at most this often, so that reads do not each write a row
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX = ApiToken._meta.get_field("name").max_length or 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    plain: str  # shown once; never stored


@transaction.atomic
def api_token_create(*, user: Any, name: str, expires_at: datetime | None = None) -> CreatedToken:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("required", _("Name the token (what or who uses it)."), field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput("too_long", _("The name is limited to %(n)d characters.") % {"n": NAME_MAX}, field="name")
    if not user.is_active:
        raise InvalidInput("inactive_user", _("The user is not active."), field="user")
    if expires_at is not None and expires_at <= clock.now():
        raise InvalidInput("in_the_past", _("The expiry lies in the past."), field="expires_at")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(plain), prefix=plain[:8],
                                    expires_at=expires_at)
    return CreatedToken(token=token, plain=plain)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    token.revoked = True
    return token


def api_token_authenticate(plain: str) -> Any | None:
    """The active user the token belongs to, or None."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    # the staff profile comes along: events name their actor by it
    token = (ApiToken.objects.select_related("user", "user__staff_profile")
             .filter(key_hash=hash_token(plain)).first())
    now = clock.now()
    if token is None or token.revoked or (token.expires_at is not None and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
