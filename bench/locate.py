"""Benchmark of the grid locator (point -> grid), with baselines measured in the same run.

    .venv/bin/python bench/locate.py [--points 1000000] [--grids 10000]

1. Zhuji (../shared/data/boundaries/zhejiang/330681.json, DataV, GCJ-02 -> WGS84) is filled with
   10,000 grids by fengqiao.geo.gridfill; 1,000,000 random points in the outline's bounding box
   are located through the batch path, through a naive per-point loop over all polygons (timed on
   a sample and extrapolated), and through one vectorised STRtree query (the locator's first
   version), whose answers must equal the batch path's. Single-point lookups give p50/p99.
2. The 255 Boston precincts are imported as grids under a bench region tree through the importer
   (a temporary SQLite database), and the 121,145 Boston 311 points of 2015 are located.

Targets (docs/geo.md): batch >= 1,000,000 points/s, >= 50x the naive loop, single p50 < 50 us.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def setup_django(workdir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "fengqiao.settings"
    os.environ["FENGQIAO_VAR_DIR"] = workdir
    os.environ["FENGQIAO_DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.setdefault("FENGQIAO_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def zhuji_outline():
    import shapely

    from fengqiao.geo.gcj02 import geometry_gcj02_to_wgs84
    from fengqiao.geo.importer import read_features

    feature = read_features((DATA / "boundaries/zhejiang/330681.json").read_bytes())[0]
    return geometry_gcj02_to_wgs84(shapely.geometry.shape(feature["geometry"]))


def naive_locate(ranked, boxes, x: float, y: float) -> int:
    """The baseline: try every polygon in rank order (a cheap box test first), first hit wins."""
    import shapely

    for rank, (minx, miny, maxx, maxy) in enumerate(boxes):
        if minx <= x <= maxx and miny <= y <= maxy and shapely.intersects_xy(ranked[rank], x, y):
            return rank
    return -1


def strtree_locate(tree, xs, ys, n: int) -> np.ndarray:
    """The locator's first version: one vectorised STRtree query, lowest rank per point."""
    import shapely

    points = shapely.points(xs, ys)
    point_idx, tree_idx = tree.query(points, predicate="intersects")
    result = np.full(n, -1, dtype=np.int64)
    order = np.lexsort((tree_idx, point_idx))
    point_idx, tree_idx = point_idx[order], tree_idx[order]
    first = np.ones(len(point_idx), dtype=bool)
    first[1:] = point_idx[1:] != point_idx[:-1]
    result[point_idx[first]] = tree_idx[first]
    return result


def bench_zhuji(n_grids: int, n_points: int, naive_sample: int) -> None:
    import shapely

    from fengqiao.geo.geometry import area_m2
    from fengqiao.geo.gridfill import split_into_cells
    from fengqiao.geo.locator import Locator

    outline = zhuji_outline()
    print(f"Zhuji outline: {area_m2(outline) / 1e6:,.0f} km² (WGS84 after GCJ-02 conversion)")
    cells, seconds = timed(split_into_cells, outline, n_grids)
    print(f"gridfill: {len(cells):,} grids in {seconds:.2f} s")
    # codes as in production: up to 999 grids per village, 10 villages per township
    grids = []
    for i, cell in enumerate(cells):
        v = i // 999
        village = f"330681{101 + v // 10:03d}{201 + v % 10:03d}"
        grids.append((f"{village}{i % 999 + 1:03d}", village, cell))
    locator, build = timed(Locator, grids, [("330681", outline)])
    raster = locator._grids.raster
    border = float(np.mean(raster.cells <= -2))
    memory = (raster.cells.nbytes + raster.candidates.nbytes + raster.offsets.nbytes) / 2**20
    print(f"locator build: {build:.2f} s (raster {raster.nx} x {raster.ny} cells, {100 * border:.1f}% border cells, "
          f"{memory:.0f} MiB)")

    rng = np.random.default_rng(20240601)
    minx, miny, maxx, maxy = outline.bounds
    xs, ys = rng.uniform(minx, maxx, n_points), rng.uniform(miny, maxy, n_points)

    runs = []
    for _ in range(5):
        (grid_idx, region_idx), seconds = timed(locator.locate_indices, xs, ys)
        runs.append(seconds)
    batch_rate = n_points / statistics.median(runs)
    inside = int((grid_idx >= 0).sum())
    print(f"points: {n_points:,} random in the bounding box, {inside:,} in a grid")

    ranked = [g[2] for g in sorted(grids, key=lambda g: (-len(g[0]), g[0]))]
    boxes = [g.bounds for g in ranked]
    sample = rng.choice(n_points, naive_sample, replace=False)
    start = time.perf_counter()
    naive = [naive_locate(ranked, boxes, xs[k], ys[k]) for k in sample]
    naive_rate = naive_sample / (time.perf_counter() - start)

    tree = shapely.STRtree(np.array(ranked, dtype=object))
    tree_answer, seconds = timed(strtree_locate, tree, xs, ys, n_points)
    tree_rate = n_points / seconds

    # the fast path must give exactly the answers of the plain polygon tests
    assert np.array_equal(tree_answer, grid_idx), "batch path differs from the STRtree answers"
    assert naive == grid_idx[sample].tolist(), "batch path differs from the naive loop"

    singles = []
    for k in range(20_000):
        x, y = float(xs[k]), float(ys[k])
        start = time.perf_counter_ns()
        locator.locate(x, y)
        singles.append(time.perf_counter_ns() - start)
    singles_us = np.array(singles) / 1000
    p50, p99 = np.percentile(singles_us, 50), np.percentile(singles_us, 99)
    in_grid = singles_us[grid_idx[:20_000] >= 0]
    on_border = singles_us[raster.cells[raster.cells_of(xs[:20_000], ys[:20_000])] <= -2]

    print()
    print(f"{'path':<44}{'points/s':>14}{'vs naive':>12}")
    print(f"{'batch (Locator.locate_indices), median of 5':<44}{batch_rate:>14,.0f}{batch_rate / naive_rate:>11,.0f}x")
    print(f"{'STRtree batch query (first version)':<44}{tree_rate:>14,.0f}{tree_rate / naive_rate:>11,.0f}x")
    print(f"{f'naive per-point loop ({naive_sample:,}-point sample)':<44}{naive_rate:>14,.0f}{1:>11}x")
    print(f"batch / STRtree: {batch_rate / tree_rate:.1f}x; answers identical on all {n_points:,} points")
    print(f"single-point Locator.locate: p50 {p50:.1f} µs, p99 {p99:.1f} µs (20,000 lookups); "
          f"points in a grid p50 {np.percentile(in_grid, 50):.1f} µs, "
          f"points in border cells p50 {np.percentile(on_border, 50):.1f} µs")
    print(f"targets: batch >= 1,000,000/s {'met' if batch_rate >= 1e6 else 'MISSED'}; "
          f">= 50x naive {'met' if batch_rate >= 50 * naive_rate else 'MISSED'}; "
          f"p50 < 50 µs {'met' if p50 < 50 else 'MISSED'}")


