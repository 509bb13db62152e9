"""Model fields for personal data: encrypted at rest, plain text in Python."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import FieldError
from django.db import models

from fengqiao.core import crypto

# isnull is the only lookup that means something on ciphertext: NULL stays NULL.
_ALLOWED_LOOKUPS = {"isnull"}


class EncryptedTextField(models.TextField):
    """Text kept in the database as a Fernet token (see ``fengqiao.core.crypto``).

    Python code reads and writes plain text; the column holds a token that differs on every save,
    so the database cannot compare values: every lookup except ``isnull`` raises ``FieldError``.
    For an exact match store ``crypto.blind_index(value, purpose)`` in a separate indexed column
    and filter on that. "" and ``None`` are stored as they are, so ``blank=True`` fields stay cheap
    and ``null=True`` keeps its meaning. A token is ~4/3 of the UTF-8 length plus ~85 characters.
    """

    description = "Text encrypted at rest"

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        if self.unique or self.primary_key or getattr(self, "db_index", False):
            errors.append(
                checks.Error(
                    "EncryptedTextField cannot be unique, a primary key or indexed: its ciphertext "
                    "differs on every save.",
                    hint="Index a blind index column (fengqiao.core.crypto.blind_index) instead.",
                    obj=self,
                    id="fengqiao.E001",
                )
            )
        return errors

    # -- conversions -------------------------------------------------------------------------

    def to_python(self, value: Any) -> Any:
        # Plain text in Python: forms, deserialisation and full_clean() hand over clear values.
        if value is None or isinstance(value, str):
            return value
        return str(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    # -- lookups -----------------------------------------------------------------------------

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in _ALLOWED_LOOKUPS:
            raise FieldError(self._lookup_message(lookup_name))
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(self._lookup_message(lookup_name))

    def _lookup_message(self, lookup_name: str) -> str:
        name = f"{self.model.__name__}.{self.name}" if hasattr(self, "model") else self.name
        return (
            f"{name} is encrypted: the database cannot evaluate '{lookup_name}' on it (only 'isnull'). "
            "For an exact match filter on a column holding fengqiao.core.crypto.blind_index(value, purpose)."
        )
