"""Writes to the territory. Geometry is validated here and derived fields are computed here."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from tqdm import tqdm

from fengqiao.core import clock
from fengqiao.core.errors import InvalidInput
from fengqiao.core.versioning import bump
from fengqiao.geo.geometry import area_m2, to_geojson, to_shape
from fengqiao.geo.models import Asset, Grid, Region, RegionLevel
from fengqiao.geo.signals import LOCATOR_KEY

if TYPE_CHECKING:
    from fengqiao.geo.importer import GridRow, RegionRow

BATCH_SIZE = 500
REGION_FIELDS = ["name", "name_en", "level", "parent", "boundary", "center_lon", "center_lat"]
GRID_FIELDS = ["name", "region", "parent", "geometry", "area_m2", "households", "min_lon", "min_lat", "max_lon",
               "max_lat"]


def grid_measure(*, grid: Grid) -> Grid:
    """Fill the derived fields of a grid (area, bounding box) from its geometry."""
    shape = to_shape(grid.geometry)
    grid.area_m2 = round(area_m2(shape), 1)
    grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat = shape.bounds
    return grid


@transaction.atomic
def grid_save(
    *, code: str, name: str, region: Region, geometry: dict, parent: Grid | None = None, households: int = 0
) -> Grid:
    """Create or update the grid with `code`; raises InvalidInput naming each bad field."""
    from fengqiao.geo.validation import grid_errors

    errors = grid_errors(code=code, region=region, parent=parent, geometry=geometry)
    if errors:
        from fengqiao.core.errors import ErrorDetail

        raise InvalidInput(
            "invalid_grid", "; ".join(errors.values()),
            errors=[ErrorDetail(code="invalid", field=f, message=m) for f, m in errors.items()],
        )
    grid = Grid.objects.select_for_update().filter(code=code).first() or Grid(code=code)
    grid.name, grid.region, grid.parent, grid.geometry, grid.households = name, region, parent, geometry, households
    grid_measure(grid=grid)
    grid.save()
    return grid


def asset_locate(*, asset: Asset) -> Asset:
    """Set the asset's grid and region from its point (kept when the point is outside every grid)."""
    from fengqiao.geo.locator import get_locator

    found = get_locator().locate(asset.lon, asset.lat)
    if found.grid_code:
        asset.grid = Grid.objects.get(code=found.grid_code)
        asset.region = asset.grid.region
    elif found.region_code:
        asset.grid = None
        asset.region = Region.objects.get(code=found.region_code)
    return asset


# -- bulk writes: import and grid generation --------------------------------------------------------


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass
class ImportReport:
    format: str
    crs: str
    regions: WriteCounts = field(default_factory=WriteCounts)
    grids: WriteCounts = field(default_factory=WriteCounts)
    warnings: list[str] = field(default_factory=list)
    numbered: bool = False


