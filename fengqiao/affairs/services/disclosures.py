"""Village affairs disclosure (村务公开) and the supervision committee's review.

draft → submitted (for review) → approved | objected (the committee, REVIEW_DISCLOSURE over the
village) → published (PUBLISH_AFFAIRS) → withdrawn. Publishing is refused unless the latest review
approved exactly the content that is there now: the content hash (title, summary, period, items,
amounts and files) is taken on submission and on review and compared on publication, and any edit
of a submitted or reviewed disclosure sends it back to draft, to be submitted and reviewed again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.affairs.models import (
    Attachment,
    Disclosure,
    DisclosureItem,
    DisclosureKind,
    DisclosureQuestion,
    DisclosureReview,
    DisclosureState,
    ItemDirection,
    ReviewDecision,
)
from fengqiao.affairs.services.common import (
    Upload,
    check_file,
    check_files,
    clean_text,
    raise_errors,
    record,
    require,
    require_role,
    store_file,
)
from fengqiao.core import clock
from fengqiao.core.errors import Conflict, ErrorDetail, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.geo.models import Region, RegionLevel
from fengqiao.org.permissions import Action

S = DisclosureState
TITLE_MAX = 200
SUMMARY_MAX = 5000
ITEM_TITLE_MAX = 200
ITEM_NOTE_MAX = 2000
REASON_MAX = 2000
QUESTION_MAX = 1000
MAX_ITEMS = 200
AMOUNT_MAX = Decimal("1000000000000")  # below a trillion yuan
EDITABLE = (S.DRAFT, S.SUBMITTED, S.APPROVED, S.OBJECTED)
REVIEWED_OR_WAITING = (S.SUBMITTED, S.APPROVED, S.OBJECTED)


@dataclass
class ItemInput:
    title: str
    direction: str = ""
    amount: str | Decimal | None = None
    note: str = ""
    item_id: int | None = None  # an existing item (keeps its files)
    files: Sequence[Upload] = field(default_factory=tuple)
    remove_attachments: Sequence[int] = field(default_factory=tuple)


def _not_found() -> NotFound:
    return NotFound("not_found", _("No such disclosure."))


def parse_amount(value: str | Decimal | None, *, field: str, errors: list[ErrorDetail]) -> Decimal | None:
    """Yuan with at most 2 decimal places, 0 or more; "1,234.50" and "１２３" are understood."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, Decimal):
        amount = value
    else:
        import unicodedata

        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace("¥", "").replace("元", "")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            errors.append(ErrorDetail("invalid_amount", _("Give the amount in yuan, e.g. 1234.50."), field))
            return None
    if not amount.is_finite():
        errors.append(ErrorDetail("invalid_amount", _("Give the amount in yuan, e.g. 1234.50."), field))
        return None
    if amount < 0:
        errors.append(ErrorDetail("negative", _("Give the amount as a positive number; choose income or expense."),
                                  field))
        return None
    if amount != amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        errors.append(ErrorDetail("too_precise", _("Amounts have at most 2 decimal places (fen)."), field))
        return None
    if amount >= AMOUNT_MAX:
        errors.append(ErrorDetail("too_large", _("This amount is too large."), field))
        return None
    return amount.quantize(Decimal("0.01"))


@dataclass
class _CleanItem:
    title: str
    direction: str
    amount: Decimal | None
    note: str
    item_id: int | None
    files: list
    remove_attachments: list[int]


