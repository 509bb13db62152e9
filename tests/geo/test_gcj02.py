import math

import numpy as np
import pytest
import shapely

from fengqiao.geo.gcj02 import (
    gcj02_to_wgs84,
    geometry_gcj02_to_wgs84,
    geometry_wgs84_to_gcj02,
    wgs84_to_gcj02,
)
from fengqiao.geo.geometry import metres_per_degree

# (WGS84 lon, lat) -> (GCJ-02 lon, lat): published reference pairs of the standard transform
REFERENCE = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
    ((116.39089, 39.90734), (116.39713094, 39.90874107)),  # Beijing, rounded to 8 places
]


def metres(lon_a, lat_a, lon_b, lat_b) -> float:
    mx, my = metres_per_degree((lat_a + lat_b) / 2)
    return math.hypot((lon_a - lon_b) * mx, (lat_a - lat_b) * my)


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_forward_matches_reference_points(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert metres(float(lon), float(lat), *gcj) < 0.01


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_inverse_recovers_reference_points(wgs, gcj):
    lon, lat = gcj02_to_wgs84(*gcj)
    assert metres(float(lon), float(lat), *wgs) < 0.01


def test_round_trips_across_china_are_far_below_a_metre():
    rng = np.random.default_rng(2260)
    lon, lat = rng.uniform(75, 135, 20_000), rng.uniform(18, 53, 20_000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    offset = np.array([metres(a, b, c, d) for a, b, c, d in zip(lon[:200], lat[:200], glon[:200], glat[:200],
                                                                  strict=True)])
    assert offset.min() > 1  # the datum really moves points (by tens to hundreds of metres)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert np.abs(wlon - lon).max() < 1e-8 and np.abs(wlat - lat).max() < 1e-8  # about a millimetre
    # and the other way round
    back_lon, back_lat = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_outside_china_is_unchanged_and_nan_stays_nan():
    lon, lat = wgs84_to_gcj02([-71.06, 2.35, np.nan], [42.36, 48.85, 30.0])
    assert lon[:2].tolist() == [-71.06, 2.35] and lat[:2].tolist() == [42.36, 48.85]
    assert math.isnan(lon[2])
    wlon, wlat = gcj02_to_wgs84([-71.06, np.nan], [42.36, 1.0])
    assert wlon[0] == -71.06 and wlat[0] == 42.36 and math.isnan(wlon[1])


def test_geometries_are_converted_vertex_by_vertex():
    square = shapely.box(120.0, 29.0, 120.01, 29.01)
    there = geometry_wgs84_to_gcj02(square)
    assert not there.equals_exact(square, 1e-4)
    back = geometry_gcj02_to_wgs84(there)
    assert back.equals_exact(square, 1e-9)
