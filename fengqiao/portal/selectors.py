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


def _scrub_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 2:
            text = text.replace(secret, "***")
    return text


def scrubbed_card(case: Case) -> dict[str, Any]:
    """The case loop's public card, with the case's own reporter name and address text also taken out of
    the free text (residents sometimes write them into the description)."""
    from fengqiao.cases.public import public_case_card

    card = public_case_card(case)
    card["description"] = _scrub_text(card["description"], [case.reporter_name, case.address])
    return card


def scrubbed_timeline(case: Case) -> list[Any]:
    import dataclasses

    from fengqiao.cases.public import public_timeline

    secrets = [case.reporter_name, case.address]
    return [dataclasses.replace(entry, detail=_scrub_text(entry.detail, secrets)) for entry in public_timeline(case)]