def _validate(*, village: Region | None, kind: str, year: int | None, quarter: int | None, title: str,
              summary: str, items: Sequence[ItemInput]) -> tuple[str, str, list[_CleanItem]]:
    errors: list[ErrorDetail] = []
    if village is None:
        errors.append(ErrorDetail("required", _("Choose the village."), "village"))
    elif village.level != RegionLevel.VILLAGE:
        errors.append(ErrorDetail("invalid_choice", _("Disclosures are made by a village."), "village"))
    if kind not in DisclosureKind.values:
        errors.append(ErrorDetail("invalid_choice", _("Choose finances, project spending or decisions."), "kind"))
    if year is None or not 2000 <= year <= 2100:
        errors.append(ErrorDetail("invalid_year", _("Give the year, e.g. 2026."), "year"))
    if quarter is None or not 0 <= quarter <= 4:
        errors.append(ErrorDetail("invalid_quarter", _("Choose a quarter or the whole year."), "quarter"))
    title = clean_text(title, field="title", required=True, max_length=TITLE_MAX, errors=errors,
                       required_message=_("Give the title."))
    summary = clean_text(summary, field="summary", required=False, max_length=SUMMARY_MAX, errors=errors)
    if len(items) > MAX_ITEMS:
        errors.append(ErrorDetail("too_many", _("At most %(n)d items.") % {"n": MAX_ITEMS}, "items"))
    cleaned = []
    for i, item in enumerate(items):
        name = f"items[{i}]"
        item_title = clean_text(item.title, field=f"{name}.title", required=True, max_length=ITEM_TITLE_MAX,
                                errors=errors, required_message=_("Name the item."))
        note = clean_text(item.note, field=f"{name}.note", required=False, max_length=ITEM_NOTE_MAX, errors=errors)
        direction = item.direction or ""
        if direction not in ItemDirection.values:
            errors.append(ErrorDetail("invalid_choice", _("Choose income or expense."), f"{name}.direction"))
        amount = parse_amount(item.amount, field=f"{name}.amount", errors=errors)
        if kind == DisclosureKind.FINANCE:
            if direction not in (ItemDirection.INCOME, ItemDirection.EXPENSE):
                errors.append(ErrorDetail("required", _("Choose income or expense."), f"{name}.direction"))
            if amount is None and not any(e.field == f"{name}.amount" for e in errors):
                errors.append(ErrorDetail("required", _("Give the amount."), f"{name}.amount"))
        files = []
        for upload in item.files:
            try:
                files.append(check_file(upload, field=f"{name}.files"))
            except InvalidInput as exc:
                errors.extend(exc.errors)
        cleaned.append(_CleanItem(item_title, direction, amount, note, item.item_id, files,
                                  list(item.remove_attachments)))
    if not items:
        errors.append(ErrorDetail("required", _("Add at least one item."), "items"))
    raise_errors(errors)
    return title, summary, cleaned


