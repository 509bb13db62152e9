"""Grids as GeoJSON for the point pickers (hotline form, field report): drawn with ECharts like the
grid map page, clicked to place a point. Micro-grids are left out when their grid is drawn (they
lie inside it); the server's locator still finds the finest grid of the point."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from fengqiao.geo.models import Grid


def grid_shapes(grids: Iterable[Grid]) -> dict[str, Any] | None:
    """A FeatureCollection of the grids with a usable boundary (feature name: the grid's code;
    properties: code, name, label), or None when there is none to draw."""
    usable = [g for g in grids if isinstance(g.geometry, dict) and g.geometry.get("type") in ("Polygon", "MultiPolygon")
              and g.max_lon > g.min_lon and g.max_lat > g.min_lat]
    drawn = {g.pk for g in usable}
    features = []
    for grid in usable:
        if grid.parent_id is not None and grid.parent_id in drawn:
            continue
        features.append({
            "type": "Feature",
            "properties": {"name": grid.code, "code": grid.code, "label": grid.name,
                           "centre": [round((grid.min_lon + grid.max_lon) / 2, 6),
                                      round((grid.min_lat + grid.max_lat) / 2, 6)]},
            "geometry": grid.geometry,
        })
    if not features:
        return None
    south = min(g.min_lat for g in usable)
    north = max(g.max_lat for g in usable)
    return {"type": "FeatureCollection", "features": features,
            "aspect": round(math.cos(math.radians((south + north) / 2)), 6)}
