"""Helpers shared by the services of village affairs: the event log, scope checks, files."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from fengqiao.affairs.models import AffairsEvent, Attachment, AttachmentKind
from fengqiao.core.errors import Forbidden, InvalidInput, NotFound
from fengqiao.org.permissions import Action, Target, permissions_for

DEFAULT_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
NAME_MAX = 120


def record(*, subject: Any, action: str, actor: Any, from_state: str = "", to_state: str = "", reason: str = "",
           payload: dict[str, Any] | None = None, now: Any) -> AffairsEvent:
    """Append one event (rows are never updated or deleted)."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AffairsEvent.objects.create(
        subject_type=type(subject).__name__.lower(), subject_id=subject.pk, action=action, actor=actor,
        from_state=str(from_state), to_state=str(to_state), reason=reason, payload=payload or {}, at=now)


def require(actor: Any, action: Action, area_code: str, *, department_ids: frozenset[int] = frozenset(),
            not_found: str | None = None) -> None:
    """NotFound unless `actor` may do `action` over the area (out of scope leaks nothing)."""
    if not permissions_for(actor).can(action, Target(area_code=area_code, department_ids=department_ids)):
        raise NotFound("not_found", not_found or _("Not found."))


def may_review(actor: Any, area_code: str) -> bool:
    """Whether the actor sits on the village's supervision committee. Asked of the actor's own
    assignments: the committee's review is its members' alone, a superuser's blanket rights do not
    include it."""
    from fengqiao.org.permissions import ROLE_ACTIONS

    target = Target(area_code=area_code)
    return any(Action.REVIEW_DISCLOSURE in ROLE_ACTIONS[g.role] and g.covers(target)
               for g in permissions_for(actor).grants)


def require_role(actor: Any, action: Action, area_code: str, *, visible_with: tuple[Action, ...],
                 message: str, not_found: str) -> None:
    """NotFound when the actor sees nothing there; Forbidden when they see it but may not act."""
    perms = permissions_for(actor)
    target = Target(area_code=area_code)
    if may_review(actor, area_code) if action == Action.REVIEW_DISCLOSURE else perms.can(action, target):
        return
    if any(perms.can(a, target) for a in visible_with):
        raise Forbidden("forbidden", message)
    raise NotFound("not_found", not_found)


# -- files -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    """A file as received: its bytes and the name the sender gave it (for display only)."""

    data: bytes
    name: str = ""


def document_max_bytes() -> int:
    return int(getattr(settings, "AFFAIRS_DOCUMENT_MAX_BYTES", DEFAULT_DOCUMENT_MAX_BYTES))


def _clean_name(name: str, extension: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[: NAME_MAX - len(extension) - 1] or "file"
    return f"{stem}.{extension}"


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    content_type: str
    extension: str
    public_bytes: bytes
    original: bytes
    name: str


def check_file(upload: Upload, *, field: str) -> CheckedFile:
    """Judge a file by its content: an image (JPEG, PNG, WebP; its public copy loses its metadata)
    or a PDF (by its header). Anything else, or anything too large, is refused."""
    from fengqiao.core.images import inspect_image, strip_metadata

    data = upload.data
    if not data:
        raise InvalidInput("empty_file", _("The file is empty."), field=field)
    if data[:5] == b"%PDF-":
        limit = document_max_bytes()
        if len(data) > limit:
            raise InvalidInput("too_large", _("A document may be at most %(size)s.") % {"size": filesizeformat(limit)},
                               field=field)
        if b"%%EOF" not in data[-1024:]:
            raise InvalidInput("invalid_pdf", _("This PDF file is incomplete or damaged."), field=field)
        return CheckedFile(AttachmentKind.DOCUMENT, "application/pdf", "pdf", data, data, _clean_name(upload.name, "pdf"))
    try:
        info = inspect_image(data, field=field)
    except InvalidInput as exc:
        if exc.code in ("not_an_image", "invalid_image", "unsupported_format"):
            raise InvalidInput("unsupported_file", _("Attach a PDF document or a photo (JPEG, PNG or WebP)."),
                               field=field) from exc
        raise
    return CheckedFile(AttachmentKind.IMAGE, info.mime_type, info.extension, strip_metadata(data), data,
                       _clean_name(upload.name, info.extension))


def check_files(uploads: list[Upload], *, field: str, existing: int = 0) -> list[CheckedFile]:
    if existing + len(uploads) > MAX_ATTACHMENTS:
        raise InvalidInput("too_many", _("At most %(n)d files.") % {"n": MAX_ATTACHMENTS}, field=field)
    return [check_file(u, field=field) for u in uploads]


def store_file(checked: CheckedFile, *, now: Any, **owner: Any) -> Attachment:
    stored = uuid.uuid4().hex
    attachment = Attachment(kind=checked.kind, name=checked.name, content_type=checked.content_type,
                            size=len(checked.public_bytes), sha256=hashlib.sha256(checked.original).hexdigest(),
                            created_at=now, **owner)
    attachment.original.save(f"{stored}.{checked.extension}", ContentFile(checked.original), save=False)
    attachment.public_copy.save(f"{stored}.{checked.extension}", ContentFile(checked.public_bytes), save=False)
    attachment.save()
    return attachment


def clean_text(value: str | None, *, field: str, required: bool, max_length: int, errors: list,
               required_message: str | None = None) -> str:
    from fengqiao.core.errors import ErrorDetail

    text = (value or "").strip()
    if required and not text:
        errors.append(ErrorDetail("required", required_message or _("This field is required."), field))
    elif len(text) > max_length:
        errors.append(ErrorDetail("too_long", _("At most %(n)d characters.") % {"n": max_length}, field))
    return text


def raise_errors(errors: list) -> None:
    if errors:
        raise InvalidInput(errors[0].code, errors[0].message, errors=errors)
