"""Reading GeoJSON and DataV/GeoAtlas boundary files into a checked import plan.

Nothing is written here: `plan_import` reads the file and the database, checks every feature and
either returns an `ImportPlan` (what to create or update, plus warnings) or raises InvalidInput
listing every bad feature by its index in the file (counted from 0, as in the `features` array)
and the reason. `fengqiao.geo.services.territory_import` writes a plan in one transaction.

Rules (docs/geo.md has the long form):

- Format: DataV when every feature has an `adcode` property, else plain GeoJSON. A FeatureCollection,
  a bare list of Features (as DataV's per-county files are), one Feature or one geometry is read.
- CRS: DataV files default to GCJ-02, GeoJSON to WGS84 (RFC 7946); GCJ-02 is converted to WGS84,
  which is what the database keeps. A GeoJSON `crs` member naming anything but WGS84 is refused.
- Kind: DataV features are regions, GeoJSON features grids, unless `--kind` says otherwise or a
  feature carries a `kind` property (as our own export writes).
- Regions: code from `adcode` (DataV) or `code`, 6/9/12 digits -> county/township/village; the
  parent is the code less its last 3 digits, found in the file or the database.
- Grids: a 15-digit code (village code + 3) or an 18-digit micro-grid code (grid code + 3). When no
  feature has a usable code, features are numbered in file order under `--parent`, so importing
  the same file again gives the same codes and updates in place.
- Geometry: invalid polygons are repaired with make_valid when that changes the area by less than
  REPAIR_TOLERANCE, else reported. A grid outside its village (or a micro-grid outside its grid) is
  an error; grids overlapping inside one village are reported as warnings.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from django.utils.translation import gettext as _
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from fengqiao.core.errors import ErrorDetail, InvalidInput
from fengqiao.geo.gcj02 import gcj02_to_wgs84, geometry_gcj02_to_wgs84
from fengqiao.geo.geometry import (
    area_m2,
    geojson_dict,
    is_lonlat,
    outside_share,
    repair_polygon,
    round_geometry,
    to_shape,
)
from fengqiao.geo.models import (
    CODE_LENGTH,
    GRID_CODE_LENGTH,
    MICRO_GRID_CODE_LENGTH,
    Grid,
    Region,
    RegionLevel,
)
from fengqiao.geo.validation import OUTSIDE_TOLERANCE, OVERLAP_TOLERANCE, REPAIR_TOLERANCE

KINDS = ("auto", "region", "grid")
FORMATS = ("auto", "geojson", "datav")
CRSES = ("wgs84", "gcj02")
MAX_GRIDS_PER_PARENT = 999
MAX_LISTED_ERRORS = 100
PRECISION = 7  # decimal places kept (about 1 cm)

LEVEL_OF_LENGTH = {length: level for level, length in CODE_LENGTH.items()}
WGS84_CRS_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:epsg::4326",
    "epsg:4326",
    "crs84",
    "wgs84",
}
DATAV_LEVELS_ABOVE_COUNTY = {"country", "province", "city"}


@dataclass
class RegionRow:
    index: int
    code: str
    name: str
    name_en: str | None
    level: str
    parent_code: str | None
    boundary: dict[str, Any] | None
    shape: BaseGeometry | None
    center: tuple[float, float] | None


@dataclass
class GridRow:
    index: int
    code: str
    name: str
    village_code: str
    parent_code: str | None  # the parent grid of a micro-grid
    geometry: dict[str, Any]
    shape: BaseGeometry
    area_m2: float
    households: int | None  # None: keep what the database has


@dataclass
class ImportPlan:
    format: str
    crs: str
    regions: list[RegionRow] = field(default_factory=list)
    grids: list[GridRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    numbered: bool = False  # grid codes were given in file order


@dataclass
class _Feature:
    index: int
    kind: str
    properties: dict[str, Any]
    shape: BaseGeometry | None = None  # WGS84, valid, rounded
    geometry: dict[str, Any] | None = None  # the same as GeoJSON


class _Errors:
    def __init__(self) -> None:
        self.items: list[ErrorDetail] = []

    def feature(self, index: int, message: str, code: str = "invalid_feature") -> None:
        self.items.append(
            ErrorDetail(
                code=code,
                field=f"features[{index}]",
                message=_("Feature %(index)d: %(reason)s") % {"index": index, "reason": message},
            )
        )

    def general(self, message: str, code: str = "invalid_file", field_name: str | None = None) -> None:
        self.items.append(ErrorDetail(code=code, field=field_name, message=message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = self.items
        if len(items) > MAX_LISTED_ERRORS:
            more = len(items) - MAX_LISTED_ERRORS
            items = [*items[:MAX_LISTED_ERRORS],
                     ErrorDetail(code="more_errors", message=_("... and %(n)d more errors.") % {"n": more})]
        summary = _("The import was refused (%(n)d problems); nothing was changed.") % {"n": len(self.items)}
        raise InvalidInput(items[0].code, summary, errors=items)


def _fail(message: str, code: str = "invalid_file", field_name: str | None = None) -> InvalidInput:
    return InvalidInput(code, message, field=field_name)


# -- reading -------------------------------------------------------------------------------------


def read_features(data: bytes | str) -> list[Any]:
    """The list of raw features of a GeoJSON/DataV document; InvalidInput if it is not one."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _fail(_("The file is not UTF-8 text (byte %(pos)d).") % {"pos": exc.start}) from exc
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise _fail(
            _("The file is not valid JSON: %(reason)s at line %(line)d, column %(column)d.")
            % {"reason": exc.msg, "line": exc.lineno, "column": exc.colno}
        ) from exc
    if isinstance(document, list):
        return document  # DataV's per-area files: a bare list of Features
    if not isinstance(document, dict):
        raise _fail(_("The file is not a GeoJSON object."))
    kind = document.get("type")
    if kind == "FeatureCollection":
        _check_crs(document.get("crs"))
        features = document.get("features")
        if not isinstance(features, list):
            raise _fail(_("The FeatureCollection has no list of features."))
        return features
    if kind == "Feature":
        _check_crs(document.get("crs"))
        return [document]
    if kind in ("Polygon", "MultiPolygon"):
        return [{"type": "Feature", "properties": {}, "geometry": document}]
    raise _fail(_("The file is not a GeoJSON FeatureCollection, Feature or polygon (type %(type)r).") % {"type": kind})


