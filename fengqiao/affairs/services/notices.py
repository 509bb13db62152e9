"""Notices (信息发布) and village news (村情动态): drafted, published and withdrawn by staff who may
publish village affairs over the notice's village or township. Every change writes an event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.affairs.models import Attachment, Notice, NoticeKind, NoticeState
from fengqiao.affairs.services.common import (
    Upload,
    check_files,
    clean_text,
    raise_errors,
    record,
    require,
    store_file,
)
from fengqiao.core import clock
from fengqiao.core.errors import Conflict, ErrorDetail, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.geo.models import Region, RegionLevel
from fengqiao.org.permissions import Action

TITLE_MAX = 200
BODY_MAX = 20_000
REASON_MAX = 1000
NOT_FOUND = "No such notice."


def _not_found() -> NotFound:
    return NotFound("not_found", _("No such notice."))


def _validate(*, kind: str, region: Region | None, title: str, body: str) -> tuple[str, str]:
    errors: list[ErrorDetail] = []
    if kind not in NoticeKind.values:
        errors.append(ErrorDetail("invalid_choice", _("Choose notice or village news."), "kind"))
    if region is None:
        errors.append(ErrorDetail("required", _("Choose the village or township."), "region"))
    elif region.level not in (RegionLevel.VILLAGE, RegionLevel.TOWNSHIP):
        errors.append(ErrorDetail("invalid_choice", _("Choose a village or a township."), "region"))
    title = clean_text(title, field="title", required=True, max_length=TITLE_MAX, errors=errors,
                       required_message=_("Give the title."))
    body = clean_text(body, field="body", required=True, max_length=BODY_MAX, errors=errors,
                      required_message=_("Write the text."))
    raise_errors(errors)
    return title, body


def _load(actor: Any, notice_id: int) -> Notice:
    notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
    if notice is None:
        raise _not_found()
    require(actor, Action.PUBLISH_AFFAIRS, notice.area_code, not_found=_("No such notice."))
    return notice


def _check_version(notice: Notice, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != notice.version:
        raise Conflict("stale_version", _("The notice changed since you saw it. Reload and try again."))


@transaction.atomic
def notice_create(*, actor: Any, kind: str, region: Region | None, title: str, body: str, pinned: bool = False,
                  files: Sequence[Upload] = ()) -> Notice:
    """A new draft. Files are checked before anything is written."""
    title, body = _validate(kind=kind, region=region, title=title, body=body)
    assert region is not None
    require(actor, Action.PUBLISH_AFFAIRS, region.code, not_found=_("No such village or township."))
    checked = check_files(list(files), field="files")
    now = clock.now()
    notice = Notice.objects.create(kind=kind, region=region, area_code=region.code, title=title, body=body,
                                   pinned=pinned, created_by=actor, created_at=now, updated_at=now)
    for item in checked:
        store_file(item, now=now, notice=notice)
    record(subject=notice, action="create", actor=actor, to_state=notice.state, now=now)
    return notice


@transaction.atomic
def notice_update(*, actor: Any, notice_id: int, kind: str, title: str, body: str, pinned: bool = False,
                  files: Sequence[Upload] = (), remove_attachments: Sequence[int] = (),
                  expected_version: int | None = None) -> Notice:
    """Edit a draft or a published notice (a published one stays published; the change is logged)."""
    notice = _load(actor, notice_id)
    _check_version(notice, expected_version)
    if notice.state == NoticeState.WITHDRAWN:
        raise TransitionNotAllowed("withdrawn", _("A withdrawn notice cannot be edited."))
    title, body = _validate(kind=kind, region=notice.region, title=title, body=body)
    kept = notice.attachments.exclude(pk__in=list(remove_attachments)).count()
    checked = check_files(list(files), field="files", existing=kept)
    now = clock.now()
    notice.kind, notice.title, notice.body, notice.pinned = kind, title, body, pinned
    notice.version += 1
    notice.updated_at = now
    notice.save()
    removed = list(Attachment.objects.filter(notice=notice, pk__in=list(remove_attachments)).values_list("pk", flat=True))
    Attachment.objects.filter(pk__in=removed).delete()
    for item in checked:
        store_file(item, now=now, notice=notice)
    record(subject=notice, action="update", actor=actor, from_state=notice.state, to_state=notice.state,
           payload={"removed_attachments": removed, "added_attachments": len(checked)}, now=now)
    return notice


@transaction.atomic
def notice_publish(*, actor: Any, notice_id: int, expected_version: int | None = None) -> Notice:
    notice = _load(actor, notice_id)
    _check_version(notice, expected_version)
    if notice.state != NoticeState.DRAFT:
        raise TransitionNotAllowed("transition_not_allowed", _("Only a draft can be published."))
    now = clock.now()
    notice.state = NoticeState.PUBLISHED
    notice.published_at, notice.published_by = now, actor
    notice.version += 1
    notice.updated_at = now
    notice.save()
    record(subject=notice, action="publish", actor=actor, from_state=NoticeState.DRAFT, to_state=notice.state, now=now)
    return notice


@transaction.atomic
def notice_withdraw(*, actor: Any, notice_id: int, reason: str, expected_version: int | None = None) -> Notice:
    """Take a published notice off the public pages; it is kept, with who, when and why."""
    notice = _load(actor, notice_id)
    _check_version(notice, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("required", _("Say why the notice is withdrawn."), field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput("too_long", _("At most %(n)d characters.") % {"n": REASON_MAX}, field="reason")
    if notice.state != NoticeState.PUBLISHED:
        raise TransitionNotAllowed("transition_not_allowed", _("Only a published notice can be withdrawn."))
    now = clock.now()
    notice.state = NoticeState.WITHDRAWN
    notice.withdrawn_at, notice.withdrawn_by, notice.withdraw_reason = now, actor, reason
    notice.version += 1
    notice.updated_at = now
    notice.save()
    record(subject=notice, action="withdraw", actor=actor, from_state=NoticeState.PUBLISHED, to_state=notice.state,
           reason=reason, now=now)
    return notice
