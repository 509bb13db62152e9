"""Field-level encryption of personal data and blind indexes for exact look-ups.

Keys:

* ``FIELD_ENCRYPTION_KEYS``: Fernet keys (a list, or one comma-separated string). The first one
  encrypts; every one is tried to decrypt, so a new key is put in front and the old ones stay
  behind it until every stored value has been re-encrypted (:func:`reencrypt`).
* When it is unset, one key is derived from ``SECRET_KEY`` with HKDF-SHA256; keys derived the same
  way from ``SECRET_KEY_FALLBACKS`` are accepted for decryption, so Django's secret-key rotation
  does not make stored values unreadable. A site that started on the derived key and moves to
  configured keys lists :func:`derived_key` last in ``FIELD_ENCRYPTION_KEYS`` until its values
  have been re-encrypted.
* ``FIELD_BLIND_INDEX_KEY``: any secret string, from which one HMAC key per purpose is derived.
  Falls back to ``SECRET_KEY``. It must stay the same for the life of the data: a blind index made
  with another key matches nothing.

See docs/personal-data.md.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import unicodedata
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from fengqiao.core.masking import normalise_id_number, normalise_phone

# Fixed labels: changing one makes every value encrypted (or indexed) with a derived key unreadable.
_SALT = b"fengqiao"
_ENCRYPTION_INFO = b"fengqiao field encryption v1"
_BLIND_INDEX_INFO = b"fengqiao blind index v1:"


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key (or it is corrupt)."""


def _hkdf(secret: str | bytes, info: bytes) -> bytes:
    material = secret.encode() if isinstance(secret, str) else secret
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(material)


def derived_key(secret: str | None = None) -> str:
    """The Fernet key derived from ``secret`` (by default ``settings.SECRET_KEY``).

    Used when no ``FIELD_ENCRYPTION_KEYS`` are configured. A site moving from it to configured keys
    puts the returned value at the end of the list so that existing values stay readable.
    """
    return base64.urlsafe_b64encode(
        _hkdf(secret if secret is not None else settings.SECRET_KEY, _ENCRYPTION_INFO)
    ).decode()


def _configured_keys() -> tuple[str, ...]:
    raw = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or ()
    if isinstance(raw, str | bytes):
        raw = raw.decode() if isinstance(raw, bytes) else raw
        raw = raw.split(",")
    return tuple(str(k).strip() for k in raw if str(k).strip())


def _secret_keys() -> tuple[str, ...]:
    return (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))


@functools.lru_cache(maxsize=8)
def _multifernet(configured: tuple[str, ...], secrets: tuple[str, ...]) -> MultiFernet:
    if not configured:
        return MultiFernet([Fernet(derived_key(secret)) for secret in dict.fromkeys(secrets)])
    fernets: list[Fernet] = []
    for index, key in enumerate(configured):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS[{index}] is not a Fernet key (32 url-safe base64-encoded bytes; "
                "make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from exc
    return MultiFernet(fernets)


def _fernet() -> MultiFernet:
    configured = _configured_keys()
    return _multifernet(configured, () if configured else _secret_keys())


def encrypt(text: str) -> str:
    """A Fernet token (url-safe ASCII) of ``text``, made with the primary key."""
    if not isinstance(text, str):
        raise TypeError(f"encrypt() takes a str, not {type(text).__name__}")
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The text inside ``token``; :class:`DecryptionError` when no configured key opens it."""
    try:
        raw = token.encode("ascii") if isinstance(token, str) else bytes(token)
        return _fernet().decrypt(raw).decode("utf-8")
    except (InvalidToken, UnicodeError, TypeError, ValueError) as exc:
        raise DecryptionError(
            "cannot decrypt a stored value: it was encrypted with a key that is not in "
            "FIELD_ENCRYPTION_KEYS (or, when that is unset, derived from SECRET_KEY or SECRET_KEY_FALLBACKS), "
            "or it is corrupt"
        ) from exc


def reencrypt(token: str) -> str:
    """``token`` re-encrypted with the current primary key (for key rotation)."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, TypeError, ValueError) as exc:
        raise DecryptionError("cannot re-encrypt a stored value: no configured key opens it") from exc


# --- blind indexes ------------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, with runs of white space collapsed to one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone": normalise_phone,
    "id_number": normalise_id_number,
}


@functools.lru_cache(maxsize=32)
def _index_key(secret: str, purpose: str) -> bytes:
    return _hkdf(secret, _BLIND_INDEX_INFO + purpose.encode("utf-8"))


def blind_index(text: str | None, purpose: str) -> str:
    """A keyed hash (HMAC-SHA256, 64 hex digits) of the normalised ``text``.

    Store it beside an encrypted field and filter on it for an exact match ("cases reported from
    this phone") without decrypting. ``purpose`` selects the normaliser ("phone": digits only,
    without +86; "id_number": no spaces, upper-case X; anything else: :func:`normalise_text`) and
    its own derived key, so indexes made for different purposes cannot be compared. An empty value
    (after normalisation) gives "", so blank fields never match each other.
    """
    if not purpose:
        raise ValueError("blind_index() needs a purpose, e.g. 'phone'")
    if not text:
        return ""
    normalised = NORMALISERS.get(purpose, normalise_text)(text)
    if not normalised:
        return ""
    secret = getattr(settings, "FIELD_BLIND_INDEX_KEY", None) or settings.SECRET_KEY
    return hmac.new(_index_key(secret, purpose), normalised.encode("utf-8"), hashlib.sha256).hexdigest()
