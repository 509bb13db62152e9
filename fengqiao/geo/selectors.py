"""Reads of the territory that intake makes for every report: a grid or region by its code.

Each process keeps what it has read, and forgets it when grids or regions change (geo.signals
bumps the locator's configuration version; see core.versioning).
"""

from __future__ import annotations

from fengqiao.core.versioning import Remembered
from fengqiao.geo.models import Grid, Region
from fengqiao.geo.signals import LOCATOR_KEY

_grids: Remembered[str, Grid] = Remembered(LOCATOR_KEY)
_regions: Remembered[str, Region] = Remembered(LOCATOR_KEY)


def grid_by_code(code: str) -> Grid:
    """The grid with its region; Grid.DoesNotExist when there is none (and nothing is kept)."""
    return _grids.get(code, lambda: Grid.objects.select_related("region").get(code=code))


def region_by_code(code: str) -> Region:
    """The region; Region.DoesNotExist when there is none (and nothing is kept)."""
    return _regions.get(code, lambda: Region.objects.get(code=code))
