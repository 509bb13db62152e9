"""The territory as a GeoJSON FeatureCollection (WGS84), which `fengqiao geo import` reads back.

Every feature carries `kind` ("region", "grid" or "micro_grid"), `code` and `name`; regions add
`level`, `parent` and `center`, grids add `region` (the village), `township`, `county`, `parent`
(the grid of a micro-grid), `households` and `area_m2`. Regions come first, parents before
children, then grids before micro-grids, each by code, so the output is stable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from fengqiao.geo.models import CODE_LENGTH, Grid, Region, RegionLevel

EXPORT_KINDS = ("grids", "regions", "all")


def territory_features(*, kind: str = "grids", region_code: str | None = None) -> Iterator[dict[str, Any]]:
    """Features of the regions and/or grids, optionally of the subtree of `region_code`."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {kind!r}")
    if kind in ("regions", "all"):
        regions = Region.objects.select_related("parent").order_by("code")
        if region_code:
            regions = regions.filter(code__startswith=region_code)
        for region in sorted(regions.iterator(), key=lambda r: (len(r.code), r.code)):
            center = [region.center_lon, region.center_lat] if region.center_lon is not None else None
            yield {
                "type": "Feature",
                "properties": {
                    "kind": "region",
                    "code": region.code,
                    "name": region.name,
                    "name_en": region.name_en or None,
                    "level": region.level,
                    "parent": region.parent.code if region.parent else None,
                    "center": center,
                },
                "geometry": region.boundary,
            }
    if kind in ("grids", "all"):
        grids = Grid.objects.select_related("region", "parent")
        if region_code:
            grids = grids.filter(code__startswith=region_code)
        for grid in sorted(grids.iterator(), key=lambda g: (len(g.code), g.code)):
            village = grid.region.code
            yield {
                "type": "Feature",
                "properties": {
                    "kind": "micro_grid" if grid.parent_id else "grid",
                    "code": grid.code,
                    "name": grid.name,
                    "region": village,
                    "township": village[: CODE_LENGTH[RegionLevel.TOWNSHIP]],
                    "county": village[: CODE_LENGTH[RegionLevel.COUNTY]],
                    "parent": grid.parent.code if grid.parent else None,
                    "households": grid.households,
                    "area_m2": grid.area_m2,
                },
                "geometry": grid.geometry,
            }


def write_feature_collection(features: Iterator[dict[str, Any]], stream: IO[str]) -> int:
    """Write a FeatureCollection one feature per line (streamed, stays small in memory); returns the count."""
    stream.write('{"type": "FeatureCollection", "features": [\n')
    count = 0
    for feature in features:
        if count:
            stream.write(",\n")
        stream.write(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
        count += 1
    stream.write("\n]}\n")
    return count
