"""A grid or region by its code: kept per process, forgotten when the territory changes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fengqiao.geo.models import Grid, Region
from fengqiao.geo.selectors import grid_by_code, region_by_code


def _reads(table: str, call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return sum(table in q["sql"] for q in queries.captured_queries)


def test_a_grid_is_read_once_and_again_after_a_change(territory):
    grid = territory.grids[0]
    found = grid_by_code(grid.code)
    assert found == grid and found.region == grid.region
    assert _reads("geo_grid", lambda: grid_by_code(grid.code)) == 0
    grid.name = "东岳村第一网格（新）"
    grid.save()  # geo.signals: every process forgets what it kept
    assert grid_by_code(grid.code).name == "东岳村第一网格（新）"
    with pytest.raises(Grid.DoesNotExist):
        grid_by_code("999999999999999")


def test_a_region_is_read_once(territory):
    region = territory.grids[0].region
    assert region_by_code(region.code) == region
    assert _reads("geo_region", lambda: region_by_code(region.code)) == 0
    with pytest.raises(Region.DoesNotExist):
        region_by_code("999999")