def bench_boston() -> None:
    import shapely

    from fengqiao.geo.locator import get_locator, locate_csv
    from fengqiao.geo.services import territory_import

    precincts = (DATA / "boundaries/boston/Boston_Precincts_wgs84.geojson").read_bytes()
    outline = shapely.union_all([
        shapely.make_valid(shapely.geometry.shape(f["geometry"])) for f in json.loads(precincts)["features"]
    ])
    tree = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "999901", "name": "Boston (bench)"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "999901001", "name": "Boston (bench)"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "999901001001", "name": "Boston (bench)"},
         "geometry": shapely.geometry.mapping(outline)},
    ]}
    territory_import(data=json.dumps(tree), kind="region")
    report, seconds = timed(lambda: territory_import(data=precincts, parent_code="999901001001",
                                                     name_property="WARD_PRECINCT"))
    print()
    print(f"Boston precincts: {report.grids.created} grids imported in {seconds:.2f} s, "
          f"{len(report.warnings)} warnings:")
    for warning in report.warnings:
        print(f"  {warning}")

    with gzip.open(DATA / "boston311/boston311_2015_core.csv.gz", "rt", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    lats = np.array([float(r["LATITUDE"]) for r in rows])
    lons = np.array([float(r["LONGITUDE"]) for r in rows])
    locator = get_locator()
    (grid_idx, _regions), seconds = timed(locator.locate_indices, lons, lats)
    print(f"Boston 311 (2015): {len(rows):,} points, {int((grid_idx >= 0).sum()):,} in a grid "
          f"(batch {len(rows) / seconds:,.0f} points/s)")
    with gzip.open(DATA / "boston311/boston311_2015_core.csv.gz", "rt", encoding="utf-8", newline="") as stream:
        summary, seconds = timed(lambda: locate_csv(source=stream, output=io.StringIO(), lon_column="LONGITUDE",
                                                    lat_column="LATITUDE", locator=locator))
    print(f"CSV locate (read, parse, locate, write): {summary.rows:,} rows in {seconds:.2f} s, "
          f"{summary.in_grid:,} in a grid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: the benchmark runs on the shared public data beside the project")
    print(f"CPU: {os.cpu_count()} cores; numpy {np.__version__}; "
          f"shapely {__import__('shapely').__version__} (GEOS {__import__('shapely').geos_version_string})")
    with tempfile.TemporaryDirectory(prefix="fengqiao-bench-") as workdir:
        setup_django(workdir)
        from django.utils import translation

        translation.activate("en")
        bench_zhuji(args.grids, args.points, args.naive_sample)
        bench_boston()


if __name__ == "__main__":
    main()
