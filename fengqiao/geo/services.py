"""Writes to the territory. Geometry is validated here and derived fields are computed here."""

from __future__ import annotations

from django.db import transaction

from fengqiao.core.errors import InvalidInput
from fengqiao.geo.geometry import area_m2, to_shape
from fengqiao.geo.models import Asset, Grid, Region


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
