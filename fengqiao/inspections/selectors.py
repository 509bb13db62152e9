"""Reads of inspections that a user sees, scoped by the permission resolver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, Q
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import NotFound
from fengqiao.geo.models import Asset, Grid
from fengqiao.inspections.models import (
    InspectionItem,
    InspectionResult,
    InspectionRound,
    InspectionTarget,
    InspectionTemplate,
)
from fengqiao.inspections.services import next_due
from fengqiao.org.permissions import Action, permissions_for

MAX_TARGETS = 200


@dataclass
class DueInspection:
    template: InspectionTemplate
    grid: Grid | None
    asset: Asset | None
    last_started_at: datetime | None
    due_at: datetime | None  # None: never inspected, due now
    open_round: InspectionRound | None

    @property
    def is_due(self) -> bool:
        return self.open_round is not None or self.due_at is None or self.due_at <= clock.now()


def inspector_grids(actor: Any) -> list[Grid]:
    """The grids (and micro-grids) in which `actor` inspects: those of their worker or chief roles."""
    prefixes = permissions_for(actor).area_codes(Action.CLOSE_ON_SPOT)
    if not prefixes:
        return []
    q = Q()
    for prefix in prefixes:
        q |= Q(code__startswith=prefix)
    return list(Grid.objects.filter(q).order_by("code")[:MAX_TARGETS])


def inspections_due(actor: Any, *, include_later: bool = False) -> list[DueInspection]:
    """The rounds the actor's grids are due for: per active template and grid (or asset), the next
    round is due `every_days` after the last finished one started, or now if there was none.
    Rounds already started and not finished are listed first. With `include_later` the rounds not
    yet due are listed too."""
    grids = inspector_grids(actor)
    if not grids:
        return []
    templates = list(InspectionTemplate.objects.filter(is_active=True).order_by("name_zh"))
    codes = [g.code for g in grids]
    assets_by_type: dict[str, list[Asset]] = {}
    asset_types = {t.asset_type for t in templates if t.target == InspectionTarget.ASSET}
    if asset_types:
        for found_asset in (Asset.objects.filter(grid__code__in=codes, is_active=True, type__in=asset_types)
                      .select_related("grid").order_by("code")[:MAX_TARGETS]):
            assets_by_type.setdefault(found_asset.type, []).append(found_asset)
    area_q = Q()
    for code in codes:
        area_q |= Q(area_code__startswith=code)
    last: dict[tuple[int, str, int | None], datetime] = {(t, a, s): m for t, a, s, m in InspectionRound.objects.filter(area_q, finished_at__isnull=False)
            .values_list("template_id", "area_code", "asset_id").annotate(m=Max("started_at"))
            .values_list("template_id", "area_code", "asset_id", "m")}
    open_rounds = {(r.template_id, r.area_code, r.asset_id): r for r in InspectionRound.objects.filter(
        area_q, finished_at__isnull=True, inspector=actor).order_by("started_at")}
    found: list[DueInspection] = []
    for template in templates:
        targets: list[tuple[Grid | None, Asset | None, str]]
        if template.target == InspectionTarget.GRID:
            targets = [(g, None, g.code) for g in grids]
        else:
            targets = [(a.grid, a, a.grid.code) for a in assets_by_type.get(template.asset_type, [])
                       if a.grid is not None]
        for grid, asset, area in targets:
            if template.area_prefix and not area.startswith(template.area_prefix):
                continue
            key = (template.pk, area, asset.pk if asset else None)
            last_started = last.get(key)
            due = DueInspection(template=template, grid=grid, asset=asset, last_started_at=last_started,
                                due_at=next_due(template, last_started), open_round=open_rounds.get(key))
            if include_later or due.is_due:
                found.append(due)
    found.sort(key=lambda d: (d.open_round is None, d.due_at is not None, d.due_at or clock.now()))
    return found


def inspection_round_get(*, actor: Any, round_id: int) -> InspectionRound:
    """The round, if the actor may see its area; otherwise NotFound."""
    found = InspectionRound.objects.select_related("template", "grid", "asset", "inspector").filter(
        pk=round_id).first()
    if found is None or not permissions_for(actor).can(Action.CLOSE_ON_SPOT, found):
        raise NotFound("not_found", _("No such inspection round."))
    return found


@dataclass
class ChecklistLine:
    item: InspectionItem
    result: InspectionResult | None


def round_checklist(*, inspection_round: InspectionRound) -> list[ChecklistLine]:
    results = {r.item_id: r for r in InspectionResult.objects.filter(round=inspection_round).select_related("case")}
    return [ChecklistLine(item, results.get(item.pk))
            for item in InspectionItem.objects.filter(template_id=inspection_round.template_id)]
