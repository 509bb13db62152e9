"""`fengqiao demo`: build (or bring up to date) the demo township. Idempotent."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import shapely
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from fengqiao.cases.models import Case
from fengqiao.core.versioning import bump
from fengqiao.demo.history import build_history
from fengqiao.demo.organisation import DemoLogin, build_departments, build_staff
from fengqiao.demo.territory import GRIDS_PER_VILLAGE, build_regions
from fengqiao.geo.geometry import to_geojson, to_shape
from fengqiao.geo.gridfill import split_into_cells
from fengqiao.geo.models import Asset, AssetType, Grid, Region
from fengqiao.geo.services import grid_save
from fengqiao.org.models import Department

ASSETS_PER_GRID = [
    (AssetType.MANHOLE_COVER, "MH", 2, "zj-utilities"),
    (AssetType.HYDRANT, "HY", 1, "fq-emergency"),
    (AssetType.STREETLIGHT, "SL", 2, "fq-enforcement"),
]


@dataclass
class DemoPart:
    """What an app's demo builder added: counts for the summary and sign-ins for the list."""

    counts: dict[str, int]
    logins: list[DemoLogin]


@dataclass
class DemoResult:
    password: str | None  # None when the accounts already existed
    logins: list[DemoLogin]
    counts: dict[str, int]


def demo_password() -> tuple[str, bool]:
    """The demo accounts' password: FENGQIAO_DEMO_PASSWORD, or one generated once and kept in var/."""
    import os

    configured = os.environ.get("FENGQIAO_DEMO_PASSWORD")
    if configured:
        return configured, False
    path = settings.VAR_DIR / "demo-password"
    if path.exists():
        return path.read_text().strip(), False
    password = f"fq-{secrets.token_urlsafe(9)}"
    path.write_text(password)
    path.chmod(0o600)
    return password, True


def build_grids(villages: list[Region]) -> dict[str, list[Grid]]:
    rng = random.Random(42)
    grids: dict[str, list[Grid]] = {}
    for village in villages:
        outline = to_shape(village.boundary)
        cells = split_into_cells(outline, rng.randint(*GRIDS_PER_VILLAGE), seed=int(village.code[-3:]))
        grids[village.code] = [
            grid_save(code=f"{village.code}{i:03d}", name=f"{village.name}第{i}网格", region=village,
                      geometry=to_geojson(cell), households=rng.randrange(150, 400))
            for i, cell in enumerate(cells, start=1)
        ]
    return grids


def _point_in(geometry, rng: random.Random) -> tuple[float, float]:
    minx, miny, maxx, maxy = geometry.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if geometry.contains(shapely.Point(lon, lat)):
            return round(lon, 6), round(lat, 6)


def build_assets(villages: list[Region], grids: dict[str, list[Grid]], departments: dict[str, Department]) -> None:
    rng = random.Random(5)
    for village in villages:
        centre = to_shape(village.boundary).representative_point()
        board_grid = next((g for g in grids[village.code] if to_shape(g.geometry).covers(centre)), None)
        Asset.objects.update_or_create(
            code=f"NB-{village.code}",
            defaults={"type": AssetType.NOTICEBOARD, "name": f"{village.name}村务公开栏", "lon": round(centre.x, 6),
                      "lat": round(centre.y, 6), "grid": board_grid, "region": village,
                      "department": departments[f"vc-{village.code}"]},
        )
        for grid in grids[village.code]:
            shape = to_shape(grid.geometry)
            for asset_type, prefix, count, department in ASSETS_PER_GRID:
                for n in range(1, count + 1):
                    lon, lat = _point_in(shape, rng)
                    Asset.objects.update_or_create(
                        code=f"{prefix}-{grid.code}-{n:02d}",
                        defaults={"type": asset_type, "lon": lon, "lat": lat, "grid": grid, "region": village,
                                  "department": departments[department]},
                    )


@transaction.atomic
def build_demo() -> DemoResult:
    from fengqiao.cases.catalogue import catalogue_load_defaults

    password, fresh = demo_password()
    county, township, villages = build_regions()
    grids = build_grids(villages)
    departments = build_departments(county, township, villages)
    build_assets(villages, grids, departments)
    catalogue_load_defaults()
    logins = build_staff(password, county, township, villages, grids, departments)
    bump("geo.locator")
    build_history(township=township)
    parts = [import_string(config.demo)(township=township, villages=villages, password=password)
             for config in apps.get_app_configs() if getattr(config, "demo", None)]
    logins += [login for part in parts for login in part.logins]
    counts = {
        "villages": len(villages),
        "grids": sum(len(g) for g in grids.values()),
        "departments": len(departments),
        "assets": Asset.objects.filter(region__code__startswith=township.code).count(),
        "staff": len(logins),
        "cases": Case.objects.filter(area_code__startswith=township.code).count(),
    }
    for part in parts:
        counts.update(part.counts)
    return DemoResult(password=password if fresh else None, logins=logins, counts=counts)
