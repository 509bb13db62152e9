"""Point -> grid (and region chain).

- Points on a shared border belong to the grid that sorts first: micro-grids before grids, then
  by code, so every process gives the same answer whatever order the grids were loaded in.
- A point outside every grid gets no grid and the finest enclosing region, when there is one
  (属地 fallback).
- `locate_many` / `locate_indices` are the batch path for arrays of points.
- `get_locator()` is rebuilt in every process when grids or regions change (core.versioning).

How a lookup works (exact, not approximate): each index lays a uniform raster of cells over the
bounding box of its polygons. A cell that no polygon boundary comes near lies wholly inside or
wholly outside each polygon, so its answer is computed once at build time (a scanline fill of
the cell centres) and a point in it is answered by array indexing. Points in the remaining
"border" cells are tested with prepared shapely geometries against the few polygons whose box
reaches the cell, in rank order. Which cells count as border cells is decided conservatively (every
cell within the slightly grown box of a short boundary segment), so rounding in the cell arithmetic
can only send a point to the exact path, never to a wrong answer.
"""

from __future__ import annotations

import math
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

# Raster size: about this many cells per polygon, within these bounds (int32 cells: 4 bytes each).
CELLS_PER_POLYGON = 512
MIN_CELLS = 1 << 16
MAX_CELLS = 1 << 23

_EMPTY = -1  # a cell inside no polygon
_BORDER = -2  # a cell some boundary comes near: test its candidates (slot k is stored as -2 - k)


@dataclass(frozen=True)
class Located:
    grid_code: str | None
    region_code: str | None  # the village of the grid, else the finest region enclosing the point

    @property
    def region_codes(self) -> list[str]:
        """County, township and village codes of the answer (as far as known)."""
        code = self.region_code or ""
        return [code[:n] for n in REGION_PREFIXES if len(code) >= n]


NOWHERE = Located(None, None)


def _rank_order(codes: Sequence[str]) -> list[int]:
    """Finest first (longest code: micro-grid before grid, village before township), then by code."""
    return sorted(range(len(codes)), key=lambda i: (-len(codes[i]), codes[i]))


