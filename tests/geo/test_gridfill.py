import io

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command

from fengqiao.geo.geometry import area_m2, to_shape
from fengqiao.geo.gridfill import split_into_cells, split_into_squares
from fengqiao.geo.locator import get_locator
from fengqiao.geo.models import Grid, RegionLevel
from tests.factories import RegionFactory

# an irregular village of about 2.6 km x 2.2 km with a notch and a hole (a lake), north of the
# territory fixture's grids
OUTLINE = shapely.Polygon(
    [(120.1, 29.1), (120.127, 29.1), (120.127, 29.112), (120.118, 29.112), (120.118, 29.12), (120.1, 29.12)],
    holes=[[(120.104, 29.104), (120.106, 29.104), (120.106, 29.106), (120.104, 29.106)]],
)


def assert_partition(cells, outline=OUTLINE):
    """The cells are valid polygons that cover the outline without overlapping."""
    assert all(c.is_valid and c.geom_type in ("Polygon", "MultiPolygon") for c in cells)
    union = shapely.union_all(cells)
    assert area_m2(union) == pytest.approx(area_m2(outline), rel=1e-6)
    assert union.symmetric_difference(outline).area < 1e-9 * outline.area
    assert sum(area_m2(c) for c in cells) == pytest.approx(area_m2(outline), rel=1e-6)  # no overlaps


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_cells_are_exactly_n_of_similar_area(n):
    cells = split_into_cells(OUTLINE, n)
    assert len(cells) == n
    assert_partition(cells)
    areas = np.array([area_m2(c) for c in cells])
    assert areas.max() / areas.min() < 2.5


def test_cells_are_deterministic_and_in_reading_order():
    first, again = split_into_cells(OUTLINE, 12), split_into_cells(OUTLINE, 12)
    assert [c.wkb for c in first] == [c.wkb for c in again]
    tops = [c.representative_point().y for c in first]
    assert tops[0] > tops[-1]  # north first


def test_squares_have_the_asked_size_and_slivers_are_merged():
    size = 200
    cells = split_into_squares(OUTLINE, size)
    assert_partition(cells)
    areas = np.array([area_m2(c) for c in cells])
    assert areas.min() >= size * size * 0.25  # slivers were merged into their neighbours
    assert np.median(areas) == pytest.approx(size * size, rel=0.01)  # most cells are whole squares
    assert area_m2(OUTLINE) / (1.5 * size**2) < len(cells) < area_m2(OUTLINE) / (0.5 * size**2)


def test_an_invalid_outline_is_refused():
    bow_tie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(ValueError, match="not a valid polygon"):
        split_into_cells(bow_tie, 3)
    with pytest.raises(ValueError, match="at least 1"):
        split_into_cells(OUTLINE, 0)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("geo", "grid-fill", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def village(territory):
    return RegionFactory(code="330681101203", name="新村", level=RegionLevel.VILLAGE,
                         parent=territory.townships[0], boundary=shapely.geometry.mapping(OUTLINE))


@pytest.mark.django_db
def test_grid_fill_with_cells_writes_coded_grids_the_locator_sees(village):
    out = run(village.code, "--cells", "6")
    assert "6 grids" in out and "330681101203001 to 330681101203006" in out
    grids = list(Grid.objects.filter(region=village).order_by("code"))
    assert [g.code for g in grids] == [f"330681101203{i:03d}" for i in range(1, 7)]
    shapes = [to_shape(g.geometry) for g in grids]
    assert_partition(shapes)
    assert sum(g.area_m2 for g in grids) == pytest.approx(area_m2(OUTLINE), rel=1e-4)
    point = shapes[3].representative_point()
    assert get_locator().locate(point.x, point.y).grid_code == grids[3].code


@pytest.mark.django_db
def test_grid_fill_with_a_cell_size(village):
    run(village.code, "--cell-size", "400")
    grids = Grid.objects.filter(region=village)
    # border cells are partial, so there are somewhat more cells than area / cell area
    assert area_m2(OUTLINE) / 400**2 <= grids.count() < 2 * area_m2(OUTLINE) / 400**2
    assert all(0.25 * 400**2 <= g.area_m2 <= 2 * 400**2 for g in grids)
    assert_partition([to_shape(g.geometry) for g in grids])
    assert all(g.code.startswith(village.code) and len(g.code) == 15 for g in grids)


@pytest.mark.django_db
def test_grid_fill_refuses_a_village_with_grids_unless_replacing(village):
    run(village.code, "--cells", "5")
    with pytest.raises(CommandError, match="already has 5 grids"):
        run(village.code, "--cells", "3")
    pks = dict(Grid.objects.filter(region=village).values_list("code", "pk"))
    out = run(village.code, "--cells", "3", "--replace")
    assert "3 created" not in out and "2 removed" in out
    assert dict(Grid.objects.filter(region=village).values_list("code", "pk")) == {
        code: pk for code, pk in pks.items() if code <= "330681101203003"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cells", "1000"], "at most 999|1 to 999"),
        (["--cell-size", "20"], "about .* grids; a village holds at most 999"),
    ],
)
def test_grid_fill_refuses_more_than_999_grids(village, args, message):
    with pytest.raises(CommandError, match=message):
        run(village.code, *args)
    assert not Grid.objects.filter(region=village).exists()


@pytest.mark.django_db
def test_grid_fill_needs_a_village_with_a_boundary(territory):
    with pytest.raises(CommandError, match="is a township"):
        run("330681101", "--cells", "3")
    with pytest.raises(CommandError, match="Unknown region 330681101299"):
        run("330681101299", "--cells", "3")
    RegionFactory(code="330681101204", name="无界村", level=RegionLevel.VILLAGE, parent=territory.townships[0])
    with pytest.raises(CommandError, match="has no boundary"):
        run("330681101204", "--cells", "3")
