"""Reads of the resident portal (public data only, or the signed-in resident's own requests)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import get_language

from fengqiao.cases.models import Case
from fengqiao.geo.models import Grid, Region, RegionLevel


def my_requests(*, actor: Any, limit: int = 100) -> QuerySet[Case]:
    """The requests a signed-in resident reported (nothing for anybody else)."""
    from fengqiao.cases.public import cases_of_resident

    return cases_of_resident(user=actor)[:limit]


def villages() -> list[Region]:
    return list(Region.objects.filter(level=RegionLevel.VILLAGE).order_by("code").only("code", "name", "name_en"))


def region_label(region: Region) -> str:
    english = (get_language() or "zh-hans").startswith("en")
    return region.name_en if english and region.name_en else region.name


def grids_geojson(*, area_code: str = "") -> dict[str, Any]:
    """The grids (public territory) below `area_code` as a GeoJSON FeatureCollection."""
    grids = Grid.objects.filter(parent__isnull=True)
    if area_code:
        grids = grids.filter(code__startswith=area_code[:15])
    features = [{"type": "Feature", "properties": {"name": code, "label": name, "village": region_code},
                 "geometry": geometry}
                for code, name, region_code, geometry in grids.order_by("code").values_list(
                    "code", "name", "region__code", "geometry")[:2000]]
    return {"type": "FeatureCollection", "features": features}


def scrubbed_card(case: Case) -> dict[str, Any]:
    """The case loop's public card (its free text without numbers, the reporter's name or address)."""
    from fengqiao.cases.public import public_case_card

    return public_case_card(case)


def scrubbed_timeline(case: Case) -> list[Any]:
    from fengqiao.cases.public import public_timeline

    return public_timeline(case)