class _Raster:
    """The uniform cell raster of an index: a precomputed answer per cell, or _BORDER."""

    def __init__(self, geoms: np.ndarray):
        n = len(geoms)
        bounds = shapely.bounds(geoms)
        self.x0, self.y0 = float(np.nanmin(bounds[:, 0])), float(np.nanmin(bounds[:, 1]))
        self.x1, self.y1 = float(np.nanmax(bounds[:, 2])), float(np.nanmax(bounds[:, 3]))
        width, height = max(self.x1 - self.x0, 1e-9), max(self.y1 - self.y0, 1e-9)
        # square cells on the ground: shrink longitude by cos(latitude)
        squash = max(math.cos(math.radians((self.y0 + self.y1) / 2)), 0.01)
        target = min(max(CELLS_PER_POLYGON * n, MIN_CELLS), MAX_CELLS)
        side = math.sqrt(width * squash * height / target)
        self.nx = max(1, min(int(math.ceil(width * squash / side)), MAX_CELLS))
        self.ny = max(1, min(int(math.ceil(height / side)), MAX_CELLS // self.nx))
        self.dx, self.dy = width / self.nx, height / self.ny
        self.inv_dx, self.inv_dy = 1.0 / self.dx, 1.0 / self.dy

        border = self._border_mask(geoms, bounds)
        self.cells = self._fill(geoms)
        self.border_count = int(border.sum())
        self._candidates(bounds, border)

    # -- build ------------------------------------------------------------------------------

    def _cell_ranges(self, bounds: np.ndarray, grow: int) -> tuple[np.ndarray, ...]:
        """Inclusive cell index ranges (ix0, iy0, ix1, iy1) of boxes, grown by `grow` cells."""
        ix0 = np.floor((bounds[:, 0] - self.x0) * self.inv_dx).astype(np.int64) - grow
        iy0 = np.floor((bounds[:, 1] - self.y0) * self.inv_dy).astype(np.int64) - grow
        ix1 = np.floor((bounds[:, 2] - self.x0) * self.inv_dx).astype(np.int64) + grow
        iy1 = np.floor((bounds[:, 3] - self.y0) * self.inv_dy).astype(np.int64) + grow
        return (np.clip(ix0, 0, self.nx - 1), np.clip(iy0, 0, self.ny - 1),
                np.clip(ix1, 0, self.nx - 1), np.clip(iy1, 0, self.ny - 1))

    def _box_cells(self, bounds: np.ndarray, grow: int) -> tuple[np.ndarray, np.ndarray]:
        """(cell, owner) pairs for every cell of each box (grown by `grow` cells)."""
        ix0, iy0, ix1, iy1 = self._cell_ranges(bounds, grow)
        rows = iy1 - iy0 + 1
        owner = np.repeat(np.arange(len(bounds)), rows)
        row = _ranges(iy0, rows)
        cols = (ix1 - ix0 + 1)[owner]
        cell_owner = np.repeat(owner, cols)
        col = _ranges(ix0[owner], cols)
        return np.repeat(row, cols) * self.nx + col, cell_owner

    def _border_mask(self, geoms: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Cells that some boundary segment may touch (conservatively: each segment's box).

        Boundaries are cut into segments shorter than 0.9 cell, so a segment's box spans at most
        2 x 2 cells; the box is grown by a margin far above floating-point error before the cells
        are taken, so a point that rounding puts into a neighbouring cell is still covered.
        """
        mask = np.zeros((self.ny, self.nx), dtype=bool)
        step = 0.9 * min(self.dx, self.dy)
        margin = max(1e-9, 1e-6 * min(self.dx, self.dy))
        lines = shapely.get_parts(shapely.segmentize(shapely.boundary(geoms), step))
        coords, line = shapely.get_coordinates(lines, return_index=True)
        if len(coords) >= 2:
            same = line[:-1] == line[1:]
            a, b = coords[:-1][same], coords[1:][same]
            lo, hi = np.minimum(a, b) - margin, np.maximum(a, b) + margin
            ix0 = np.clip(np.floor((lo[:, 0] - self.x0) * self.inv_dx).astype(np.int64), 0, self.nx - 1)
            iy0 = np.clip(np.floor((lo[:, 1] - self.y0) * self.inv_dy).astype(np.int64), 0, self.ny - 1)
            ix1 = np.clip(np.floor((hi[:, 0] - self.x0) * self.inv_dx).astype(np.int64), 0, self.nx - 1)
            iy1 = np.clip(np.floor((hi[:, 1] - self.y0) * self.inv_dy).astype(np.int64), 0, self.ny - 1)
            for iy in (iy0, iy1):
                for ix in (ix0, ix1):
                    mask[iy, ix] = True
        # an invalid polygon's interior is not well defined: send its whole box to the exact path
        invalid = np.flatnonzero(~shapely.is_valid(geoms))
        if len(invalid):
            cells, _owner = self._box_cells(bounds[invalid], grow=1)
            mask.ravel()[cells] = True
        return mask.ravel()

    def _fill(self, geoms: np.ndarray) -> np.ndarray:
        """Lowest rank of the polygons containing each cell centre (even-odd scanline fill)."""
        result = np.full(self.nx * self.ny, np.iinfo(np.int32).max, dtype=np.int32)
        parts, part_owner = shapely.get_parts(geoms, return_index=True)
        polygonal = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        parts, part_owner = parts[polygonal], part_owner[polygonal]
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
        if len(coords) < 2:
            return np.full(self.nx * self.ny, _EMPTY, dtype=np.int32)
        same_ring = ring_idx[:-1] == ring_idx[1:]
        ax, ay = coords[:-1, 0][same_ring], coords[:-1, 1][same_ring]
        bx, by = coords[1:, 0][same_ring], coords[1:, 1][same_ring]
        owner = part_owner[ring_part[ring_idx[:-1][same_ring]]]
        centres_y = self.y0 + (np.arange(self.ny) + 0.5) * self.dy
        centres_x = self.x0 + (np.arange(self.nx) + 0.5) * self.dx
        # an edge crosses row j when exactly one end is at or below the row's centre line; with
        # the same comparison for both edges at a vertex, every ring crosses a row an even number of times
        lo, hi = np.minimum(ay, by), np.maximum(ay, by)
        j0 = np.searchsorted(centres_y, lo, side="left")
        j1 = np.searchsorted(centres_y, hi, side="left")
        count = j1 - j0
        edge = np.repeat(np.arange(len(ax)), count)
        row = _ranges(j0, count)
        yc = centres_y[row]
        t = (yc - ay[edge]) / (by[edge] - ay[edge])
        xc = ax[edge] + t * (bx[edge] - ax[edge])
        rank = owner[edge]
        order = np.lexsort((xc, row, rank))
        xc, row, rank = xc[order], row[order], rank[order]
        if len(xc) % 2 or np.any(row[0::2] != row[1::2]) or np.any(rank[0::2] != rank[1::2]):
            raise AssertionError("scanline crossings do not pair up")  # cannot happen for closed rings
        i0 = np.searchsorted(centres_x, xc[0::2], side="left")
        i1 = np.searchsorted(centres_x, xc[1::2], side="left")
        span_rank, span_row, width = rank[0::2], row[0::2], np.maximum(i1 - i0, 0)
        cells = np.repeat(span_row * self.nx, width) + _ranges(i0, width)
        np.minimum.at(result, cells, np.repeat(span_rank, width).astype(np.int32))
        result[result == np.iinfo(np.int32).max] = _EMPTY
        return result

    def _candidates(self, bounds: np.ndarray, border: np.ndarray) -> None:
        """For each border cell, the polygons whose box (grown by a cell) reaches it, in rank order.

        Border cell k (in raster order) is marked in `cells` as _BORDER - k; its candidates are
        candidates[offsets[k]:offsets[k + 1]].
        """
        border_cells = np.flatnonzero(border)
        self.cells[border_cells] = _BORDER - np.arange(len(border_cells), dtype=np.int32)
        cells, owner = self._box_cells(bounds, grow=1)
        keep = border[cells]
        cells, owner = cells[keep], owner[keep]
        order = np.lexsort((owner, cells))
        cells, owner = cells[order], owner[order]
        self.offsets = np.append(np.searchsorted(cells, border_cells, side="left"), len(cells))
        self.candidates = owner.astype(np.int32)

    # -- query ------------------------------------------------------------------------------

    def cell_of(self, x: float, y: float) -> int:
        """The cell index of a point, or -1 outside the raster."""
        if not (self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1):
            return -1
        ix = min(int((x - self.x0) * self.inv_dx), self.nx - 1)
        iy = min(int((y - self.y0) * self.inv_dy), self.ny - 1)
        return iy * self.nx + ix

    def cells_of(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            inside = (xs >= self.x0) & (xs <= self.x1) & (ys >= self.y0) & (ys <= self.y1)
            ix = np.minimum(((np.where(inside, xs, self.x0) - self.x0) * self.inv_dx).astype(np.int64), self.nx - 1)
            iy = np.minimum(((np.where(inside, ys, self.y0) - self.y0) * self.inv_dy).astype(np.int64), self.ny - 1)
        return np.where(inside, iy * self.nx + ix, -1)

    def candidates_of(self, slot: int) -> list[int]:
        return self.candidates[self.offsets.item(slot):self.offsets.item(slot + 1)].tolist()


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges: start[k], start[k] + 1, ..., start[k] + count[k] - 1 for each k."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    base = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - counts), counts)
    return base + np.arange(total, dtype=np.int64)


class _Index:
    """Polygons resolved by a fixed rank (lower wins): raster for the bulk, exact tests at borders."""

    def __init__(self, codes: Sequence[str], geometries: Sequence[BaseGeometry]):
        # an empty geometry contains nothing: leave it out
        order = [i for i in _rank_order(codes) if geometries[i] is not None and not geometries[i].is_empty]
        self.codes = np.array([codes[i] for i in order], dtype=object)
        geoms = np.empty(len(order), dtype=object)
        geoms[:] = [geometries[i] for i in order]
        shapely.prepare(geoms)
        self.geoms = geoms
        self.raster = _Raster(geoms) if len(geoms) else None

    def __len__(self) -> int:
        return len(self.codes)

    def first_hit(self, x: float, y: float) -> int:
        raster = self.raster
        if raster is None:
            return -1
        cell = raster.cell_of(x, y)
        if cell < 0:
            return -1
        answer = raster.cells.item(cell)
        if answer > _BORDER:
            return answer
        geoms = self.geoms
        for rank in raster.candidates_of(_BORDER - answer):
            if shapely.intersects_xy(geoms[rank], x, y):
                return rank
        return -1

    def first_hits(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        result = np.full(len(xs), -1, dtype=np.int64)
        raster = self.raster
        if raster is None or not len(xs):
            return result
        cells = raster.cells_of(xs, ys)
        hit = cells >= 0
        result[hit] = raster.cells[cells[hit]]
        border = np.flatnonzero(result <= _BORDER)
        if len(border):
            slots = _BORDER - result[border]
            result[border] = -1
            starts, ends = raster.offsets[slots], raster.offsets[slots + 1]
            result[border] = self._test_candidates(xs[border], ys[border], starts, ends - starts)
        return result

    def _test_candidates(self, xs, ys, starts, counts) -> np.ndarray:
        """Lowest-ranked candidate containing each point, -1 if none (candidates sorted by rank)."""
        found = np.full(len(xs), -1, dtype=np.int64)
        assert self.raster is not None
        candidates = self.raster.candidates
        # round k tests the k-th candidate of the points still unanswered: most stop at the first
        todo = np.flatnonzero(counts > 0)
        k = 0
        while len(todo):
            ranks = candidates[starts[todo] + k]
            inside = shapely.intersects_xy(self.geoms[ranks], xs[todo], ys[todo])
            found[todo[inside]] = ranks[inside]
            k += 1
            todo = todo[~inside & (counts[todo] > k)]
        return found


class Locator:
    def __init__(
        self,
        grids: Sequence[tuple[str, str, BaseGeometry]],
        regions: Sequence[tuple[str, BaseGeometry]] = (),
    ):
        """`grids`: (grid code, village code, geometry); `regions`: (region code, geometry)."""
        self._grids = _Index([g[0] for g in grids], [g[2] for g in grids])
        village_of = {g[0]: g[1] for g in grids}
        self._grid_villages = np.array([village_of[c] for c in self._grids.codes], dtype=object)
        self._regions = _Index([r[0] for r in regions], [r[1] for r in regions])
        self._grid_answers = [Located(c, v) for c, v in zip(self._grids.codes, self._grid_villages, strict=True)]
        self._region_answers = [Located(None, c) for c in self._regions.codes]

    @property
    def grid_count(self) -> int:
        return len(self._grids)

    @property
    def region_count(self) -> int:
        return len(self._regions)

    def locate(self, lon: float, lat: float) -> Located:
        lon, lat = float(lon), float(lat)
        i = self._grids.first_hit(lon, lat)
        if i >= 0:
            return self._grid_answers[i]
        j = self._regions.first_hit(lon, lat)
        return self._region_answers[j] if j >= 0 else NOWHERE

    def locate_many(self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray) -> list[Located]:
        grid_idx, region_idx = self.locate_indices(lons, lats)
        grids, regions = self._grid_answers, self._region_answers
        return [
            grids[gi] if gi >= 0 else (regions[ri] if ri >= 0 else NOWHERE)
            for gi, ri in zip(grid_idx.tolist(), region_idx.tolist(), strict=True)
        ]

    def locate_indices(self, lons, lats) -> tuple[np.ndarray, np.ndarray]:
        """Batch path: grid rank per point (-1 outside) and region rank for points outside grids.

        NaN or infinite coordinates are outside everything.
        """
        xs, ys = np.asarray(lons, dtype=float).ravel(), np.asarray(lats, dtype=float).ravel()
        if xs.shape != ys.shape:
            raise ValueError("longitudes and latitudes differ in length")
        grid_idx = self._grids.first_hits(xs, ys)
        region_idx = np.full(len(xs), -1, dtype=np.int64)
        outside = np.flatnonzero(grid_idx < 0)
        if len(outside) and len(self._regions):
            region_idx[outside] = self._regions.first_hits(xs[outside], ys[outside])
        return grid_idx, region_idx

    def grid_codes(self, indices: np.ndarray) -> np.ndarray:
        """Grid code per grid rank from `locate_indices` (None where -1)."""
        indices = np.asarray(indices)
        out = np.full(len(indices), None, dtype=object)
        hit = indices >= 0
        out[hit] = self._grids.codes[indices[hit]]
        return out

    def region_code_array(self, grid_idx: np.ndarray, region_idx: np.ndarray) -> np.ndarray:
        """The answer's region code per point (the grid's village, else the enclosing region)."""
        out = np.full(len(grid_idx), None, dtype=object)
        in_grid, in_region = grid_idx >= 0, (grid_idx < 0) & (region_idx >= 0)
        out[in_grid] = self._grid_villages[grid_idx[in_grid]]
        out[in_region] = self._regions.codes[region_idx[in_region]]
        return out


def build_locator() -> Locator:
    from fengqiao.geo.models import Grid, Region

    grids = [
        (code, village, to_shape(geometry))
        for code, village, geometry in Grid.objects.values_list("code", "region__code", "geometry").iterator()
    ]
    regions = [
        (code, to_shape(boundary))
        for code, boundary in Region.objects.exclude(boundary=None).values_list("code", "boundary").iterator()
        if boundary
    ]
    return Locator(grids, regions)


_cache: VersionedCache[Locator] = VersionedCache("geo.locator", build_locator, lambda: settings.LOCATOR_CHECK_SECONDS)


def get_locator() -> Locator:
    return _cache.get()


# -- batch locate of a CSV file -------------------------------------------------------------------

OUTPUT_COLUMNS = ("grid_code", "county_code", "township_code", "village_code")
CSV_CHUNK_ROWS = 50_000


@dataclass
class LocateSummary:
    rows: int = 0
    in_grid: int = 0
    in_region_only: int = 0  # outside every grid but inside a region (属地 fallback)
    outside: int = 0
    unparsable: int = 0


def _column(header: list[str], name: str, option: str) -> int:
    if name in header:
        return header.index(name)
    folded = [h.strip().lower() for h in header]
    if folded.count(name.strip().lower()) == 1:
        return folded.index(name.strip().lower())
    from django.utils.translation import gettext as _

    from fengqiao.core.errors import InvalidInput

    raise InvalidInput(
        "unknown_column",
        _("The CSV has no column %(name)r (%(option)s); its columns are: %(columns)s.")
        % {"name": name, "option": option, "columns": ", ".join(header)},
        field=option,
    )


def _number(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def _codes_of(code: str | None) -> tuple[str, str, str]:
    code = code or ""
    return tuple(code[:n] if len(code) >= n else "" for n in REGION_PREFIXES)  # type: ignore[return-value]


def locate_csv(
    *,
    source,
    output,
    lon_column: str,
    lat_column: str,
    crs: str = "wgs84",
    chunk_rows: int = CSV_CHUNK_ROWS,
    locator: Locator | None = None,
) -> LocateSummary:
    """Copy a CSV from `source` to `output` (text streams) adding grid_code, county_code,
    township_code and village_code to each row (overwritten if the columns exist already).

    Rows are read and located in chunks through the batch path. Codes are empty where the point is
    outside (the region codes are filled by the 属地 fallback when a region encloses it) or where the
    coordinates do not parse. Raises InvalidInput for a missing column or a malformed file.
    """
    import csv

    from django.utils.translation import gettext as _

    from fengqiao.core.errors import InvalidInput
    from fengqiao.geo.gcj02 import gcj02_to_wgs84

    locator = locator or get_locator()
    grid_rows = [(g, *_codes_of(v)) for g, v in zip(locator._grids.codes, locator._grid_villages, strict=True)]
    region_rows = [("", *_codes_of(c)) for c in locator._regions.codes]
    blank = ("", "", "", "")
    reader = csv.reader(source)
    writer = csv.writer(output, lineterminator="\n")
    summary = LocateSummary()

    def fail(reason: str) -> InvalidInput:
        return InvalidInput("invalid_csv", _("CSV line %(line)d: %(reason)s") % {"line": reader.line_num,
                                                                                 "reason": reason})

    try:
        header = next(reader, None)
        if not header:
            raise InvalidInput("invalid_csv", _("The CSV is empty (no header row)."))
        lon_at = _column(header, lon_column, "lon_column")
        lat_at = _column(header, lat_column, "lat_column")
        out_at = []
        for name in OUTPUT_COLUMNS:
            if name not in header:
                header.append(name)
            out_at.append(header.index(name))
        width = len(header)
        writer.writerow(header)
        done = False
        while not done:
            chunk = []
            for row in reader:
                if len(row) > width:
                    raise fail(_("%(n)d fields where the header has %(m)d") % {"n": len(row), "m": width})
                chunk.append(row)
                if len(chunk) >= chunk_rows:
                    break
            else:
                done = True
            if not chunk:
                break
            lons = np.array([_number(r[lon_at]) if len(r) > lon_at else math.nan for r in chunk])
            lats = np.array([_number(r[lat_at]) if len(r) > lat_at else math.nan for r in chunk])
            bad = ~(np.isfinite(lons) & np.isfinite(lats))
            if crs == "gcj02":
                lons, lats = gcj02_to_wgs84(lons, lats)
            grid_idx, region_idx = locator.locate_indices(lons, lats)
            summary.rows += len(chunk)
            summary.unparsable += int(bad.sum())
            summary.in_grid += int((grid_idx >= 0).sum())
            summary.in_region_only += int(((grid_idx < 0) & (region_idx >= 0)).sum())
            summary.outside += int(((grid_idx < 0) & (region_idx < 0) & ~bad).sum())
            for row, gi, ri in zip(chunk, grid_idx.tolist(), region_idx.tolist(), strict=True):
                if len(row) < width:
                    row.extend([""] * (width - len(row)))
                values = grid_rows[gi] if gi >= 0 else (region_rows[ri] if ri >= 0 else blank)
                for at, value in zip(out_at, values, strict=True):
                    row[at] = value
            writer.writerows(chunk)
    except UnicodeDecodeError as exc:
        raise fail(_("the file is not UTF-8 text (%(reason)s)") % {"reason": exc.reason}) from exc
    except csv.Error as exc:
        raise fail(str(exc)) from exc
    return summary
