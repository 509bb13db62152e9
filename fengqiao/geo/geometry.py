"""GeoJSON <-> shapely, areas in square metres, and small helpers shared by the geo app."""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8


def to_shape(geojson: dict[str, Any]) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry (or Feature) dict; raises ValueError."""
    if not isinstance(geojson, dict):
        raise ValueError("geometry is not a GeoJSON object")
    if geojson.get("type") == "Feature":
        geojson = geojson.get("geometry") or {}
    try:
        return shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed input
        raise ValueError(f"not a valid GeoJSON geometry: {exc}") from exc


def to_geojson(geometry: BaseGeometry, precision: int = 7) -> dict[str, Any]:
    rounded = shapely.set_precision(geometry, 10**-precision) if precision else geometry
    return dict(mapping(rounded))


def area_m2(geometry: BaseGeometry) -> float:
    """Area on a local equal-area (cylindrical) projection centred on the geometry."""
    if geometry.is_empty:
        return 0.0
    lat0 = geometry.centroid.y
    k = math.pi / 180 * EARTH_RADIUS_M

    def project(coords):
        x = coords[:, 0] * k * math.cos(math.radians(lat0))
        y = coords[:, 1] * k
        coords = coords.copy()
        coords[:, 0], coords[:, 1] = x, y
        return coords

    return float(shapely.transform(geometry, project).area)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, metres per degree of latitude) at latitude `lat`."""
    k = math.pi / 180 * EARTH_RADIUS_M
    return k * math.cos(math.radians(lat)), k