def _check_crs(crs: Any) -> None:
    if not crs:
        return
    name = ""
    if isinstance(crs, dict):
        name = str((crs.get("properties") or {}).get("name", ""))
    if name.strip().lower() not in WGS84_CRS_NAMES:
        raise _fail(
            _("The file declares the coordinate system %(crs)r; only WGS84 longitude/latitude is read "
              "(reproject it first).") % {"crs": name or crs}
        )


def detect_format(features: list[Any]) -> str:
    props = [f.get("properties") if isinstance(f, dict) else None for f in features]
    if props and all(isinstance(p, dict) and "adcode" in p for p in props):
        return "datav"
    return "geojson"


def _digits(value: Any) -> str | None:
    """A code written as digits (numbers like 330681 or 330681.0 included), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and value >= 0 else None
    text = str(value).strip()
    return text if text.isdigit() else None


def _progress(iterable: Iterable, *, total: int, desc: str, enabled: bool) -> Iterable:
    return tqdm(iterable, total=total, desc=desc, unit="feature", disable=not enabled, file=sys.stderr,
                leave=False, dynamic_ncols=True)


# -- planning ------------------------------------------------------------------------------------


def plan_import(
    *,
    data: bytes | str,
    kind: str = "auto",
    fmt: str = "auto",
    crs: str | None = None,
    code_property: str | None = None,
    name_property: str | None = None,
    parent_code: str | None = None,
    progress: bool = False,
) -> ImportPlan:
    if kind not in KINDS:
        raise _fail(_("Unknown kind %(kind)r.") % {"kind": kind}, field_name="kind")
    if fmt not in FORMATS:
        raise _fail(_("Unknown format %(format)r.") % {"format": fmt}, field_name="format")
    if crs is not None and crs not in CRSES:
        raise _fail(_("Unknown coordinate system %(crs)r.") % {"crs": crs}, field_name="crs")
    raw = read_features(data)
    if not raw:
        raise _fail(_("The file has no features."))
    fmt = detect_format(raw) if fmt == "auto" else fmt
    crs = crs or ("gcj02" if fmt == "datav" else "wgs84")
    plan = ImportPlan(format=fmt, crs=crs)
    errors = _Errors()

    parent: Region | Grid | None = None
    if parent_code is not None:
        parent_code = parent_code.strip()
        parent = _find_parent(parent_code, raw, errors)

    features = _read_geometries(raw, kind=kind, fmt=fmt, crs=crs, plan=plan, errors=errors, progress=progress)
    region_features = [f for f in features if f.kind == "region"]
    grid_features = [f for f in features if f.kind == "grid"]
    if region_features:
        plan.regions = _plan_regions(region_features, fmt=fmt, code_property=code_property,
                                     name_property=name_property, parent_code=parent_code, plan=plan, errors=errors)
    if grid_features:
        plan.grids = _plan_grids(grid_features, code_property=code_property, name_property=name_property,
                                 parent_code=parent_code, parent=parent, plan=plan, errors=errors,
                                 progress=progress)
    errors.raise_if_any()
    _report_overlaps(plan)
    return plan


def _find_parent(code: str, raw: list[Any], errors: _Errors) -> Region | Grid | None:
    """The --parent object from the database (None if the file itself defines it, or it is unknown)."""
    is_grid = len(code) == GRID_CODE_LENGTH and code.isdigit()
    found: Region | Grid | None = (
        Grid.objects.select_related("region").filter(code=code).first() if is_grid
        else Region.objects.filter(code=code).first()
    )
    if found is None:
        in_file = any(
            isinstance(f, dict) and isinstance(f.get("properties"), dict)
            and code in (_digits(f["properties"].get("code")), _digits(f["properties"].get("adcode")))
            for f in raw
        )
        if not in_file:
            message = _("Unknown parent grid %(code)s.") if is_grid else _("Unknown parent region %(code)s.")
            errors.general(message % {"code": code}, "unknown_parent", "parent")
    return found


def _feature_kind(feature: dict[str, Any], kind: str, fmt: str) -> str:
    if kind != "auto":
        return kind
    declared = (feature.get("properties") or {}).get("kind")
    if declared in ("region", "grid", "micro_grid"):
        return "region" if declared == "region" else "grid"
    return "region" if fmt == "datav" else "grid"


def _read_geometries(
    raw: list[Any], *, kind: str, fmt: str, crs: str, plan: ImportPlan, errors: _Errors, progress: bool
) -> list[_Feature]:
    out = []
    for index, feature in enumerate(_progress(raw, total=len(raw), desc=_("reading"), enabled=progress)):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.feature(index, _("not a GeoJSON Feature"))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            errors.feature(index, _("its properties are not an object"))
            continue
        item = _Feature(index=index, kind=_feature_kind(feature, kind, fmt), properties=properties)
        out.append(item)
        geometry = feature.get("geometry")
        if geometry is None:
            if item.kind == "grid":
                errors.feature(index, _("a grid needs a polygon, and this feature has no geometry"))
            continue
        try:
            shape = to_shape(geometry)
        except ValueError as exc:
            errors.feature(index, str(exc))
            continue
        if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
            errors.feature(index, _("the geometry is a %(type)s, not a polygon") % {"type": shape.geom_type})
            continue
        if not is_lonlat(shape):
            errors.feature(index, _("the coordinates are not longitude/latitude degrees (projected data?)"))
            continue
        if crs == "gcj02":
            shape = geometry_gcj02_to_wgs84(shape)
        try:
            shape, repaired = repair_polygon(shape, REPAIR_TOLERANCE)
        except ValueError as exc:
            errors.feature(index, str(exc), "invalid_geometry")
            continue
        if repaired:
            plan.warnings.append(
                _("Feature %(index)d: repaired an invalid polygon (%(reason)s).") % {"index": index, "reason": repaired}
            )
        item.shape = round_geometry(shape, PRECISION)
        item.geometry = geojson_dict(item.shape)
        if not item.shape.is_valid or item.shape.is_empty:
            errors.feature(index, _("the polygon degenerates when rounded to %(n)d decimals") % {"n": PRECISION})
    return out


def _text(properties: dict[str, Any], name: str) -> str | None:
    value = properties.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _plan_regions(
    features: list[_Feature],
    *,
    fmt: str,
    code_property: str | None,
    name_property: str | None,
    parent_code: str | None,
    plan: ImportPlan,
    errors: _Errors,
) -> list[RegionRow]:
    code_key = code_property or ("adcode" if fmt == "datav" else "code")
    name_key = name_property or "name"
    rows: list[RegionRow] = []
    seen: dict[str, int] = {}
    for f in features:
        code = _digits(f.properties.get(code_key))
        level = LEVEL_OF_LENGTH.get(len(code)) if code else None
        if code is None or level is None:
            errors.feature(f.index, _("region code %(value)r (property %(key)r) is not 6, 9 or 12 digits")
                           % {"value": f.properties.get(code_key), "key": code_key})
            continue
        datav_level = str(f.properties.get("level", "")).lower()
        if fmt == "datav" and datav_level in DATAV_LEVELS_ABOVE_COUNTY:
            errors.feature(f.index, _("%(code)s is a DataV %(level)s; the region tree starts at counties")
                           % {"code": code, "level": datav_level})
            continue
        if code in seen:
            errors.feature(f.index, _("code %(code)s repeats feature %(other)d") % {"code": code, "other": seen[code]})
            continue
        seen[code] = f.index
        name = _text(f.properties, name_key)
        if name is None:
            errors.feature(f.index, _("no name (property %(key)r)") % {"key": name_key})
            continue
        if parent_code is not None and not (code.startswith(parent_code) and len(code) > len(parent_code)):
            errors.feature(f.index, _("region %(code)s is not under --parent %(parent)s")
                           % {"code": code, "parent": parent_code})
            continue
        center = _center(f, plan.crs)
        rows.append(RegionRow(
            index=f.index, code=code, name=name[:100], name_en=_text(f.properties, "name_en"), level=level,
            parent_code=code[: len(code) - 3] if level != RegionLevel.COUNTY else None,
            boundary=f.geometry, shape=f.shape, center=center,
        ))
    # parents: in the file or in the database
    wanted = {r.parent_code for r in rows if r.parent_code} - set(seen)
    known = {r.code: r for r in Region.objects.filter(code__in=wanted)}
    in_file = {r.code: r for r in rows}
    for row in rows:
        if row.parent_code is None:
            continue
        parent = in_file.get(row.parent_code) or known.get(row.parent_code)
        if parent is None:
            errors.feature(row.index, _("the parent region %(parent)s of %(code)s is neither in the file nor in "
                                        "the database") % {"parent": row.parent_code, "code": row.code})
            continue
        outline = parent.shape if isinstance(parent, RegionRow) else (
            to_shape(parent.boundary) if parent.boundary else None)
        if row.shape is not None and outline is not None:
            share = outside_share(row.shape, outline)
            if share > OUTSIDE_TOLERANCE:
                plan.warnings.append(
                    _("Feature %(index)d: region %(code)s lies %(share).1f%% outside its parent %(parent)s.")
                    % {"index": row.index, "code": row.code, "share": 100 * share, "parent": row.parent_code}
                )
    return sorted(rows, key=lambda r: (len(r.code), r.code))


def _center(f: _Feature, crs: str) -> tuple[float, float] | None:
    for key in ("center", "centroid"):
        value = f.properties.get(key)
        if (isinstance(value, list | tuple) and len(value) == 2
                and all(isinstance(v, int | float) and np.isfinite(v) for v in value)):
            lon, lat = float(value[0]), float(value[1])
            if abs(lon) <= 180 and abs(lat) <= 90:
                if crs == "gcj02":
                    wlon, wlat = gcj02_to_wgs84(lon, lat)
                    lon, lat = float(wlon), float(wlat)
                return round(lon, PRECISION), round(lat, PRECISION)
    if f.shape is not None:
        point = f.shape.point_on_surface()
        return round(point.x, PRECISION), round(point.y, PRECISION)
    return None


# -- grids ---------------------------------------------------------------------------------------


class _Outlines:
    """Region and grid outlines by code, from the plan or the database, parsed once."""

    def __init__(self, plan: ImportPlan):
        self.regions: dict[str, tuple[str, str, BaseGeometry | None]] = {
            r.code: (r.level, r.name, r.shape) for r in plan.regions
        }
        self.grids: dict[str, BaseGeometry | None] = {}

    def load_regions(self, codes: Iterable[str]) -> None:
        missing = set(codes) - set(self.regions)
        for code, level, name, boundary in Region.objects.filter(code__in=missing).values_list(
            "code", "level", "name", "boundary"
        ):
            shape = to_shape(boundary) if boundary else None
            if shape is not None:
                shapely.prepare(shape)
            self.regions[code] = (level, name, shape)

    def villages_under(self, code: str) -> list[tuple[str, BaseGeometry]]:
        self.load_regions(
            Region.objects.filter(code__startswith=code, level=RegionLevel.VILLAGE).values_list("code", flat=True)
        )
        return sorted(
            (c, shape) for c, (level, _name, shape) in self.regions.items()
            if c.startswith(code) and level == RegionLevel.VILLAGE and shape is not None
        )


def _plan_grids(
    features: list[_Feature],
    *,
    code_property: str | None,
    name_property: str | None,
    parent_code: str | None,
    parent: Region | Grid | None,
    plan: ImportPlan,
    errors: _Errors,
    progress: bool,
) -> list[GridRow]:
    outlines = _Outlines(plan)
    codes = _grid_codes(features, code_property=code_property, parent_code=parent_code, parent=parent,
                        outlines=outlines, plan=plan, errors=errors)
    name_key = name_property or "name"
    villages = {c[:CODE_LENGTH[RegionLevel.VILLAGE]] for c in codes.values()}
    outlines.load_regions(villages)
    file_grids = {c: f for f in features if (c := codes.get(f.index)) and len(c) == GRID_CODE_LENGTH}
    wanted_parents = {c[:GRID_CODE_LENGTH] for c in codes.values() if len(c) == MICRO_GRID_CODE_LENGTH}
    for grid_code, geometry in Grid.objects.filter(code__in=wanted_parents - set(file_grids)).values_list(
        "code", "geometry"
    ):
        outlines.grids[grid_code] = to_shape(geometry)
    for grid_code, f in file_grids.items():
        outlines.grids[grid_code] = f.shape

    rows: list[GridRow] = []
    seen: dict[str, int] = {}
    for f in _progress(features, total=len(features), desc=_("checking"), enabled=progress):
        code = codes.get(f.index)
        if code is None or f.shape is None:
            continue
        if code in seen:
            errors.feature(f.index, _("code %(code)s repeats feature %(other)d") % {"code": code, "other": seen[code]})
            continue
        seen[code] = f.index
        village_code = code[: CODE_LENGTH[RegionLevel.VILLAGE]]
        village = outlines.regions.get(village_code)
        if village is None or village[0] != RegionLevel.VILLAGE:
            errors.feature(f.index, _("the village %(village)s of grid %(code)s does not exist")
                           % {"village": village_code, "code": code}, "unknown_region")
            continue
        grid_parent = code[:GRID_CODE_LENGTH] if len(code) == MICRO_GRID_CODE_LENGTH else None
        if grid_parent is not None:
            if grid_parent not in outlines.grids:
                errors.feature(f.index, _("the parent grid %(parent)s of micro-grid %(code)s does not exist")
                               % {"parent": grid_parent, "code": code}, "unknown_parent")
                continue
            share = outside_share(f.shape, outlines.grids[grid_parent])
            if share > OUTSIDE_TOLERANCE:
                errors.feature(f.index, _("micro-grid %(code)s lies outside its grid %(parent)s (%(share).1f%% of "
                                          "its area)") % {"code": code, "parent": grid_parent, "share": 100 * share},
                               "outside_parent")
                continue
        elif village[2] is not None:
            share = outside_share(f.shape, village[2])
            if share > OUTSIDE_TOLERANCE:
                errors.feature(f.index, _("grid %(code)s lies outside its village %(village)s %(name)s (%(share).1f%% "
                                          "of its area)") % {"code": code, "village": village_code,
                                                             "name": village[1], "share": 100 * share},
                               "outside_village")
                continue
        name = _text(f.properties, name_key)
        if name is None:
            name = (_("Micro-grid %(number)s") if grid_parent else _("Grid %(number)s")) % {"number": code[-3:]}
        households = f.properties.get("households")
        rows.append(GridRow(
            index=f.index, code=code, name=name[:100], village_code=village_code, parent_code=grid_parent,
            geometry=f.geometry or {}, shape=f.shape, area_m2=round(area_m2(f.shape), 1),
            households=households if isinstance(households, int) and not isinstance(households, bool)
            and households >= 0 else None,
        ))
    return sorted(rows, key=lambda r: (len(r.code), r.code))


def _usable_code(value: Any, parent_code: str | None, explicit: bool) -> str | None:
    digits = _digits(value)
    if digits is None:
        return None
    if len(digits) in (GRID_CODE_LENGTH, MICRO_GRID_CODE_LENGTH):
        return digits
    # a local number (1..999) is a code only when asked for explicitly, under a village or grid
    if explicit and parent_code and len(parent_code) in (CODE_LENGTH[RegionLevel.VILLAGE], GRID_CODE_LENGTH):
        number = int(digits)
        if 1 <= number <= MAX_GRIDS_PER_PARENT:
            return f"{parent_code}{number:03d}"
    return None


def _grid_codes(
    features: list[_Feature],
    *,
    code_property: str | None,
    parent_code: str | None,
    parent: Region | Grid | None,
    outlines: _Outlines,
    plan: ImportPlan,
    errors: _Errors,
) -> dict[int, str]:
    """Feature index -> grid code, from the file or numbered in file order under --parent."""
    key = code_property or "code"
    explicit = code_property is not None
    found = {f.index: _usable_code(f.properties.get(key), parent_code, explicit) for f in features}
    have = [i for i, c in found.items() if c]
    if explicit or have:
        codes = {}
        for f in features:
            code = found[f.index]
            if code is None:
                errors.feature(f.index, _("no usable grid code in property %(key)r (%(value)r): a grid code is "
                                          "its village's 12 digits and 3 more, a micro-grid's its grid's 15 and 3 "
                                          "more") % {"key": key, "value": f.properties.get(key)})
            elif parent_code and not code.startswith(parent_code):
                errors.feature(f.index, _("grid %(code)s is not under --parent %(parent)s")
                               % {"code": code, "parent": parent_code})
            else:
                codes[f.index] = code
        return codes
    # no feature has a code: number them in file order
    if parent_code is None:
        errors.general(_("No feature has a grid code in property %(key)r; give --parent (a village, township, "
                         "county or grid code) to number them in file order, or --code-property.") % {"key": key},
                       "no_codes", "code_property")
        return {}
    plan.numbered = True
    if len(parent_code) in (CODE_LENGTH[RegionLevel.VILLAGE], GRID_CODE_LENGTH):
        if len(features) > MAX_GRIDS_PER_PARENT:
            errors.general(_("%(n)d features cannot be numbered under %(parent)s: a village or grid holds at most "
                             "%(max)d grids (3 digits of code).") % {"n": len(features), "parent": parent_code,
                                                                      "max": MAX_GRIDS_PER_PARENT}, "too_many")
            return {}
        return {f.index: f"{parent_code}{k:03d}" for k, f in enumerate(features, start=1)}
    if any(e.code == "unknown_parent" for e in errors.items):
        return {}
    # a township or county: each feature goes to the village that holds it, numbered per village
    villages = outlines.villages_under(parent_code)
    if not villages:
        errors.general(_("%(parent)s has no villages with a boundary to place the grids in.")
                       % {"parent": parent_code}, "no_villages", "parent")
        return {}
    tree = shapely.STRtree([shape for _code, shape in villages])
    counters: dict[str, int] = defaultdict(int)
    codes = {}
    for f in features:
        if f.shape is None:
            continue
        point = f.shape.point_on_surface()
        hits = sorted(int(i) for i in tree.query(point, predicate="intersects"))
        if not hits:
            errors.feature(f.index, _("lies in no village of %(parent)s") % {"parent": parent_code},
                           "outside_village")
            continue
        village_code = villages[hits[0]][0]
        counters[village_code] += 1
        if counters[village_code] > MAX_GRIDS_PER_PARENT:
            errors.feature(f.index, _("village %(village)s would hold more than %(max)d grids")
                           % {"village": village_code, "max": MAX_GRIDS_PER_PARENT}, "too_many")
            continue
        codes[f.index] = f"{village_code}{counters[village_code]:03d}"
    return codes


def _report_overlaps(plan: ImportPlan) -> None:
    """Warn about grids of one village (micro-grids of one grid) whose interiors overlap."""
    groups: dict[tuple[str, str | None], list[tuple[str, int | None, BaseGeometry]]] = defaultdict(list)
    for row in plan.grids:
        groups[(row.village_code, row.parent_code)].append((row.code, row.index, row.shape))
    planned = {row.code for row in plan.grids}
    villages = {v for v, _p in groups}
    for code, village, parent, geometry in Grid.objects.filter(region__code__in=villages).values_list(
        "code", "region__code", "parent__code", "geometry"
    ):
        if code not in planned and (village, parent) in groups:
            groups[(village, parent)].append((code, None, to_shape(geometry)))
    for members in groups.values():
        if len(members) < 2:
            continue
        shapes = np.array([m[2] for m in members], dtype=object)
        left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        if not len(left):
            continue
        inner = shapely.relate_pattern(shapes[left], shapes[right], "T********")
        for i, j in zip(left[inner], right[inner], strict=True):
            a, b = members[int(i)], members[int(j)]
            if a[1] is None and b[1] is None:
                continue  # both already in the database: not this file's doing
            overlap = area_m2(shapely.intersection(a[2], b[2]))
            smaller = min(area_m2(a[2]), area_m2(b[2]))
            if smaller <= 0 or overlap <= OVERLAP_TOLERANCE * smaller:
                continue
            plan.warnings.append(
                _("Grids %(a)s%(fa)s and %(b)s%(fb)s overlap by %(area).0f m² (%(share).1f%% of the smaller).")
                % {"a": a[0], "fa": _feature_note(a[1]), "b": b[0], "fb": _feature_note(b[1]), "area": overlap,
                   "share": 100 * overlap / smaller}
            )


def _feature_note(index: int | None) -> str:
    return _(" (feature %(index)d)") % {"index": index} if index is not None else _(" (in the database)")
