import json

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPoint

from fengqiao.core.versioning import VersionedCache, _caches
from fengqiao.geo.geometry import to_shape
from fengqiao.geo.locator import Located, Locator, build_locator, get_locator
from fengqiao.geo.models import Grid, Region, RegionLevel
from fengqiao.geo.services import territory_import
from tests.factories import GridFactory, RegionFactory, square

pytestmark = pytest.mark.django_db


def test_interior_points_find_their_grid_and_region_chain(territory):
    locator = get_locator()
    for grid in territory.grids:
        found = locator.locate(*territory.grid_centre(grid))
        assert found == Located(grid.code, grid.region.code)
        assert found.region_codes == [grid.code[:6], grid.code[:9], grid.code[:12]]


def test_shared_borders_go_to_the_grid_that_sorts_first(territory):
    locator = get_locator()
    # the line between the south (001) and north (002) grids of the first village
    assert locator.locate(120.005, 29.01).grid_code == "330681101201001"
    # the line between two villages, and the corner where four grids meet
    assert locator.locate(120.02, 29.005).grid_code == "330681101201001"
    assert locator.locate(120.02, 29.01).grid_code == "330681101201001"
    # a vertex on the outer edge belongs to the grid it bounds
    assert locator.locate(120.08, 29.02).grid_code == "330681102202002"


def _voronoi_grids(n: int, seed: int) -> list[tuple[str, str, shapely.Geometry]]:
    rng = np.random.default_rng(seed)
    outline = shapely.box(120.0, 29.0, 120.1, 29.08)
    seeds = rng.uniform((120.0, 29.0), (120.1, 29.08), size=(n, 2))
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=outline, ordered=True)
    grids = [(f"330681101201{i + 1:03d}", "330681101201", c.intersection(outline)) for i, c in
             enumerate(cells.geoms)]
    # a micro-grid straddling two grids and a grid overlapping its neighbours
    grids.append(("330681101201001001", "330681101201", shapely.Point(*seeds[0]).buffer(0.004)))
    grids.append(("330681101202001", "330681101202", shapely.box(120.04, 29.03, 120.06, 29.05)))
    return grids


def _border_points(grids) -> tuple[np.ndarray, np.ndarray]:
    shapes = np.array([g[2] for g in grids], dtype=object)
    coords = shapely.get_coordinates(shapely.segmentize(shapely.boundary(shapes), 0.0005))
    return coords[:, 0], coords[:, 1]


def test_answers_do_not_depend_on_the_order_of_the_grids():
    grids = _voronoi_grids(60, seed=1)
    xs, ys = _border_points(grids)
    rng = np.random.default_rng(7)
    answers = None
    for _attempt in range(4):
        shuffled = [grids[i] for i in rng.permutation(len(grids))]
        locator = Locator(shuffled, [("330681101", shapely.box(119.99, 28.99, 120.11, 29.09))])
        got = [(a.grid_code, a.region_code) for a in locator.locate_many(xs, ys)]
        answers = answers or got
        assert got == answers
    # every border point is in some grid, and the answer is the lowest-ranked grid holding it
    ranked = sorted(grids, key=lambda g: (-len(g[0]), g[0]))
    for x, y, (code, _region) in list(zip(xs, ys, answers, strict=True))[::7]:
        expected = next(c for c, _v, s in ranked if shapely.intersects_xy(s, x, y))
        assert code == expected


def test_micro_grids_win_over_their_grid(territory):
    grid = territory.grids[0]  # 330681101201001: lon 120.00-120.02, lat 29.00-29.01
    micro = GridFactory(region=grid.region, parent=grid, code=f"{grid.code}001", geometry=square(120.004, 29.002, 0.002))
    locator = get_locator()
    assert locator.locate(120.005, 29.003).grid_code == micro.code
    assert locator.locate(120.004, 29.003).grid_code == micro.code  # on the micro-grid's edge
    assert locator.locate(120.015, 29.003).grid_code == grid.code