def content_hash(disclosure: Disclosure) -> str:
    """SHA-256 of what a resident will read: period, kind, title, summary, items and files."""
    items = [
        {"order": it.order, "direction": it.direction, "title": it.title,
         "amount": None if it.amount is None else str(it.amount), "note": it.note,
         "files": sorted(a.sha256 for a in it.attachments.all())}
        for it in DisclosureItem.objects.filter(disclosure=disclosure).prefetch_related("attachments")
        .order_by("order", "pk")
    ]
    body = {
        "village": disclosure.area_code, "kind": disclosure.kind, "year": disclosure.year,
        "quarter": disclosure.quarter, "title": disclosure.title, "summary": disclosure.summary, "items": items,
        "files": sorted(Attachment.objects.filter(disclosure=disclosure, item__isnull=True)
                        .values_list("sha256", flat=True)),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _write_items(disclosure: Disclosure, items: list[_CleanItem], now: Any) -> None:
    existing = {it.pk: it for it in DisclosureItem.objects.filter(disclosure=disclosure)}
    kept: set[int] = set()
    for order, item in enumerate(items, start=1):
        row = existing.get(item.item_id) if item.item_id else None
        if row is None:
            row = DisclosureItem(disclosure=disclosure)
        else:
            kept.add(row.pk)
        row.order, row.title, row.direction, row.amount, row.note = (order, item.title, item.direction, item.amount,
                                                                     item.note)
        row.save()
        if item.remove_attachments:
            Attachment.objects.filter(item=row, pk__in=item.remove_attachments).delete()
        for checked in item.files:
            store_file(checked, now=now, disclosure=disclosure, item=row)
    stale = [pk for pk in existing if pk not in kept]
    if stale:
        DisclosureItem.objects.filter(pk__in=stale).delete()


def _load(actor: Any, disclosure_id: int, action: Action = Action.PUBLISH_AFFAIRS) -> Disclosure:
    disclosure = Disclosure.objects.select_for_update().select_related("village").filter(pk=disclosure_id).first()
    if disclosure is None:
        raise _not_found()
    if action == Action.PUBLISH_AFFAIRS:
        require_role(actor, action, disclosure.area_code, visible_with=(Action.REVIEW_DISCLOSURE,),
                     message=_("Only the village's clerks prepare and publish disclosures."),
                     not_found=_("No such disclosure."))
    else:
        require_role(actor, action, disclosure.area_code, visible_with=(Action.PUBLISH_AFFAIRS,),
                     message=_("Only members of the village affairs supervision committee review disclosures."),
                     not_found=_("No such disclosure."))
    return disclosure


def _check_version(disclosure: Disclosure, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != disclosure.version:
        raise Conflict("stale_version", _("The disclosure changed since you saw it. Reload and try again."))


@transaction.atomic
def disclosure_create(*, actor: Any, village: Region | None, kind: str, year: int | None, quarter: int | None,
                      title: str, summary: str = "", items: Sequence[ItemInput] = (),
                      files: Sequence[Upload] = ()) -> Disclosure:
    title, summary, cleaned = _validate(village=village, kind=kind, year=year, quarter=quarter, title=title,
                                        summary=summary, items=items)
    assert village is not None and year is not None and quarter is not None
    require(actor, Action.PUBLISH_AFFAIRS, village.code, not_found=_("No such village."))
    checked = check_files(list(files), field="files")
    now = clock.now()
    disclosure = Disclosure.objects.create(village=village, area_code=village.code, kind=kind, year=year,
                                           quarter=quarter, title=title, summary=summary, created_by=actor,
                                           created_at=now, updated_at=now)
    _write_items(disclosure, cleaned, now)
    for checked_file in checked:
        store_file(checked_file, now=now, disclosure=disclosure)
    record(subject=disclosure, action="create", actor=actor, to_state=S.DRAFT, now=now)
    return disclosure


@transaction.atomic
def disclosure_update(*, actor: Any, disclosure_id: int, kind: str, year: int | None, quarter: int | None,
                      title: str, summary: str = "", items: Sequence[ItemInput] = (), files: Sequence[Upload] = (),
                      remove_attachments: Sequence[int] = (), expected_version: int | None = None) -> Disclosure:
    """Edit a disclosure not yet published. One submitted or reviewed goes back to draft: it has to be
    submitted and reviewed again before it can be published."""
    disclosure = _load(actor, disclosure_id)
    _check_version(disclosure, expected_version)
    if disclosure.state not in EDITABLE:
        raise TransitionNotAllowed("not_editable", _("A published or withdrawn disclosure cannot be edited; "
                                                     "prepare a new one."))
    title, summary, cleaned = _validate(village=disclosure.village, kind=kind, year=year, quarter=quarter,
                                        title=title, summary=summary, items=items)
    assert year is not None and quarter is not None
    own = set(DisclosureItem.objects.filter(disclosure=disclosure).values_list("pk", flat=True))
    for i, item in enumerate(cleaned):
        if item.item_id is not None and item.item_id not in own:
            raise InvalidInput("invalid_choice", _("This item belongs to another disclosure."), field=f"items[{i}]")
    kept = Attachment.objects.filter(disclosure=disclosure, item__isnull=True).exclude(
        pk__in=list(remove_attachments)).count()
    checked = check_files(list(files), field="files", existing=kept)
    now = clock.now()
    before = content_hash(disclosure)
    disclosure.kind, disclosure.year, disclosure.quarter = kind, year, quarter
    disclosure.title, disclosure.summary = title, summary
    disclosure.save()
    _write_items(disclosure, cleaned, now)
    Attachment.objects.filter(disclosure=disclosure, item__isnull=True, pk__in=list(remove_attachments)).delete()
    for checked_file in checked:
        store_file(checked_file, now=now, disclosure=disclosure)
    changed = content_hash(disclosure) != before
    from_state = disclosure.state
    if changed and from_state in REVIEWED_OR_WAITING:
        disclosure.state = S.DRAFT
        disclosure.submitted_hash = ""
    disclosure.version += 1
    disclosure.updated_at = now
    disclosure.save()
    record(subject=disclosure, action="update", actor=actor, from_state=from_state, to_state=disclosure.state,
           payload={"changed": changed}, now=now)
    return disclosure


@transaction.atomic
def disclosure_submit(*, actor: Any, disclosure_id: int, expected_version: int | None = None) -> Disclosure:
    """Ask the village affairs supervision committee to review the content as it is now."""
    disclosure = _load(actor, disclosure_id)
    _check_version(disclosure, expected_version)
    if disclosure.state not in (S.DRAFT, S.OBJECTED):
        raise TransitionNotAllowed("transition_not_allowed", _("Only a draft can be submitted for review."))
    if disclosure.state == S.OBJECTED:
        raise TransitionNotAllowed("edit_first", _("The committee objected: edit the disclosure before submitting "
                                                   "it again."))
    now = clock.now()
    disclosure.state = S.SUBMITTED
    disclosure.submitted_hash = content_hash(disclosure)
    disclosure.submitted_at = now
    disclosure.version += 1
    disclosure.updated_at = now
    disclosure.save()
    record(subject=disclosure, action="submit", actor=actor, from_state=S.DRAFT, to_state=S.SUBMITTED,
           payload={"content_hash": disclosure.submitted_hash}, now=now)
    return disclosure


@transaction.atomic
def disclosure_review(*, actor: Any, disclosure_id: int, approve: bool, reason: str = "",
                      expected_version: int | None = None) -> DisclosureReview:
    """The committee's review: approved, or an objection with its reason."""
    disclosure = _load(actor, disclosure_id, Action.REVIEW_DISCLOSURE)
    _check_version(disclosure, expected_version)
    reason = (reason or "").strip()
    if not approve and not reason:
        raise InvalidInput("required", _("Give the reason for the objection."), field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput("too_long", _("At most %(n)d characters.") % {"n": REASON_MAX}, field="reason")
    if disclosure.state != S.SUBMITTED:
        raise TransitionNotAllowed("not_submitted", _("Only a disclosure submitted for review can be reviewed."))
    current = content_hash(disclosure)
    if current != disclosure.submitted_hash:  # edits send it back to draft, so this is a safety net
        raise Conflict("changed", _("The disclosure changed after it was submitted."))
    now = clock.now()
    review = DisclosureReview.objects.create(
        disclosure=disclosure, reviewer=actor, decision=ReviewDecision.APPROVED if approve else ReviewDecision.OBJECTION,
        reason=reason, content_hash=current, at=now)
    disclosure.state = S.APPROVED if approve else S.OBJECTED
    disclosure.version += 1
    disclosure.updated_at = now
    disclosure.save()
    record(subject=disclosure, action="approve" if approve else "object", actor=actor, from_state=S.SUBMITTED,
           to_state=disclosure.state, reason=reason, payload={"content_hash": current}, now=now)
    return review


def publish_refusal(disclosure: Disclosure) -> str | None:
    """Why the disclosure cannot be published now, or None when it can."""
    latest = disclosure.reviews.order_by("-at", "-pk").first()
    if disclosure.state in (S.PUBLISHED, S.WITHDRAWN):
        return _("This disclosure is already published or withdrawn.")
    if latest is None or disclosure.state in (S.DRAFT, S.SUBMITTED):
        if latest is not None and disclosure.state == S.DRAFT:
            return _("The disclosure was edited after the committee's review: submit it for review again.")
        return _("The village affairs supervision committee has not reviewed this disclosure yet.")
    if latest.decision != ReviewDecision.APPROVED or disclosure.state == S.OBJECTED:
        return _("The village affairs supervision committee objected: %(reason)s") % {"reason": latest.reason}
    if latest.content_hash != content_hash(disclosure):
        return _("The disclosure was edited after the committee's review: submit it for review again.")
    return None


@transaction.atomic
def disclosure_publish(*, actor: Any, disclosure_id: int, expected_version: int | None = None) -> Disclosure:
    """Publish: only what the committee's latest review approved, unchanged since."""
    disclosure = _load(actor, disclosure_id)
    _check_version(disclosure, expected_version)
    refusal = publish_refusal(disclosure)
    if refusal is not None:
        raise TransitionNotAllowed("not_approved", refusal)
    now = clock.now()
    disclosure.state = S.PUBLISHED
    disclosure.published_at, disclosure.published_by = now, actor
    disclosure.version += 1
    disclosure.updated_at = now
    disclosure.save()
    record(subject=disclosure, action="publish", actor=actor, from_state=S.APPROVED, to_state=S.PUBLISHED,
           payload={"content_hash": content_hash(disclosure)}, now=now)
    return disclosure


@transaction.atomic
def disclosure_withdraw(*, actor: Any, disclosure_id: int, reason: str,
                        expected_version: int | None = None) -> Disclosure:
    disclosure = _load(actor, disclosure_id)
    _check_version(disclosure, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("required", _("Say why the disclosure is withdrawn."), field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput("too_long", _("At most %(n)d characters.") % {"n": REASON_MAX}, field="reason")
    if disclosure.state != S.PUBLISHED:
        raise TransitionNotAllowed("transition_not_allowed", _("Only a published disclosure can be withdrawn."))
    now = clock.now()
    disclosure.state = S.WITHDRAWN
    disclosure.withdrawn_at, disclosure.withdraw_reason = now, reason
    disclosure.version += 1
    disclosure.updated_at = now
    disclosure.save()
    record(subject=disclosure, action="withdraw", actor=actor, from_state=S.PUBLISHED, to_state=S.WITHDRAWN,
           reason=reason, now=now)
    return disclosure


# -- residents' questions ------------------------------------------------------------------------
def question_category():
    """The category of questions on village affairs: a services-platform consultation, looked up
    without settings (the catalogue's 证明事项咨询 or any consultation leaf, else any active leaf of
    the services platform)."""
    from fengqiao.cases.models import Category
    from fengqiao.org.models import Platform

    leaves = Category.objects.filter(platform__code=Platform.SERVICES, is_active=True, children__isnull=True)
    for lookup in ({"name_zh__contains": "村务"}, {"name_zh__contains": "咨询"}, {}):
        found = leaves.filter(**lookup).order_by("code").first()
        if found is not None:
            return found
    return None


def _case_point(village: Region) -> dict[str, Any]:
    if village.center_lon is not None and village.center_lat is not None:
        return {"lon": village.center_lon, "lat": village.center_lat}
    if village.boundary:
        from fengqiao.geo.geometry import to_shape

        point = to_shape(village.boundary).representative_point()
        return {"lon": point.x, "lat": point.y}
    from fengqiao.geo.models import Grid

    grid = Grid.objects.filter(region=village, parent__isnull=True).order_by("code").first()
    if grid is None:
        raise InvalidInput("no_location", _("Questions cannot be taken for this village yet."), field=None)
    return {"grid": grid}


@transaction.atomic
def disclosure_ask(*, actor: Any, disclosure_id: int, item_id: int | None, question: str, name: str = "",
                   phone: str = "", anonymous: bool = False) -> DisclosureQuestion:
    """A resident's question on a published disclosure: a consult case linked to the item."""
    import inspect

    from fengqiao.cases.models import Channel
    from fengqiao.cases.services import case_report
    from fengqiao.org.permissions import Target, permissions_for

    disclosure = Disclosure.objects.select_related("village").filter(pk=disclosure_id, state=S.PUBLISHED).first()
    if disclosure is None:
        raise _not_found()
    item = None
    if item_id is not None:
        item = DisclosureItem.objects.filter(pk=item_id, disclosure=disclosure).first()
        if item is None:
            raise InvalidInput("invalid_choice", _("Choose an item of this disclosure."), field="item")
    errors: list[ErrorDetail] = []
    question = clean_text(question, field="question", required=True, max_length=QUESTION_MAX, errors=errors,
                          required_message=_("Write your question."))
    name = clean_text(name, field="name", required=False, max_length=50, errors=errors)
    phone = clean_text(phone, field="phone", required=False, max_length=30, errors=errors)
    if phone and not any(ch.isdigit() for ch in phone):
        errors.append(ErrorDetail("invalid_phone", _("Give a phone number, or leave it empty."), "phone"))
    raise_errors(errors)
    category = question_category()
    if category is None:
        raise InvalidInput("no_category", _("Questions cannot be taken yet: the category catalogue is empty."),
                           field=None)
    subject = item.title if item is not None else disclosure.title
    description = f"【村务公开咨询】{disclosure.village.name} {disclosure.period_label} {disclosure.title}\n" \
                  f"事项：{subject}\n{question}"
    # a signed-in person reports as themselves where their role lets them report; otherwise as the public
    reporter = actor if getattr(actor, "is_authenticated", False) and permissions_for(actor).can(
        Action.REPORT_CASE, Target(area_code=disclosure.area_code)) else None
    arguments: dict[str, Any] = dict(
        actor=reporter, channel=Channel.RESIDENT, category=category, description=description[:2000],
        anonymous=anonymous, reporter_name="" if anonymous else name, reporter_phone="" if anonymous else phone,
        **_case_point(disclosure.village))
    if "request_type" in inspect.signature(case_report).parameters:
        arguments["request_type"] = "consult"
    case = case_report(**arguments)
    now = clock.now()
    asked = DisclosureQuestion.objects.create(disclosure=disclosure, item=item, question=question, case=case,
                                              asked_at=now)
    record(subject=disclosure, action="question", actor=actor, payload={"case": case.number, "item": item_id}, now=now)
    return asked
