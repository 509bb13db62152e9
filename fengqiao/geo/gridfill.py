"""Split a territory's outline into grid cells, for territories that have no grid file.

Pure functions on shapely geometries in longitude/latitude degrees; the work is done on a local
equirectangular projection in metres so that "similar area" and "square" hold on the ground.

- `split_into_cells(outline, n)`: exactly n cells of similar area: seed points, a few Lloyd
  iterations (each seed moves to the centroid of its Voronoi cell clipped to the outline), then
  the clipped Voronoi cells.
- `split_into_squares(outline, size_m)`: square cells of `size_m` metres clipped to the outline;
  slivers on the outline (under SLIVER_SHARE of a full cell) are merged into the neighbour they
  share most border with.

Both return the cells in reading order (north to south, then west to east), so numbering them
gives stable, human-friendly codes, and both are deterministic for the same input.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from fengqiao.geo.geometry import metres_per_degree, polygonal

LLOYD_ITERATIONS = 10
SLIVER_SHARE = 0.25
MAX_SQUARES = 200_000  # refuse absurd cell sizes before building the lattice


class _Projection:
    """Local equirectangular projection around a geometry's centre (metres <-> degrees)."""

    def __init__(self, geometry: BaseGeometry):
        minx, miny, maxx, maxy = geometry.bounds
        self.lon0, self.lat0 = (minx + maxx) / 2, (miny + maxy) / 2
        self.mx, self.my = metres_per_degree(self.lat0)

    def forward(self, geometry):
        return shapely.transform(
            geometry, lambda c: np.column_stack([(c[:, 0] - self.lon0) * self.mx, (c[:, 1] - self.lat0) * self.my])
        )

    def back(self, geometry):
        return shapely.transform(
            geometry, lambda c: np.column_stack([c[:, 0] / self.mx + self.lon0, c[:, 1] / self.my + self.lat0])
        )


def _check_outline(outline: BaseGeometry) -> BaseGeometry:
    if outline is None or outline.is_empty or outline.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError("the outline is not a polygon")
    if not outline.is_valid:
        raise ValueError("the outline is not a valid polygon")
    return outline


def _clip(cells: np.ndarray, outline: BaseGeometry) -> np.ndarray:
    """Each cell intersected with the (prepared) outline; cells inside it are kept as they are."""
    shapely.prepare(outline)
    inside = shapely.contains(outline, cells)
    out = cells.copy()
    cut = np.flatnonzero(~inside)
    if len(cut):
        out[cut] = shapely.intersection(cells[cut], outline)
    return out


def _reading_order(cells: list[BaseGeometry], band: float) -> list[BaseGeometry]:
    """North to south in bands of height `band`, west to east inside a band."""
    points = shapely.point_on_surface(np.array(cells, dtype=object))
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    top = max(ys) if len(cells) else 0.0
    order = sorted(range(len(cells)), key=lambda i: (math.floor((top - ys[i]) / band), xs[i], -ys[i]))
    return [cells[i] for i in order]


def _hex_lattice(shape: BaseGeometry, spacing: float) -> np.ndarray:
    """Points of a hexagonal lattice with `spacing` that fall inside `shape` (prepared)."""
    minx, miny, maxx, maxy = shape.bounds
    row_step = spacing * math.sqrt(3) / 2
    ys = np.arange(miny + row_step / 2, maxy, row_step)
    xs = np.arange(minx + spacing / 4, maxx, spacing)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid_x = grid_x + (np.arange(len(ys)) % 2 * spacing / 2)[:, None]
    px, py = grid_x.ravel(), grid_y.ravel()
    inside = shapely.contains_xy(shape, px, py)
    return np.column_stack([px[inside], py[inside]])


