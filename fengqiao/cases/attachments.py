"""Photos on cases: checked by content, stored as the original (staff only), a copy without
metadata (EXIF/GPS stripped: the only copy that can become public) and a thumbnail."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile

from fengqiao.cases.models import Case, CaseAttachment, CaseEvent
from fengqiao.core.errors import InvalidInput
from fengqiao.core.images import inspect_image, strip_metadata, thumbnail

MAX_PHOTOS = 9


def _limits() -> dict[str, int]:
    return {
        "max_bytes": int(getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)),
        "max_pixels": int(getattr(settings, "ATTACHMENT_MAX_PIXELS", 50_000_000)),
    }


def check_photo(data: bytes, *, field: str = "photo"):
    """Raise InvalidInput (naming `field`) unless `data` is an acceptable image."""
    try:
        return inspect_image(data, **_limits())
    except InvalidInput as exc:
        for error in exc.errors:
            error.field = field
        raise


def attach_photo(*, case: Case, event: CaseEvent | None, data: bytes, kind: str, now: datetime) -> CaseAttachment:
    info = check_photo(data)
    name = uuid.uuid4().hex
    extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}.get(info.content_type, "img")
    attachment = CaseAttachment(case=case, event=event, kind=kind, content_type=info.content_type, size=len(data),
                                width=info.width, height=info.height, created_at=now)
    attachment.original.save(f"{name}.{extension}", ContentFile(data), save=False)
    attachment.public_copy.save(f"{name}.{extension}", ContentFile(strip_metadata(data)), save=False)
    attachment.thumbnail.save(f"{name}.jpg", ContentFile(thumbnail(data)), save=False)
    attachment.save()
    return attachment

