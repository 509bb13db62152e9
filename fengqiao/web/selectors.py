from __future__ import annotations

from django.db.models import Count

from fengqiao.geo.models import Asset, Grid, Region, RegionLevel
from fengqiao.org.models import Department


def territory_summary() -> dict[str, int]:
    """Public counts for the start page (no personal data)."""
    by_level = dict(Region.objects.values_list("level").annotate(n=Count("pk")))
    return {
        "townships": by_level.get(RegionLevel.TOWNSHIP, 0),
        "villages": by_level.get(RegionLevel.VILLAGE, 0),
        "grids": Grid.objects.count(),
        "departments": Department.objects.filter(is_active=True).count(),
        "assets": Asset.objects.count(),
    }
