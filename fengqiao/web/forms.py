"""Form helpers shared by the staff pages.

Services validate the domain and raise `DomainError` with (field, code, message) details; the
helpers here put those messages on a Django form, next to the field the user typed into, so the
page is shown again with what was typed and the error in the user's language.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from django import forms
from django.utils.translation import gettext_lazy as _

from fengqiao.core.errors import DomainError

_INDEX = re.compile(r"\[\d+\]$")
IDEMPOTENCY_KEY_MAX = 100


def new_idempotency_key() -> str:
    """A fresh key for a form that creates something; sent back in a hidden field."""
    return uuid.uuid4().hex


def apply_domain_error(form: forms.BaseForm, error: DomainError, field_map: Mapping[str, str] | None = None) -> None:
    """Add each detail of `error` to `form`: on the named field when the form has it, else on the form.

    `field_map` renames the services' field names to the form's (e.g. {"location": "lon"}); an
    indexed name such as ``photos[2]`` is looked up without its index.
    """
    field_map = field_map or {}
    for detail in error.errors:
        name = detail.field or ""
        name = field_map.get(name, field_map.get(_INDEX.sub("", name), _INDEX.sub("", name)))
        message = str(detail.message)
        if name in form.fields and not form.has_error(name):
            form.add_error(name, message)
        elif name in form.fields:
            continue
        else:
            form.add_error(None, message)


class IdempotencyKeyField(forms.CharField):
    """The hidden key that makes a double-submitted form create one object."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", IDEMPOTENCY_KEY_MAX)
        super().__init__(**kwargs)


class VersionField(forms.IntegerField):
    """The version of the object the page showed, for the services' `expected_version`."""

    widget = forms.HiddenInput
    default_error_messages = {
        "required": _("The page is out of date. Reload it and try again."),
        "invalid": _("The page is out of date. Reload it and try again."),
        "min_value": _("The page is out of date. Reload it and try again."),
        "max_value": _("The page is out of date. Reload it and try again."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**31 - 1)
        super().__init__(**kwargs)
