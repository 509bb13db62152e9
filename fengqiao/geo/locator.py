"""Point -> grid (and region chain), with shapely 2's STRtree.

- Points on a shared border belong to the grid that sorts first: micro-grids before grids, then
  by code, so every process gives the same answer.
- A point outside every grid gets no grid and the finest enclosing region, when there is one
  (属地 fallback).
- `locate_many` is the batch path: one vectorised tree query for arrays of points.
- `get_locator()` is rebuilt in every process when grids or regions change (core.versioning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from shapely.geometry.base import BaseGeometry

from fengqiao.core.versioning import VersionedCache
from fengqiao.geo.geometry import to_shape
from fengqiao.geo.models import CODE_LENGTH, RegionLevel

REGION_PREFIXES = (CODE_LENGTH[RegionLevel.COUNTY], CODE_LENGTH[RegionLevel.TOWNSHIP], CODE_LENGTH[RegionLevel.VILLAGE])


@dataclass(frozen=True)
class Located:
    grid_code: str | None
    region_code: str | None  # the village of the grid, else the finest region enclosing the point

    @property
    def region_codes(self) -> list[str]:
        """County, township and village codes of the answer (as far as known)."""
        code = self.region_code or ""
        return [code[:n] for n in REGION_PREFIXES if len(code) >= n]


class _Index:
    """An STRtree over polygons whose hits are resolved by a fixed rank (lower wins)."""

    def __init__(self, codes: Sequence[str], geometries: Sequence[BaseGeometry], finest_first: bool):
        order = sorted(range(len(codes)), key=lambda i: ((-len(codes[i]) if finest_first else 0), codes[i]))
        self.codes = np.array([codes[i] for i in order], dtype=object)
        geoms = np.array([geometries[i] for i in order], dtype=object)
        shapely.prepare(geoms)
        self.geoms = geoms
        self.tree = shapely.STRtree(geoms)
        # tree index == rank, because geometries were inserted in rank order

    def __len__(self) -> int:
        return len(self.codes)

    def first_hit(self, point: BaseGeometry) -> int:
        hits = self.tree.query(point, predicate="intersects")
        return int(hits.min()) if len(hits) else -1

    def first_hits(self, points: np.ndarray) -> np.ndarray:
        result = np.full(len(points), -1, dtype=np.int64)
        if not len(self) or not len(points):
            return result
        point_idx, tree_idx = self.tree.query(points, predicate="intersects")
        if len(point_idx):
            # keep, for each point, the hit with the lowest rank
            order = np.lexsort((tree_idx, point_idx))
            point_idx, tree_idx = point_idx[order], tree_idx[order]
            first = np.ones(len(point_idx), dtype=bool)
            first[1:] = point_idx[1:] != point_idx[:-1]
            result[point_idx[first]] = tree_idx[first]
        return result


class Locator:
    def __init__(
        self,
        grids: Sequence[tuple[str, str, BaseGeometry]],
        regions: Sequence[tuple[str, BaseGeometry]] = (),
    ):
        """`grids`: (grid code, village code, geometry); `regions`: (region code, geometry)."""
        self._grids = _Index([g[0] for g in grids], [g[2] for g in grids], finest_first=True)
        village_of = {g[0]: g[1] for g in grids}
        self._grid_villages = np.array([village_of[c] for c in self._grids.codes], dtype=object)
        self._regions = _Index([r[0] for r in regions], [r[1] for r in regions], finest_first=True)

    @property
    def grid_count(self) -> int:
        return len(self._grids)

    def locate(self, lon: float, lat: float) -> Located:
        point = shapely.Point(lon, lat)
        i = self._grids.first_hit(point)
        if i >= 0:
            return Located(self._grids.codes[i], self._grid_villages[i])
        j = self._regions.first_hit(point) if len(self._regions) else -1
        return Located(None, self._regions.codes[j] if j >= 0 else None)

    def locate_many(self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray) -> list[Located]:
        grid_idx, region_idx = self.locate_indices(lons, lats)
        out = []
        for gi, ri in zip(grid_idx.tolist(), region_idx.tolist(), strict=True):
            if gi >= 0:
                out.append(Located(self._grids.codes[gi], self._grid_villages[gi]))
            else:
                out.append(Located(None, self._regions.codes[ri] if ri >= 0 else None))
        return out

    def locate_indices(self, lons, lats) -> tuple[np.ndarray, np.ndarray]:
        """Batch path: grid rank per point (-1 outside) and region rank for points outside grids."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        grid_idx = self._grids.first_hits(points)
        region_idx = np.full(len(points), -1, dtype=np.int64)
        outside = np.flatnonzero(grid_idx < 0)
        if len(outside) and len(self._regions):
            region_idx[outside] = self._regions.first_hits(points[outside])
        return grid_idx, region_idx

    def grid_codes(self, indices: np.ndarray) -> np.ndarray:
        return np.where(indices >= 0, self._grids.codes[np.maximum(indices, 0)] if len(self._grids) else None, None)


def build_locator() -> Locator:
    from fengqiao.geo.models import Grid, Region

    grids = [
        (code, village, to_shape(geometry))
        for code, village, geometry in Grid.objects.values_list("code", "region__code", "geometry").iterator()
    ]
    regions = [
        (code, to_shape(boundary))
        for code, boundary in Region.objects.exclude(boundary=None).values_list("code", "boundary").iterator()
    ]
    return Locator(grids, regions)


_cache: VersionedCache[Locator] = VersionedCache("geo.locator", build_locator, lambda: settings.LOCATOR_CHECK_SECONDS)


def get_locator() -> Locator:
    return _cache.get()
