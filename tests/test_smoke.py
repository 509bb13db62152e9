import pytest

from fengqiao.geo.locator import get_locator


@pytest.mark.django_db
def test_locator_sees_grids_of_the_territory(territory):
    locator = get_locator()
    grid = territory.grids[3]
    found = locator.locate(*territory.grid_centre(grid))
    assert found.grid_code == grid.code
    assert found.region_codes == ["330681", grid.code[:9], grid.code[:12]]
