"""Photos on cases: checked by content, stored as the original (staff only), a copy without
metadata (EXIF/GPS stripped: the only copy that can become public) and a thumbnail."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.files.base import ContentFile

from fengqiao.cases.models import Case, CaseAttachment, CaseEvent
from fengqiao.core.images import ImageInfo, inspect_image, strip_metadata, thumbnail

MAX_PHOTOS = 9


def check_photo(data: bytes, *, field: str = "photo") -> ImageInfo:
    """Raise InvalidInput (naming `field`) unless `data` is an acceptable image."""
    return inspect_image(data, field=field)


def attach_photo(*, case: Case, event: CaseEvent | None, data: bytes, kind: str, now: datetime) -> CaseAttachment:
    info = check_photo(data)
    name = uuid.uuid4().hex
    attachment = CaseAttachment(case=case, event=event, kind=kind, content_type=info.mime_type, size=len(data),
                                width=info.width, height=info.height, created_at=now)
    attachment.original.save(f"{name}.{info.extension}", ContentFile(data), save=False)
    attachment.public_copy.save(f"{name}.{info.extension}", ContentFile(strip_metadata(data)), save=False)
    attachment.thumbnail.save(f"{name}.jpg", ContentFile(thumbnail(data)), save=False)
    attachment.save()
    return attachment
