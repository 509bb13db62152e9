"""A township modelled on Fengqiao town in Zhuji: outline, villages and grids, all generated.

Shapes are made up (a smooth outline around 120.25 E, 29.65 N split into villages and grids); names
follow the style of the area. Everything is deterministic, so running the demo again changes nothing.
"""

from __future__ import annotations

import math
import random

from shapely.geometry import Polygon

from fengqiao.geo.geometry import metres_per_degree, to_geojson
from fengqiao.geo.gridfill import split_into_cells
from fengqiao.geo.models import Region, RegionLevel

CENTRE = (120.25, 29.65)
COUNTY = ("330681", "诸暨市", "Zhuji")
TOWNSHIP = ("330681110", "枫桥镇", "Fengqiao Town")
VILLAGES = [
    ("枫溪社区", "Fengxi Community"),
    ("枫源村", "Fengyuan Village"),
    ("栎桥村", "Liqiao Village"),
    ("永宁村", "Yongning Village"),
    ("新枫村", "Xinfeng Village"),
    ("杜黄新村", "Duhuang New Village"),
    ("大竹园村", "Dazhuyuan Village"),
    ("阳春村", "Yangchun Village"),
    ("东溪村", "Dongxi Village"),
    ("视北村", "Shibei Village"),
]
GRIDS_PER_VILLAGE = (5, 8)


def township_outline(seed: int = 2026) -> Polygon:
    """A smooth irregular outline of about 9 km by 7 km around CENTRE."""
    rng = random.Random(seed)
    mx, my = metres_per_degree(CENTRE[1])
    harmonics = [(k, rng.uniform(0.03, 0.09), rng.uniform(0, 2 * math.pi)) for k in (2, 3, 5)]
    ring = []
    for i in range(96):
        angle = 2 * math.pi * i / 96
        radius = 1 + sum(a * math.sin(k * angle + p) for k, a, p in harmonics)
        ring.append((CENTRE[0] + 4500 * radius * math.cos(angle) / mx, CENTRE[1] + 3500 * radius * math.sin(angle) / my))
    return Polygon(ring)


def build_regions() -> tuple[Region, Region, list[Region]]:
    outline = township_outline()
    county, _ = Region.objects.update_or_create(
        code=COUNTY[0],
        defaults={"name": COUNTY[1], "name_en": COUNTY[2], "level": RegionLevel.COUNTY, "parent": None},
    )
    township, _ = Region.objects.update_or_create(
        code=TOWNSHIP[0],
        defaults={
            "name": TOWNSHIP[1], "name_en": TOWNSHIP[2], "level": RegionLevel.TOWNSHIP, "parent": county,
            "boundary": to_geojson(outline), "center_lon": CENTRE[0], "center_lat": CENTRE[1],
        },
    )
    villages = []
    cells = split_into_cells(outline, len(VILLAGES), seed=7)
    for i, ((name, name_en), cell) in enumerate(zip(VILLAGES, cells, strict=True), start=1):
        village, _ = Region.objects.update_or_create(
            code=f"{township.code}{200 + i:03d}",
            defaults={
                "name": name, "name_en": name_en, "level": RegionLevel.VILLAGE, "parent": township,
                "boundary": to_geojson(cell), "center_lon": cell.centroid.x, "center_lat": cell.centroid.y,
            },
        )
        villages.append(village)
    return county, township, villages