def test_outside_every_grid_the_enclosing_region_answers(territory):
    locator = get_locator()
    # inside township 330681101's box but north of its villages' grids
    found = locator.locate(120.01, 29.03)
    assert found == Located(None, "330681101")
    assert found.region_codes == ["330681", "330681101"]
    assert locator.locate(120.3, 29.3) == Located(None, "330681")
    assert locator.locate(121.0, 30.0) == Located(None, None)
    assert locator.locate(float("nan"), 29.0) == Located(None, None)


def test_get_locator_is_rebuilt_when_a_grid_is_added(territory):
    before = get_locator()
    assert before.locate(120.01, 29.03).grid_code is None
    village = RegionFactory(code="330681101203", name="村新", level=RegionLevel.VILLAGE,
                            parent=territory.townships[0], boundary=square(120.0, 29.02, 0.02))
    GridFactory(region=village, code="330681101203001", geometry=square(120.0, 29.02, 0.02))
    after = get_locator()
    assert after is not before
    assert after.locate(120.01, 29.03) == Located("330681101203001", "330681101203")


def test_other_processes_rebuild_after_a_bulk_import(territory, django_capture_on_commit_callbacks):
    # a cache that this process cannot invalidate directly, like another process's
    other = VersionedCache("geo.locator.elsewhere", build_locator, lambda: 0)
    _caches.pop("geo.locator.elsewhere")
    other.key = "geo.locator"
    assert other.get().locate(120.01, 29.03).grid_code is None
    features = [
        {"type": "Feature", "properties": {"kind": "region", "code": "330681101203", "name": "村新"},
         "geometry": square(120.0, 29.02, 0.02)},
        {"type": "Feature", "properties": {"kind": "grid", "code": "330681101203001"},
         "geometry": square(120.0, 29.02, 0.02)},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        territory_import(data=json.dumps({"type": "FeatureCollection", "features": features}))
    assert other.get().locate(120.01, 29.03) == Located("330681101203001", "330681101203")


def test_batch_path_equals_single_path_on_random_points(territory):
    locator = get_locator()
    rng = np.random.default_rng(42)
    xs = np.concatenate([rng.uniform(119.95, 120.45, 5000), np.round(rng.uniform(120.0, 120.08, 2000), 2)])
    ys = np.concatenate([rng.uniform(28.95, 29.45, 5000), np.round(rng.uniform(29.0, 29.04, 2000), 2)])
    batch = locator.locate_many(xs, ys)
    single = [locator.locate(x, y) for x, y in zip(xs, ys, strict=True)]
    assert batch == single
    assert {a.grid_code is not None for a in batch} == {True, False}


def test_batch_and_single_agree_with_a_plain_polygon_test_on_many_grids():
    grids = _voronoi_grids(400, seed=3)
    locator = Locator(grids, [])
    rng = np.random.default_rng(11)
    xs, ys = rng.uniform(119.99, 120.11, 20_000), rng.uniform(28.99, 29.09, 20_000)
    bx, by = _border_points(grids)
    xs, ys = np.concatenate([xs, bx]), np.concatenate([ys, by])
    ranked = sorted(grids, key=lambda g: (-len(g[0]), g[0]))
    shapes = np.array([g[2] for g in ranked], dtype=object)
    codes = locator.grid_codes(locator.locate_indices(xs, ys)[0])
    for k in range(0, len(xs), 13):
        hits = np.flatnonzero(shapely.intersects_xy(shapes, xs[k], ys[k]))
        expected = ranked[hits[0]][0] if len(hits) else None
        assert codes[k] == expected
        assert locator.locate(xs[k], ys[k]).grid_code == expected


def test_build_locator_reads_every_grid_and_region(territory):
    locator = build_locator()
    assert locator.grid_count == Grid.objects.count() == 8
    assert locator.region_count == Region.objects.exclude(boundary=None).count()
    shapes = [to_shape(g.geometry) for g in territory.grids]
    assert all(s.is_valid for s in shapes)
