import csv
import gzip
import io

import pytest
from django.core.management import CommandError, call_command

from fengqiao.geo.gcj02 import wgs84_to_gcj02
from fengqiao.geo.locator import get_locator, locate_csv

pytestmark = pytest.mark.django_db

ROWS = [
    ("inside", "120.005", "29.005"),  # grid 330681101201001
    ("border", "120.02", "29.01"),  # four grids meet: the first by code
    ("township", "120.01", "29.03"),  # outside the grids, in township 330681101
    ("county", "120.3", "29.3"),  # only the county
    ("nowhere", "121.5", "30.5"),
    ("text", "east", "29.0"),
    ("empty", "", ""),
]


def read(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def write_csv(path, rows, header=("id", "lon", "lat")) -> str:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_each_row_gets_its_grid_and_region_codes(territory, tmp_path):
    source = write_csv(tmp_path / "points.csv", [*ROWS, ("short", "120.005")])
    out = io.StringIO()
    call_command("geo", "locate", source, "--lon-column", "lon", "--lat-column", "lat",
                 "--output", str(tmp_path / "out.csv"), stdout=out)
    rows = {r["id"]: r for r in read(tmp_path / "out.csv")}
    assert list(rows["inside"].keys()) == ["id", "lon", "lat", "grid_code", "county_code", "township_code",
                                           "village_code"]
    assert rows["inside"]["grid_code"] == "330681101201001"
    assert (rows["inside"]["county_code"], rows["inside"]["township_code"], rows["inside"]["village_code"]) == (
        "330681", "330681101", "330681101201")
    assert rows["border"]["grid_code"] == "330681101201001"
    assert (rows["township"]["grid_code"], rows["township"]["township_code"], rows["township"]["village_code"]) == (
        "", "330681101", "")
    assert (rows["county"]["grid_code"], rows["county"]["county_code"], rows["county"]["township_code"]) == (
        "", "330681", "")
    for name in ("nowhere", "text", "empty", "short"):
        assert [rows[name][c] for c in ("grid_code", "county_code", "township_code", "village_code")] == [""] * 4
    assert rows["text"]["lon"] == "east"  # the input is written back as it was
    assert "8 rows: 2 in a grid, 2 outside the grids but in a region, 1 outside, 3 without" in out.getvalue()


def test_small_chunks_give_the_same_answers_as_one_chunk(territory):
    text = "id,lon,lat\n" + "".join(f"{i},{120 + (i % 97) / 1000},{29 + (i % 89) / 2000}\n" for i in range(1000))
    outputs = []
    for chunk_rows in (7, 100_000):
        output = io.StringIO()
        summary = locate_csv(source=io.StringIO(text), output=output, lon_column="lon", lat_column="lat",
                             chunk_rows=chunk_rows)
        outputs.append(output.getvalue())
        assert summary.rows == 1000
    assert outputs[0] == outputs[1]
    rows = list(csv.DictReader(io.StringIO(outputs[0])))
    locator = get_locator()
    for row in rows[::37]:
        assert row["grid_code"] == (locator.locate(float(row["lon"]), float(row["lat"])).grid_code or "")


def test_gcj02_input_and_gzip_and_standard_output(territory, tmp_path):
    lon, lat = (float(v) for v in wgs84_to_gcj02(120.0005, 29.0005))
    path = tmp_path / "points.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as stream:
        stream.write(f"name,x,y\nA,{lon},{lat}\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("geo", "locate", str(path), "--lon-column", "x", "--lat-column", "y", "--crs", "gcj02",
                 stdout=out, stderr=err)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["grid_code"] == "330681101201001"
    assert "1 rows: 1 in a grid" in err.getvalue()
    # read as WGS84, the same numbers are some 500 m away, outside that grid
    out = io.StringIO()
    call_command("geo", "locate", str(path), "--lon-column", "x", "--lat-column", "y", stdout=out, stderr=err)
    assert list(csv.DictReader(io.StringIO(out.getvalue())))[0]["grid_code"] != "330681101201001"


def test_an_unknown_column_is_an_error_and_writes_nothing(territory, tmp_path):
    source = write_csv(tmp_path / "points.csv", ROWS)
    target = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="no column 'longitude'.*id, lon, lat"):
        call_command("geo", "locate", source, "--lon-column", "longitude", "--lat-column", "lat",
                     "--output", str(target))
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv"]


def test_a_malformed_row_names_its_line_and_leaves_no_output(territory, tmp_path):
    source = write_csv(tmp_path / "points.csv", [*ROWS[:3], ("x", "1", "2", "extra", "fields", "too", "many", "x")])
    target = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="CSV line 5: 8 fields where the header has 7"):
        call_command("geo", "locate", source, "--lon-column", "lon", "--lat-column", "lat",
                     "--output", str(target))
    assert not target.exists()


def test_columns_are_matched_without_regard_to_case_and_outputs_are_overwritten(territory):
    text = "ID,LON,LAT,grid_code\n1,120.005,29.005,old\n"
    output = io.StringIO()
    locate_csv(source=io.StringIO(text), output=output, lon_column="lon", lat_column="lat")
    header, row = list(csv.reader(io.StringIO(output.getvalue())))
    assert header == ["ID", "LON", "LAT", "grid_code", "county_code", "township_code", "village_code"]
    assert row[3] == "330681101201001"
