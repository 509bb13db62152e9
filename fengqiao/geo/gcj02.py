"""GCJ-02 ("Mars coordinates", the datum Chinese web maps and DataV boundary files use) <-> WGS84.

GCJ-02 is WGS84 plus a published, smooth, deterministic offset of a few hundred metres inside
mainland China (and none outside). The forward transform is the standard closed formula on the
Krasovsky ellipsoid; the inverse has no closed form and is computed by fixed-point iteration,
which converges to far below a millimetre in a few steps because the offset varies slowly.

Every function takes scalars or numpy arrays (longitude first) and is vectorised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid used by the formula
EE = 0.00669342162296594323  # its first eccentricity squared

# The formula applies inside this box (the customary "out of China" test); outside it is identity.
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

# Inverse: stop when the step is below this (degrees; 1e-10 deg is about 0.01 mm).
INVERSE_TOLERANCE = 1e-10
INVERSE_MAX_ITERATIONS = 30


def in_china(lon: Any, lat: Any) -> np.ndarray:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d lon, d lat) in degrees that GCJ-02 adds to a WGS84 point (zero outside China)."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (A / sqrtmagic * np.cos(radlat) * pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if lon.shape != lat.shape:
        raise ValueError("longitudes and latitudes differ in shape")
    return lon, lat


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _arrays(lon, lat)
    with np.errstate(invalid="ignore"):
        dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """The WGS84 point whose GCJ-02 image is (lon, lat), to INVERSE_TOLERANCE degrees.

    Fixed-point iteration w <- g - offset(w); the offset's derivative is about 1e-5, so each step
    gains about five decimal places. Points outside China are returned unchanged; NaN stays NaN.
    """
    g_lon, g_lat = _arrays(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    with np.errstate(invalid="ignore"):
        for _step in range(INVERSE_MAX_ITERATIONS):
            dlon, dlat = _offset(w_lon, w_lat)
            new_lon, new_lat = g_lon - dlon, g_lat - dlat
            delta = np.nan_to_num(np.maximum(np.abs(new_lon - w_lon), np.abs(new_lat - w_lat)))
            w_lon, w_lat = new_lon, new_lat
            if delta.size == 0 or float(delta.max()) < INVERSE_TOLERANCE:
                break
    return w_lon, w_lat


def _transform_geometry(geometry: BaseGeometry, function) -> BaseGeometry:
    def apply(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        out[:, 0], out[:, 1] = function(coords[:, 0], coords[:, 1])
        return out

    return shapely.transform(geometry, apply)


def geometry_gcj02_to_wgs84(geometry: BaseGeometry) -> BaseGeometry:
    return _transform_geometry(geometry, gcj02_to_wgs84)


def geometry_wgs84_to_gcj02(geometry: BaseGeometry) -> BaseGeometry:
    return _transform_geometry(geometry, wgs84_to_gcj02)
