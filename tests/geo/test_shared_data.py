"""Import and locate on real public boundaries (../shared/data; skipped when absent, failing in CI)."""

import csv
import gzip
import io

import numpy as np
import pytest
from django.core.management import call_command

from fengqiao.geo.geometry import area_m2, metres_per_degree, to_shape
from fengqiao.geo.locator import get_locator
from fengqiao.geo.models import Grid, Region, RegionLevel

pytestmark = pytest.mark.django_db


def test_zhuji_datav_outline_imports_as_a_county_of_about_2314_km2(shared_data):
    out = io.StringIO()
    call_command("geo", "import", str(shared_data / "boundaries/zhejiang/330681.json"), stdout=out)
    assert "Read as datav in gcj02" in out.getvalue()
    county = Region.objects.get(code="330681")
    assert county.level == RegionLevel.COUNTY and county.name == "诸暨市"
    area_km2 = area_m2(to_shape(county.boundary)) / 1e6
    assert area_km2 == pytest.approx(2314, rel=0.05)
    # the seat (DataV "center" 120.244326, 29.713662 in GCJ-02) moves some 500 m north-west in WGS84
    mx, my = metres_per_degree(29.71)
    dx, dy = (county.center_lon - 120.244326) * mx, (county.center_lat - 29.713662) * my
    assert dx < 0 and dy > 0 and 300 < (dx * dx + dy * dy) ** 0.5 < 700


def test_boston_precincts_as_grids_hold_nearly_every_311_point(shared_data, tmp_path):
    import json

    import shapely

    precincts = shared_data / "boundaries/boston/Boston_Precincts_wgs84.geojson"
    outline = shapely.union_all([shapely.geometry.shape(f["geometry"]).buffer(0)
                                 for f in json.loads(precincts.read_text())["features"]])
    tree = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "999901", "name": "Boston"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "999901001", "name": "Boston"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "999901001001", "name": "Boston"},
         "geometry": shapely.geometry.mapping(outline)},
    ]}
    (tmp_path / "tree.geojson").write_text(json.dumps(tree))
    call_command("geo", "import", str(tmp_path / "tree.geojson"), "--kind", "region", stdout=io.StringIO())
    err = io.StringIO()
    call_command("geo", "import", str(precincts), "--parent", "999901001001", "--name-property", "WARD_PRECINCT",
                 stdout=io.StringIO(), stderr=err)
    assert Grid.objects.count() == 255
    assert "repaired an invalid polygon" in err.getvalue()  # two precincts have self-touching rings

    with gzip.open(shared_data / "boston311/boston311_2015_core.csv.gz", "rt", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    lats = np.array([float(r["LATITUDE"]) for r in rows])
    lons = np.array([float(r["LONGITUDE"]) for r in rows])
    grid_idx, _region_idx = get_locator().locate_indices(lons, lats)
    assert len(rows) == 121_145
    assert 121_100 <= int((grid_idx >= 0).sum()) <= 121_145
