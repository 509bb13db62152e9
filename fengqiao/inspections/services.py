"""Every write to inspections (DESIGN §6): keyword-only, typed, atomic services.

Only the grid's worker or chief (who may close a matter on the spot there) inspects. A failed item
is reported as a case through `fengqiao.cases.services.case_report` (channel grid_worker), in the
same transaction as the result that links it, with an idempotency key per round and item, so a
retried request never makes a second case.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.geo.models import Asset, Grid
from fengqiao.inspections.models import (
    InspectionItem,
    InspectionResult,
    InspectionRound,
    InspectionTarget,
    InspectionTemplate,
)
from fengqiao.org.permissions import Action, Target, permissions_for

NOTE_MAX = 1000


def _require_inspector(actor: Any, area_code: str) -> None:
    perms = permissions_for(actor)
    target = Target(area_code=area_code)
    if not perms.can(Action.VIEW_CASE, target) and not perms.can(Action.CLOSE_ON_SPOT, target):
        raise NotFound("not_found", _("No such grid."))
    if not perms.can(Action.CLOSE_ON_SPOT, target):
        raise Forbidden("forbidden", _("Only the grid's worker or chief inspects it."))


def _area_of(template: InspectionTemplate, grid: Grid | None, asset: Asset | None) -> str:
    if template.target == InspectionTarget.ASSET:
        if asset is None:
            raise InvalidInput("required", _("Choose the asset to inspect."), field="asset")
        if template.asset_type and asset.type != template.asset_type:
            raise InvalidInput("wrong_asset_type", _("This checklist is for another type of asset."), field="asset")
        area = (asset.grid.code if asset.grid is not None
                else asset.region.code if asset.region is not None else "")
        if not area:
            raise InvalidInput("outside_territory", _("The asset lies in no grid."), field="asset")
        return area
    if grid is None:
        raise InvalidInput("required", _("Choose the grid to inspect."), field="grid")
    return grid.code


def next_due(template: InspectionTemplate, last_started_at):
    return last_started_at + timedelta(days=template.every_days) if last_started_at else None


@transaction.atomic
def inspection_start(*, actor: Any, template: InspectionTemplate, grid: Grid | None = None,
                     asset: Asset | None = None) -> InspectionRound:
    """Start a round of `template` in `grid` (or at `asset`); an unfinished round of the same
    template there by the same inspector is returned instead of a second one."""
    area_code = _area_of(template, grid, asset)
    _require_inspector(actor, area_code)
    if not template.is_active:
        raise InvalidInput("inactive", _("This checklist is no longer in use."), field="template")
    if template.area_prefix and not area_code.startswith(template.area_prefix):
        raise InvalidInput("not_applicable", _("This checklist does not apply here."), field="template")
    rounds = InspectionRound.objects.filter(template=template, area_code=area_code,
                                            asset=asset if template.target == InspectionTarget.ASSET else None)
    open_round = rounds.filter(inspector=actor, finished_at__isnull=True).first()
    if open_round is not None:
        return open_round
    last = rounds.filter(finished_at__isnull=False).order_by("-started_at").values_list("started_at", flat=True).first()
    return InspectionRound.objects.create(
        template=template, grid=grid if template.target == InspectionTarget.GRID else (asset.grid if asset else None),
        asset=asset if template.target == InspectionTarget.ASSET else None, area_code=area_code, inspector=actor,
        due_at=next_due(template, last), started_at=clock.now())


def _load_round(actor: Any, round_id: int) -> InspectionRound:
    found = (InspectionRound.objects.select_for_update(of=("self",)).select_related("template", "grid", "asset")
             .filter(pk=round_id).first())
    if found is None:
        raise NotFound("not_found", _("No such inspection round."))
    _require_inspector(actor, found.area_code)
    if found.finished_at is not None:
        raise TransitionNotAllowed("round_finished", _("This inspection round is finished."))
    return found


def _category_for(item: InspectionItem):
    from fengqiao.cases.models import Category

    code = item.category_code or item.template.default_category_code
    category = Category.objects.filter(code=code, is_active=True).first() if code else None
    if category is None:
        raise InvalidInput("no_category", _("No category in use is set for this checklist item; ask an "
                                            "administrator to set one."), field="item")
    return category


@transaction.atomic
def inspection_record(*, actor: Any, round_id: int, item_id: int, passed: bool, note: str = "",
                      photo: bytes | None = None, lon: float | None = None,
                      lat: float | None = None) -> InspectionResult:
    """Record one item of a round. A failed item is reported as a case and linked to the result.

    Recording the same outcome again returns the first result (no second case); recording the
    opposite outcome of an item already recorded is refused."""
    from fengqiao.cases.models import Channel
    from fengqiao.cases.services import Photo, case_report

    found = _load_round(actor, round_id)
    item = InspectionItem.objects.select_related("template").filter(pk=item_id, template_id=found.template_id).first()
    if item is None:
        raise InvalidInput("not_found", _("This item is not on the round's checklist."), field="item")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput("too_long", _("The note is limited to %(n)d characters.") % {"n": NOTE_MAX}, field="note")
    if not passed and not note:
        raise InvalidInput("required", _("Say what is wrong."), field="note")
    info = None
    if photo:
        from fengqiao.cases.attachments import check_photo

        info = check_photo(photo, field="photo")
    existing = InspectionResult.objects.filter(round=found, item=item).select_related("case").first()
    if existing is not None:
        if existing.passed == passed:
            return existing
        raise Conflict("already_recorded", _("This item was already recorded as %(outcome)s.") % {
            "outcome": _("passed") if existing.passed else _("failed")})

    now = clock.now()
    result = InspectionResult(round=found, item=item, passed=passed, note=note, recorded_at=now)
    if not passed:
        category = _category_for(item)
        has_point = lon is not None and lat is not None
        try:
            case = case_report(
                actor=actor, channel=Channel.GRID_WORKER, category=category,
                description=f"{found.template.name_zh}：{item.text_zh}\n{note}",
                grid=None if has_point or found.asset_id else found.grid, asset=found.asset,
                lon=lon if has_point else None, lat=lat if has_point else None,
                photos=[Photo(photo)] if photo else (),
                idempotency_key=f"inspection:{found.pk}:{item.pk}",
            )
        except NotFound as exc:  # the position given lies outside the inspector's grids
            raise InvalidInput("not_your_grid", exc.errors[0].message, field="location") from exc
        result.case = case
    if photo and info is not None:
        from fengqiao.core.images import strip_metadata

        result.photo.save(f"{uuid.uuid4().hex}.{info.extension}", ContentFile(strip_metadata(photo)), save=False)
    result.save()
    return result


@transaction.atomic
def inspection_finish(*, actor: Any, round_id: int) -> InspectionRound:
    """Finish a round once every item has a result."""
    found = _load_round(actor, round_id)
    missing = found.template.items.exclude(pk__in=found.results.values("item_id")).count()
    if missing:
        raise InvalidInput("items_missing", _("Record every item before finishing (%(n)d left).") % {"n": missing},
                           field="items")
    found.finished_at = clock.now()
    found.save(update_fields=["finished_at"])
    return found
