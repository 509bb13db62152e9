import io
import json

import pytest
import shapely
from django.core.management import CommandError, call_command

from fengqiao.geo.gcj02 import wgs84_to_gcj02
from fengqiao.geo.geometry import area_m2, to_shape
from fengqiao.geo.models import Grid, Region, RegionLevel
from tests.factories import square

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("geo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, name: str, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


def feature(properties: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def gcj_square(lon: float, lat: float, size: float) -> dict:
    ring = square(lon, lat, size)["coordinates"][0]
    glon, glat = wgs84_to_gcj02([p[0] for p in ring], [p[1] for p in ring])
    return {"type": "Polygon", "coordinates": [[[float(x), float(y)] for x, y in zip(glon, glat, strict=True)]]}


def datav(adcode: int, name: str, geometry: dict, centre: tuple[float, float], level: str = "district") -> dict:
    """A DataV/GeoAtlas feature; `geometry` is in GCJ-02 already, `centre` is given in WGS84."""
    lon, lat = (float(v) for v in wgs84_to_gcj02(*centre))
    return feature({"adcode": adcode, "name": name, "center": [lon, lat], "centroid": [lon, lat],
                    "childrenNum": 0, "level": level, "acroutes": [100000, 330000, 330600]}, geometry)


@pytest.fixture
def county_tree(db, tmp_path):
    """County 330699 from a DataV file (GCJ-02), township 330699101 and villages 201, 202 from GeoJSON."""
    run("import", write(tmp_path, "county.json", [datav(330699, "测试县", gcj_square(121.0, 30.0, 0.2), (121.1, 30.1))]))
    regions = collection(
        feature({"code": "330699101", "name": "测试镇"}, square(121.0, 30.0, 0.1)),
        feature({"code": "330699101201", "name": "甲村"}, square(121.0, 30.0, 0.05)),
        feature({"code": "330699101202", "name": "乙村"}, square(121.05, 30.0, 0.05)),
    )
    run("import", write(tmp_path, "regions.geojson", regions), "--kind", "region")
    return tmp_path


def test_datav_county_is_converted_from_gcj02_and_keeps_wgs84(county_tree):
    county = Region.objects.get(code="330699")
    assert county.level == RegionLevel.COUNTY and county.parent is None and county.name == "测试县"
    stored = to_shape(county.boundary)
    assert stored.symmetric_difference(shapely.box(121.0, 30.0, 121.2, 30.2)).area < 1e-10
    assert county.center_lon == pytest.approx(121.1, abs=1e-6) and county.center_lat == pytest.approx(30.1, abs=1e-6)
    village = Region.objects.get(code="330699101202")
    assert village.parent.code == "330699101" and village.parent.parent == county
    assert village.level == RegionLevel.VILLAGE


def test_grids_with_codes_are_imported_and_reimport_is_idempotent(county_tree, tmp_path):
    grids = collection(
        feature({"code": "330699101201001", "name": "一网格", "households": 120}, square(121.0, 30.0, 0.025)),
        feature({"code": "330699101201002", "name": "二网格"}, square(121.025, 30.0, 0.025)),
        feature({"code": "330699101202001", "name": "三网格"}, square(121.05, 30.0, 0.05)),
    )
    path = write(tmp_path, "grids.geojson", grids)
    out, _err = run("import", path)
    assert "3 created" in out
    first = {g.code: (g.pk, g.updated_at, g.name, g.households, g.area_m2) for g in Grid.objects.all()}
    assert first["330699101201001"][2:4] == ("一网格", 120)
    assert first["330699101201001"][4] == pytest.approx(area_m2(shapely.box(121.0, 30.0, 121.025, 30.025)), rel=1e-4)
    out, _err = run("import", path)
    assert "0 created, 0 updated, 3 unchanged" in out
    assert {g.code: (g.pk, g.updated_at, g.name, g.households, g.area_m2) for g in Grid.objects.all()} == first
    # a changed name updates in place
    grids["features"][1]["properties"]["name"] = "二网格（新）"
    out, _err = run("import", write(tmp_path, "grids2.geojson", grids))
    assert "0 created, 1 updated, 2 unchanged" in out
    assert Grid.objects.get(code="330699101201002").pk == first["330699101201002"][0]


def test_grids_without_codes_are_numbered_in_file_order(county_tree, tmp_path):
    grids = collection(*(feature({"label": f"g{i}"}, square(121.0 + 0.01 * i, 30.0, 0.01)) for i in range(5)))
    path = write(tmp_path, "nocodes.geojson", grids)
    out, _err = run("import", path, "--parent", "330699101201", "--name-property", "label")
    assert "numbered in file order" in out
    assert list(Grid.objects.order_by("code").values_list("code", "name")) == [
        (f"330699101201{i + 1:03d}", f"g{i}") for i in range(5)]
    run("import", path, "--parent", "330699101201", "--name-property", "label")
    assert Grid.objects.count() == 5


def test_grids_under_a_township_go_to_the_village_that_holds_them(county_tree, tmp_path):
    grids = collection(
        feature({}, square(121.06, 30.01, 0.01)),
        feature({}, square(121.01, 30.01, 0.01)),
        feature({}, square(121.07, 30.02, 0.01)),
    )
    run("import", write(tmp_path, "town.geojson", grids), "--parent", "330699101")
    assert sorted(Grid.objects.values_list("code", flat=True)) == [
        "330699101201001", "330699101202001", "330699101202002"]


def test_a_slightly_self_intersecting_polygon_is_repaired(county_tree, tmp_path):
    # a square whose last edge overshoots its first corner and crosses the first edge: a tiny loop
    ring = [[121.0, 30.0], [121.02, 30.0], [121.02, 30.02], [121.0, 30.02], [121.00001, 29.99999], [121.0, 30.0]]
    geometry = {"type": "Polygon", "coordinates": [ring]}
    assert not to_shape(geometry).is_valid
    _out, err = run("import", write(tmp_path, "fix.geojson", collection(
        feature({"code": "330699101201001"}, geometry))))
    assert "Feature 0: repaired" in err
    grid = Grid.objects.get(code="330699101201001")
    assert to_shape(grid.geometry).is_valid


def test_a_bow_tie_is_reported_with_its_index_and_nothing_is_written(county_tree, tmp_path):
    bow_tie = {"type": "Polygon", "coordinates": [
        [[121.0, 30.0], [121.02, 30.02], [121.02, 30.0], [121.0, 30.02], [121.0, 30.0]]]}
    path = write(tmp_path, "bowtie.geojson", collection(
        feature({"code": "330699101201001"}, square(121.0, 30.0, 0.01)),
        feature({"code": "330699101201002"}, bow_tie),
    ))
    with pytest.raises(CommandError) as caught:
        run("import", path)
    message = str(caught.value)
    assert "Feature 1" in message and "Self-intersection" in message and "nothing was changed" in message
    assert not Grid.objects.exists()


def test_overlapping_grids_of_one_village_are_reported(county_tree, tmp_path):
    _out, err = run("import", write(tmp_path, "overlap.geojson", collection(
        feature({"code": "330699101201001"}, square(121.0, 30.0, 0.02)),
        feature({"code": "330699101201002"}, square(121.01, 30.0, 0.02)),
        feature({"code": "330699101201003"}, square(121.03, 30.0, 0.02)),  # touches 002 along an edge only
    )))
    assert "330699101201001 (feature 0) and 330699101201002 (feature 1) overlap" in err
    assert "201003" not in err
    assert Grid.objects.count() == 3


def test_a_grid_outside_its_village_is_an_error_and_changes_nothing(county_tree, tmp_path):
    run("import", write(tmp_path, "ok.geojson", collection(
        feature({"code": "330699101201001", "name": "甲"}, square(121.0, 30.0, 0.02)))))
    before = list(Grid.objects.values_list("code", "name", "geometry", "updated_at"))
    path = write(tmp_path, "outside.geojson", collection(
        feature({"code": "330699101201001", "name": "改名"}, square(121.0, 30.0, 0.02)),
        feature({"code": "330699101201002"}, square(121.06, 30.0, 0.02)),  # in village 202, not 201
    ))
    with pytest.raises(CommandError) as caught:
        run("import", path)
    assert "Feature 1" in str(caught.value) and "outside its village 330699101201" in str(caught.value)
    assert list(Grid.objects.values_list("code", "name", "geometry", "updated_at")) == before


def test_an_unknown_parent_is_an_error(county_tree, tmp_path):
    path = write(tmp_path, "grids.geojson", collection(feature({}, square(121.0, 30.0, 0.01))))
    with pytest.raises(CommandError, match="Unknown parent region 330699101299"):
        run("import", path, "--parent", "330699101299")
    with pytest.raises(CommandError, match="village 330699101203 of grid 330699101203001 does not exist"):
        run("import", write(tmp_path, "g.geojson", collection(
            feature({"code": "330699101203001"}, square(121.0, 30.0, 0.01)))))
    assert not Grid.objects.exists()


def test_a_region_whose_parent_is_unknown_is_an_error(county_tree, tmp_path):
    with pytest.raises(CommandError, match="parent region 330699102 of 330699102201"):
        run("import", write(tmp_path, "r.geojson", collection(
            feature({"code": "330699102201", "name": "丙村"}, square(121.1, 30.1, 0.01)))), "--kind", "region")
    assert not Region.objects.filter(code__startswith="330699102").exists()


def test_micro_grids_lie_in_their_grid(county_tree, tmp_path):
    run("import", write(tmp_path, "g.geojson", collection(
        feature({"code": "330699101201001"}, square(121.0, 30.0, 0.02)),
        feature({"code": "330699101201001001"}, square(121.0, 30.0, 0.005)),
    )))
    micro = Grid.objects.get(code="330699101201001001")
    assert micro.parent.code == "330699101201001" and micro.region.code == "330699101201"
    with pytest.raises(CommandError, match="outside its grid 330699101201001"):
        run("import", write(tmp_path, "m.geojson", collection(
            feature({"code": "330699101201001002"}, square(121.03, 30.0, 0.005)))))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"type": "FeatureCollection", "features": [', "not valid JSON"),
        ('{"type": "Topology"}', "not a GeoJSON FeatureCollection"),
        (json.dumps(collection(feature({"code": "330699101201001"}, {"type": "Point", "coordinates": [121, 30]}))),
         "Feature 0: the geometry is a Point"),
        (json.dumps(collection(feature({"code": "330699101201001"}, square(770000, 2950000, 100)))),
         "Feature 0: the coordinates are not longitude/latitude"),
        (json.dumps({**collection(), "crs": {"type": "name", "properties": {"name": "EPSG:2249"}}}), "EPSG:2249"),
        (json.dumps(collection(feature({"code": "330699101201001"}, square(121.0, 30.0, 0.01)),
                               feature({"code": "12"}, square(121.01, 30.0, 0.01)))), "Feature 1: no usable grid code"),
        (json.dumps(collection(feature({"name": "a"}, square(121.0, 30.0, 0.01)))), "give --parent"),
    ],
)
def test_broken_files_get_a_clear_error(county_tree, tmp_path, content, expected):
    path = tmp_path / "broken.geojson"
    path.write_text(content)
    with pytest.raises(CommandError) as caught:
        run("import", str(path))
    assert expected in str(caught.value)
    assert not Grid.objects.exists()


def test_export_then_import_round_trip(territory, tmp_path):
    first = tmp_path / "territory.geojson"
    run("export", "--kind", "all", "--output", str(first))
    document = json.loads(first.read_text(encoding="utf-8"))
    kinds = [f["properties"]["kind"] for f in document["features"]]
    assert kinds.count("region") == Region.objects.count() and kinds.count("grid") == 8
    grid = next(f for f in document["features"] if f["properties"]["code"] == "330681102202001")
    assert grid["properties"]["region"] == "330681102202" and grid["properties"]["county"] == "330681"
    # importing the export keeps every code and shape (it may round coordinates to 7 decimals) ...
    before = {g.code: (g.name, to_shape(g.geometry), g.region_id) for g in Grid.objects.all()}
    out, _err = run("import", str(first))
    assert "0 created" in out
    after = {g.code: (g.name, to_shape(g.geometry), g.region_id) for g in Grid.objects.all()}
    assert before.keys() == after.keys()
    for code, (name, shape, region) in before.items():
        assert after[code][0] == name and after[code][2] == region
        assert after[code][1].symmetric_difference(shape).area < 1e-12
    # ... after which export and import are exact inverses
    second = tmp_path / "again.geojson"
    run("export", "--kind", "all", "--output", str(second))
    out, _err = run("import", str(second))
    assert "regions: 0 created, 0 updated" in out and "grids: 0 created, 0 updated, 8 unchanged" in out
    # and it restores grids that were removed
    stored = {g.code: (g.name, g.geometry, g.region_id, g.households) for g in Grid.objects.all()}
    Grid.objects.all().delete()
    out, _err = run("import", str(second))
    assert "grids: 8 created" in out
    assert {g.code: (g.name, g.geometry, g.region_id, g.households) for g in Grid.objects.all()} == stored


def test_export_to_standard_output_of_one_subtree(territory):
    out, _err = run("export", "--region", "330681102201")
    document = json.loads(out)
    assert [f["properties"]["code"] for f in document["features"]] == ["330681102201001", "330681102201002"]
    assert document["features"][0]["geometry"]["type"] == "Polygon"


def test_local_numbers_and_micro_grids_numbered_under_a_grid(county_tree, tmp_path):
    run("import", write(tmp_path, "g.geojson", collection(
        feature({"no": 7}, square(121.0, 30.0, 0.02)),
        feature({"no": "12"}, square(121.02, 30.0, 0.02)),
    )), "--parent", "330699101201", "--code-property", "no")
    assert sorted(Grid.objects.values_list("code", flat=True)) == ["330699101201007", "330699101201012"]
    run("import", write(tmp_path, "m.geojson", collection(
        feature({}, square(121.0, 30.0, 0.01)),
        feature({}, square(121.01, 30.01, 0.01)),
    )), "--parent", "330699101201007")
    micro = Grid.objects.filter(parent__code="330699101201007").order_by("code")
    assert [g.code for g in micro] == ["330699101201007001", "330699101201007002"]
    with pytest.raises(CommandError, match="Unknown parent grid 330699101201099"):
        run("import", write(tmp_path, "m2.geojson", collection(feature({}, square(121.0, 30.0, 0.01)))),
            "--parent", "330699101201099")
