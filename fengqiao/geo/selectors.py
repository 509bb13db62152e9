"""Reads of the territory that intake makes for every report: a grid or region by its code.

Each process keeps what it has read, and forgets it when grids or regions change (geo.signals
bumps the locator's configuration version; see core.versioning).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from fengqiao.core.versioning import VersionedCache
from fengqiao.geo.models import Grid, Region
from fengqiao.geo.signals import LOCATOR_KEY


def _remembered() -> dict[tuple[str, str], Any]:
    return {}


_known: VersionedCache[dict[tuple[str, str], Any]] = VersionedCache(LOCATOR_KEY, _remembered,
                                                                    lambda: settings.LOCATOR_CHECK_SECONDS)


def grid_by_code(code: str) -> Grid:
    """The grid with its region; Grid.DoesNotExist when there is none."""
    known = _known.get()
    grid = known.get(("grid", code))
    if grid is None:
        grid = known[("grid", code)] = Grid.objects.select_related("region").get(code=code)
    return grid


def region_by_code(code: str) -> Region:
    """The region; Region.DoesNotExist when there is none."""
    known = _known.get()
    region = known.get(("region", code))
    if region is None:
        region = known[("region", code)] = Region.objects.get(code=code)
    return region