def _initial_seeds(shape: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct points inside `shape`: a hexagonal lattice of about n points (so Lloyd starts
    near its fixed point), trimmed or topped up with random points to exactly n."""
    spacing = math.sqrt(shape.area / n * 2 / math.sqrt(3))
    points = np.zeros((0, 2))
    for _attempt in range(8):
        points = _hex_lattice(shape, spacing)
        if len(points) and abs(len(points) - n) <= max(1, n // 50):
            break
        spacing *= math.sqrt(max(len(points), 1) / n)
    if len(points) > n:
        points = points[np.sort(rng.choice(len(points), n, replace=False))]
    minx, miny, maxx, maxy = shape.bounds
    while len(points) < n:
        batch = rng.uniform((minx, miny), (maxx, maxy), size=(max(4 * (n - len(points)), 100), 2))
        batch = batch[shapely.contains_xy(shape, batch[:, 0], batch[:, 1])]
        points = np.vstack([points, batch[: n - len(points)]])
    return points


def split_into_cells(
    outline: BaseGeometry, n: int, *, iterations: int = LLOYD_ITERATIONS, seed: int = 0
) -> list[Polygon | MultiPolygon]:
    """Exactly `n` cells covering `outline` (similar areas), in reading order."""
    _check_outline(outline)
    if n < 1:
        raise ValueError("the number of cells must be at least 1")
    if n == 1:
        return [outline]  # type: ignore[list-item]
    projection = _Projection(outline)
    shape = projection.forward(outline)
    shapely.prepare(shape)
    minx, miny, maxx, maxy = shape.bounds
    seeds = _initial_seeds(shape, n, np.random.default_rng(seed))
    frame = shapely.box(minx, miny, maxx, maxy).buffer(max(maxx - minx, maxy - miny))
    cells = np.empty(0, dtype=object)
    for step in range(iterations + 1):
        diagram = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=frame, ordered=True)
        cells = _clip(np.asarray(shapely.get_parts(diagram)), shape)
        if step == iterations:
            break
        centroids = shapely.get_coordinates(shapely.centroid(cells))
        # a concave cell's centroid can fall outside the outline: use a point inside the cell then
        outside = ~shapely.contains_xy(shape, centroids[:, 0], centroids[:, 1])
        if outside.any():
            centroids[outside] = shapely.get_coordinates(shapely.point_on_surface(cells[outside]))
        seeds = centroids
    result = [polygonal(c) for c in cells]
    if any(c is None for c in result) or len(result) != n:
        raise ValueError(f"the outline could not be split into {n} cells")
    band = math.sqrt(shape.area / n)
    ordered = _reading_order(result, band)  # type: ignore[arg-type]
    return [projection.back(c) for c in ordered]


def square_count(outline: BaseGeometry, size_m: float) -> int:
    """Squares of the lattice that would be laid over the outline's box (an upper bound of cells)."""
    _check_outline(outline)
    if not size_m > 0:
        raise ValueError("the cell size must be positive")
    projection = _Projection(outline)
    minx, miny, maxx, maxy = projection.forward(outline).bounds
    return max(1, math.ceil((maxx - minx) / size_m)) * max(1, math.ceil((maxy - miny) / size_m))


def split_into_squares(outline: BaseGeometry, size_m: float) -> list[Polygon | MultiPolygon]:
    """Squares of `size_m` metres clipped to `outline`, slivers merged, in reading order."""
    if square_count(outline, size_m) > MAX_SQUARES:
        raise ValueError("the cell size is too small for this outline")
    projection = _Projection(outline)
    shape = projection.forward(outline)
    minx, miny, maxx, maxy = shape.bounds
    cols, rows = max(1, math.ceil((maxx - minx) / size_m)), max(1, math.ceil((maxy - miny) / size_m))
    # centre the lattice on the outline's box
    x0 = (minx + maxx) / 2 - cols * size_m / 2
    y1 = (miny + maxy) / 2 + rows * size_m / 2
    lattice_col, lattice_row = np.meshgrid(np.arange(cols), np.arange(rows))
    col, row = lattice_col.ravel(), lattice_row.ravel()
    squares = shapely.box(x0 + col * size_m, y1 - (row + 1) * size_m, x0 + (col + 1) * size_m, y1 - row * size_m)
    shapely.prepare(shape)
    touching = shapely.intersects(shape, squares)
    clipped = _clip(squares[touching], shape)
    pieces = [
        part
        for cell in clipped
        for part in shapely.get_parts(cell)
        if part.geom_type == "Polygon" and part.area > 0
    ]
    cells = _merge_slivers(pieces, SLIVER_SHARE * size_m * size_m)
    ordered = _reading_order(cells, size_m)
    return [projection.back(c) for c in ordered]


def _merge_slivers(pieces: list[BaseGeometry], threshold: float) -> list[BaseGeometry]:
    """Merge each piece smaller than `threshold` into the neighbour it shares most border with,
    smallest first, until every piece is big enough or has no neighbour left (an island)."""
    if len(pieces) < 2:
        return pieces
    geoms = np.array(pieces, dtype=object)
    tree = shapely.STRtree(geoms)
    owner = list(range(len(pieces)))  # union-find over pieces
    members = {i: [i] for i in range(len(pieces))}
    current = dict(enumerate(pieces))

    def find(i: int) -> int:
        while owner[i] != i:
            owner[i] = owner[owner[i]]
            i = owner[i]
        return i

    changed = True
    while changed:
        changed = False
        small = sorted((k for k, g in current.items() if g.area < threshold), key=lambda k: (current[k].area, k))
        for k in small:
            if k not in current or current[k].area >= threshold:
                continue
            neighbours = {find(int(j)) for m in members[k] for j in tree.query(geoms[m], predicate="intersects")}
            neighbours.discard(k)
            best, best_length = -1, 0.0
            for j in sorted(neighbours):
                length = shapely.length(shapely.intersection(current[k].boundary, current[j].boundary))
                if length > best_length:
                    best, best_length = j, length
            if best < 0:
                continue  # touches nothing along a line: a cell of its own
            current[best] = polygonal(shapely.union_all([current[best], current[k]])) or current[best]
            members[best].extend(members.pop(k))
            owner[k] = best
            del current[k]
            changed = True
    return [current[k] for k in sorted(current)]
