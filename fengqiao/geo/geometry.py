"""GeoJSON <-> shapely, areas in square metres, and small helpers shared by the geo app."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import shapely
from django.utils.translation import gettext as _
from shapely.geometry import shape
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


def round_geometry(geometry: BaseGeometry, precision: int = 7) -> BaseGeometry:
    """Coordinates rounded to `precision` decimals (7: about 1 cm) and polygon rings oriented as
    RFC 7946 asks (exterior counter-clockwise). Vertex order is otherwise kept, so the same shape
    always gives the same result; if rounding would make a valid polygon invalid, GEOS snaps it to
    the precision grid instead."""
    if precision:
        rounded = shapely.transform(geometry, lambda c: np.round(c, precision))
        if geometry.is_valid and not rounded.is_valid:
            rounded = shapely.set_precision(geometry, 10**-precision)
        geometry = rounded
    if geometry.geom_type in ("Polygon", "MultiPolygon", "GeometryCollection"):
        geometry = shapely.orient_polygons(geometry)
    return geometry


def to_geojson(geometry: BaseGeometry, precision: int = 7) -> dict[str, Any]:
    """A GeoJSON dict of plain lists (as a JSON field gives it back), rounded (see round_geometry)."""
    return geojson_dict(round_geometry(geometry, precision))


def geojson_dict(geometry: BaseGeometry) -> dict[str, Any]:
    """The geometry as a GeoJSON dict, coordinates as they are."""
    return json.loads(shapely.to_geojson(geometry))


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


def polygonal(geometry: BaseGeometry | None) -> BaseGeometry | None:
    """The polygonal part of a geometry (a clip or a repair can leave lines and points beside the
    polygons) as a Polygon or MultiPolygon, or None when nothing polygonal is left."""
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    polygons = [
        p
        for part in shapely.get_parts(geometry)
        for p in (part.geoms if part.geom_type == "MultiPolygon" else [part])
        if p.geom_type == "Polygon" and not p.is_empty
    ]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def is_lonlat(geometry: BaseGeometry) -> bool:
    """Whether every coordinate is a finite longitude/latitude in degrees."""
    coords = shapely.get_coordinates(geometry)
    if not len(coords):
        return True
    lon, lat = coords[:, 0], coords[:, 1]
    return bool(
        np.isfinite(coords).all() and (np.abs(lon) <= 180).all() and (np.abs(lat) <= 90).all()
    )


def repair_polygon(geometry: BaseGeometry, tolerance: float) -> tuple[BaseGeometry, str | None]:
    """A valid (Multi)Polygon for `geometry`, and the reason it was repaired (None if it was valid).

    Repair is shapely's make_valid keeping the polygonal parts, accepted only when the area changes
    by less than `tolerance` (a share); otherwise ValueError says why, since guessing the intended
    shape of, say, a bow-tie would be wrong.
    """
    if geometry.is_valid:
        return geometry, None
    from shapely.validation import explain_validity

    reason = explain_validity(geometry)
    fixed = polygonal(shapely.make_valid(geometry))
    if fixed is None:
        raise ValueError(_("invalid polygon (%(reason)s) with nothing polygonal left after repair") % {"reason": reason})
    before, after = abs(geometry.area), fixed.area
    change = abs(after - before) / max(before, after) if max(before, after) > 0 else 1.0
    if change >= tolerance:
        raise ValueError(
            _("invalid polygon (%(reason)s); repairing it would change its area by %(change).1f%%")
            % {"reason": reason, "change": 100 * change}
        )
    return fixed, reason


def outside_share(geometry: BaseGeometry, outline: BaseGeometry) -> float:
    """Share of `geometry`'s area that lies outside `outline` (0 when it is covered)."""
    if geometry.is_empty or geometry.area == 0:
        return 0.0
    if shapely.covers(outline, geometry):
        return 0.0
    return float(geometry.difference(outline).area / geometry.area)
