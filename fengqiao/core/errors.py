"""Domain errors that every interface turns into a structured answer (field, code, message)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class ErrorDetail:
    code: str
    message: str
    field: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "code": self.code, "message": str(self.message)}


class DomainError(Exception):
    """Base of the errors services raise. `status` is the HTTP status an interface should use."""

    status = 400

    def __init__(self, code: str, message: Any, *, field: str | None = None, errors: list[ErrorDetail] | None = None):
        super().__init__(str(message))
        self.errors = errors or [ErrorDetail(code=code, message=message, field=field)]

    @property
    def code(self) -> str:
        return self.errors[0].code

    def as_dict(self) -> dict[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


class InvalidInput(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TransitionNotAllowed(DomainError):
    status = 409


class Forbidden(DomainError):
    """The actor sees the object but its role does not allow the action."""

    status = 403