def territory_import(
    *,
    data: bytes | str,
    kind: str = "auto",
    fmt: str = "auto",
    crs: str | None = None,
    code_property: str | None = None,
    name_property: str | None = None,
    parent_code: str | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import regions and/or grids from a GeoJSON or DataV document (see fengqiao.geo.importer).

    Everything is checked before anything is written; the writes are one transaction, so a
    failed import changes nothing, and importing the same file again updates in place.
    Raises InvalidInput listing each bad feature.
    """
    from fengqiao.geo.importer import plan_import

    plan = plan_import(data=data, kind=kind, fmt=fmt, crs=crs, code_property=code_property,
                       name_property=name_property, parent_code=parent_code, progress=progress)
    report = ImportReport(format=plan.format, crs=plan.crs, warnings=plan.warnings, numbered=plan.numbered)
    with transaction.atomic():
        regions = _write_regions(plan.regions, report.regions)
        _write_grids(plan.grids, regions, report.grids, progress=progress)
        if report.regions.created or report.regions.updated or report.grids.created or report.grids.updated:
            bump(LOCATOR_KEY)
    return report


def _region_lookup(codes: set[str]) -> dict[str, Region]:
    return {r.code: r for r in Region.objects.filter(code__in=codes)}


def _write_regions(rows: list[RegionRow], counts: WriteCounts) -> dict[str, Region]:
    """Create or update regions, parents first; returns every region the rows name, by code."""
    codes = {r.code for r in rows} | {r.parent_code for r in rows if r.parent_code}
    known = _region_lookup(codes)
    now = clock.now()
    by_length: dict[int, list[RegionRow]] = {}
    for row in rows:
        by_length.setdefault(len(row.code), []).append(row)
    for length in sorted(by_length):
        create: list[Region] = []
        update: list[Region] = []
        for row in by_length[length]:
            parent = known.get(row.parent_code) if row.parent_code else None
            if row.parent_code and parent is None:
                raise InvalidInput("unknown_parent", _("The parent region %(code)s disappeared during the import.")
                                   % {"code": row.parent_code})
            values = {
                "name": row.name, "level": row.level, "parent": parent, "boundary": row.boundary,
                "center_lon": row.center[0] if row.center else None,
                "center_lat": row.center[1] if row.center else None,
            }
            if row.name_en is not None:
                values["name_en"] = row.name_en[:100]
            known[row.code] = _stage(Region, known.get(row.code), row.code, values, create, update, counts, now)
        if create:
            Region.objects.bulk_create(create, batch_size=BATCH_SIZE)
            counts.created += len(create)
        if update:
            Region.objects.bulk_update(update, [*REGION_FIELDS, "updated_at"], batch_size=BATCH_SIZE)
            counts.updated += len(update)
    return known


def _stage(model, existing, code: str, values: dict, create: list, update: list, counts, now):
    """Queue a new row for creation, a changed one for update, or count it unchanged; return it."""
    if existing is None:
        row = model(code=code, **values)
        create.append(row)
        return row
    if _differs(existing, values):
        for name, value in values.items():
            setattr(existing, name, value)
        existing.updated_at = now
        update.append(existing)
    else:
        counts.unchanged += 1
    return existing


def _differs(obj: models.Model, values: dict) -> bool:
    """Whether setting `values` would change `obj` (foreign keys compared by id, without a query)."""
    for name, value in values.items():
        if isinstance(value, models.Model) or (value is None and obj._meta.get_field(name).is_relation):
            current = getattr(obj, f"{name}_id")
            if current != (value.pk if value is not None else None):
                return True
        elif getattr(obj, name) != value:
            return True
    return False


def _write_grids(rows: list[GridRow], regions: dict[str, Region], counts: WriteCounts, *, progress: bool) -> None:
    if not rows:
        return
    villages = {r.village_code for r in rows} - set(regions)
    regions.update(_region_lookup(villages))
    codes = {r.code for r in rows} | {r.parent_code for r in rows if r.parent_code}
    known = {g.code: g for g in Grid.objects.filter(code__in=codes)}
    now = clock.now()
    bar = tqdm(total=len(rows), desc=_("writing"), unit="grid", disable=not progress, file=sys.stderr, leave=False)
    for micro in (False, True):  # grids before micro-grids, which point at them
        create: list[Grid] = []
        update: list[Grid] = []
        for row in rows:
            if (row.parent_code is not None) != micro:
                continue
            village = regions.get(row.village_code)
            parent = known.get(row.parent_code) if row.parent_code else None
            if village is None or (row.parent_code and parent is None):
                raise InvalidInput("unknown_region", _("The village or parent grid of %(code)s disappeared during "
                                                       "the import.") % {"code": row.code})
            minx, miny, maxx, maxy = row.shape.bounds
            values = {
                "name": row.name, "region": village, "parent": parent, "geometry": row.geometry,
                "area_m2": row.area_m2, "min_lon": minx, "min_lat": miny, "max_lon": maxx, "max_lat": maxy,
            }
            if row.households is not None:
                values["households"] = row.households
            known[row.code] = _stage(Grid, known.get(row.code), row.code, values, create, update, counts, now)
        for start in range(0, len(create), BATCH_SIZE):
            Grid.objects.bulk_create(create[start:start + BATCH_SIZE])
            bar.update(len(create[start:start + BATCH_SIZE]))
        for start in range(0, len(update), BATCH_SIZE):
            Grid.objects.bulk_update(update[start:start + BATCH_SIZE], [*GRID_FIELDS, "updated_at"])
            bar.update(len(update[start:start + BATCH_SIZE]))
        counts.created += len(create)
        counts.updated += len(update)
    bar.close()


@dataclass
class FillReport:
    village: Region
    grids: list[Grid]
    counts: WriteCounts


def grids_fill(
    *, region_code: str, cells: int | None = None, cell_size: float | None = None, replace: bool = False
) -> FillReport:
    """Split a village's outline into grids (`cells` of similar area, or squares of `cell_size`
    metres) coded village code + 001, 002, ... in reading order (north to south, west to east).

    A village that has grids already is refused unless `replace`: then grids 001..N are updated
    in place and the village's other grids deleted (refused if something still points at them).
    """
    from fengqiao.geo import gridfill
    from fengqiao.geo.importer import MAX_GRIDS_PER_PARENT

    if (cells is None) == (cell_size is None):
        raise InvalidInput("invalid_options", _("Give either a number of cells or a cell size."))
    village = Region.objects.filter(code=region_code).first()
    if village is None:
        raise InvalidInput("unknown_region", _("Unknown region %(code)s.") % {"code": region_code}, field="region")
    if village.level != RegionLevel.VILLAGE:
        raise InvalidInput("not_a_village", _("%(name)s (%(code)s) is a %(level)s; grids are drawn inside a village "
                                              "or community.") % {"name": village.name, "code": village.code,
                                                                   "level": village.get_level_display()},
                           field="region")
    if not village.boundary:
        raise InvalidInput("no_boundary", _("%(name)s (%(code)s) has no boundary to split.")
                           % {"name": village.name, "code": village.code}, field="region")
    outline = to_shape(village.boundary)
    limit = MAX_GRIDS_PER_PARENT
    if cells is not None:
        if not 1 <= cells <= limit:
            raise InvalidInput("too_many_grids", _("A village holds 1 to %(max)d grids (3 digits of code); %(n)d "
                                                   "were asked for.") % {"max": limit, "n": cells}, field="cells")
        shapes = _fill_or_refuse(village, lambda: gridfill.split_into_cells(outline, cells))
    else:
        assert cell_size is not None
        if not cell_size > 0:
            raise InvalidInput("invalid_cell_size", _("The cell size must be a positive number of metres."),
                               field="cell_size")
        estimate = area_m2(outline) / (cell_size * cell_size)
        if estimate > 2 * limit:
            raise InvalidInput("too_many_grids", _("Cells of %(size)g m would make about %(n)d grids; a village "
                                                   "holds at most %(max)d (3 digits of code). Choose a larger "
                                                   "cell size.") % {"size": cell_size, "n": round(estimate),
                                                                    "max": limit}, field="cell_size")
        size = cell_size
        shapes = _fill_or_refuse(village, lambda: gridfill.split_into_squares(outline, size))
        if len(shapes) > limit:
            raise InvalidInput("too_many_grids", _("Cells of %(size)g m make %(n)d grids; a village holds at most "
                                                   "%(max)d (3 digits of code). Choose a larger cell size.")
                               % {"size": cell_size, "n": len(shapes), "max": limit}, field="cell_size")
    counts = WriteCounts()
    with transaction.atomic():
        existing = {g.code: g for g in Grid.objects.select_for_update().filter(region=village)}
        if existing and not replace:
            raise InvalidInput("has_grids", _("%(name)s (%(code)s) already has %(n)d grids; grid-fill is for "
                                              "territories without a grid file (use --replace to redraw them).")
                               % {"name": village.name, "code": village.code, "n": len(existing)})
        if any(g.parent_id for g in existing.values()):
            raise InvalidInput("has_micro_grids", _("%(name)s (%(code)s) has micro-grids; remove them before "
                                                    "redrawing its grids.") % {"name": village.name,
                                                                               "code": village.code})
        now = clock.now()
        create, update, grids = [], [], []
        for number, shape in enumerate(shapes, start=1):
            code = f"{village.code}{number:03d}"
            geometry = to_geojson(shape)
            values = {"name": (_("%(village)s grid %(number)03d") % {"village": village.name, "number": number})[:100],
                      "region": village, "parent": None, "geometry": geometry}
            grid = existing.pop(code, None)
            if grid is None:
                grid = Grid(code=code, **values)
                create.append(grid)
            else:
                for name, value in values.items():
                    setattr(grid, name, value)
                grid.updated_at = now
                update.append(grid)
            grid_measure(grid=grid)
            grids.append(grid)
        if existing:
            try:
                Grid.objects.filter(pk__in=[g.pk for g in existing.values()]).delete()
            except (ProtectedError, RestrictedError) as exc:
                raise InvalidInput("grids_in_use", _("Grids %(codes)s are still in use and cannot be removed.")
                                   % {"codes": ", ".join(sorted(existing))}) from exc
            counts.deleted = len(existing)
        Grid.objects.bulk_create(create, batch_size=BATCH_SIZE)
        Grid.objects.bulk_update(update, [*GRID_FIELDS, "updated_at"], batch_size=BATCH_SIZE)
        counts.created, counts.updated = len(create), len(update)
        bump(LOCATOR_KEY)
    return FillReport(village=village, grids=grids, counts=counts)


def _fill_or_refuse(village: Region, split):
    try:
        return split()
    except ValueError as exc:
        raise InvalidInput("cannot_fill", _("The outline of %(name)s (%(code)s) cannot be split: %(reason)s")
                           % {"name": village.name, "code": village.code, "reason": exc}) from exc
