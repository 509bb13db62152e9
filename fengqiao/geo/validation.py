"""Checks on region and grid data shared by the admin, the services and the importer.

Each returns a dict field -> message (empty when all is well), so callers can report it their way.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from fengqiao.geo.geometry import to_shape
from fengqiao.geo.models import (
    CODE_LENGTH,
    GRID_CODE_LENGTH,
    MICRO_GRID_CODE_LENGTH,
    PARENT_LEVEL,
    Grid,
    Region,
    RegionLevel,
)

# A grid may stick out of its village by this share of its own area (digitising slack).
OUTSIDE_TOLERANCE = 0.02
# An invalid polygon is repaired (make_valid, polygonal parts) only if its area changes by less.
REPAIR_TOLERANCE = 0.01
# Two grids of one village overlap (reported) when their common area exceeds this share of the smaller.
OVERLAP_TOLERANCE = 0.005


def region_errors(*, code: str, level: str, parent: Region | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        level_enum = RegionLevel(level)
    except ValueError:
        return {"level": _("Unknown region level %(level)s.") % {"level": level}}
    expected = CODE_LENGTH[level_enum]
    if not (code.isdigit() and len(code) == expected):
        errors["code"] = _("A %(level)s code has %(n)d digits.") % {"level": level_enum.label, "n": expected}
    wanted_parent = PARENT_LEVEL.get(level_enum)
    if wanted_parent is None:
        if parent is not None:
            errors["parent"] = _("A county has no parent region.")
    elif parent is None or parent.level != wanted_parent:
        errors["parent"] = _("A %(level)s belongs to a %(parent)s.") % {
            "level": level_enum.label,
            "parent": wanted_parent.label,
        }
    elif "code" not in errors and not code.startswith(parent.code):
        errors["code"] = _("The code must start with the parent's code %(code)s.") % {"code": parent.code}
    return errors


def grid_errors(
    *, code: str, region: Region | None, parent: Grid | None, geometry: dict[str, Any] | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if region is None or region.level != RegionLevel.VILLAGE:
        errors["region"] = _("A grid belongs to a village or community.")
    expected = MICRO_GRID_CODE_LENGTH if parent else GRID_CODE_LENGTH
    prefix = parent.code if parent else (region.code if region else "")
    if not (code.isdigit() and len(code) == expected and code.startswith(prefix)):
        errors["code"] = _("A grid code is its %(owner)s's code %(prefix)s followed by 3 digits.") % {
            "owner": _("parent grid") if parent else _("village"),
            "prefix": prefix,
        }
    if parent is not None and region is not None and parent.region_id != region.pk:
        errors["parent"] = _("A micro-grid lies in its parent grid's village.")
    try:
        shape = to_shape(geometry or {})
    except ValueError as exc:
        errors["geometry"] = str(exc)
        return errors
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        errors["geometry"] = _("A grid boundary is a polygon.")
    elif not shape.is_valid:
        from shapely.validation import explain_validity

        errors["geometry"] = _("The boundary is not a valid polygon: %(reason)s") % {
            "reason": explain_validity(shape)
        }
    elif region is not None and region.boundary:
        outside = shape.difference(to_shape(region.boundary)).area
        if outside > OUTSIDE_TOLERANCE * shape.area:
            errors["geometry"] = _("The grid lies outside its village %(village)s.") % {"village": region.name}
    return errors
