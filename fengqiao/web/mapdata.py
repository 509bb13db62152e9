"""Read-only data of the grid map and the supervision (leader) view, scoped by the actor.

The map shows one *area* at a time: a county shows its townships, a township its villages, a
village its grids, a grid its micro-grids (or itself when it has none). Each shape carries the
number of open cases below it, how many of those are overdue (deadline warning red) and how many
are flagged for supervision. Codes carry the tree (docs/architecture.md), so the counts of every
shape in view are the kept counts of the area codes under the shown area (`cases.counts`), summed
by the first N characters of the code; for an actor scoped to departments, one aggregate query
over the open cases it may see. No case row is loaded for the counts; the pins are a bounded list
of the newest open cases.

Territory (regions and grids) is what the actor's VIEW_CASE scopes cover; an actor scoped to a
department sees the region its department serves, with only the cases its department may see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import models as m
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Substr
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from shapely.errors import GEOSException

from fengqiao.cases.counts import open_counts, open_figures
from fengqiao.cases.models import Case
from fengqiao.cases.selectors import cases_visible_to
from fengqiao.cases.states import OPEN_STATES
from fengqiao.core.errors import NotFound
from fengqiao.geo.codes import under
from fengqiao.geo.geometry import to_shape
from fengqiao.geo.models import CODE_LENGTH, Grid, Region, RegionLevel
from fengqiao.org.models import Department
from fengqiao.org.permissions import Action, permissions_for

PIN_LIMIT = 200
CODE_RE = re.compile(r"^\d{6,18}$")
OPEN = sorted(OPEN_STATES)
CHILD_LEVEL = {RegionLevel.COUNTY: RegionLevel.TOWNSHIP, RegionLevel.TOWNSHIP: RegionLevel.VILLAGE}
GRID_LENGTH = 15
MICRO_GRID_LENGTH = 18


def case_url(number: str) -> str:
    """The staff case page of `number` (a plain path while the case page is not routed yet)."""
    try:
        return reverse("web:case_detail", args=[number])
    except NoReverseMatch:
        return f"/cases/{number}/"


def _english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


def _region_name(name: str, name_en: str) -> str:
    return name_en if _english() and name_en else name


# -- territory in scope ------------------------------------------------------------------------
def territory_prefixes(actor: Any) -> list[str] | None:
    """The area-code prefixes of the territory `actor` sees on the map; None means everything.

    Region and grid scopes give their own codes; department scopes give the region each
    department serves (the territory is public, the cases in it stay scoped by the case selector).
    """
    perms = permissions_for(actor)
    if perms.is_superuser:
        return None
    codes = set(perms.area_codes(Action.VIEW_CASE))
    departments = sorted({d for g in perms.grants_for(Action.VIEW_CASE) if g.area_code is None
                          for d in g.department_ids})
    if departments:
        codes |= set(Department.objects.filter(pk__in=departments).values_list("region__code", flat=True))
    # keep only the outermost prefixes
    return [c for c in sorted(codes) if not any(c != o and c.startswith(o) for o in codes)]


def _within(code: str, prefixes: list[str] | None) -> bool:
    return prefixes is None or any(code.startswith(p) for p in prefixes)


@dataclass
class Area:
    """A region or a grid, as the map shows it."""

    code: str
    name: str
    kind: str  # "region" or "grid"
    level: str  # county, township, village, grid, micro_grid
    geometry: dict | None = None
    drill: bool = True  # has something below it to show
    open: int = 0
    overdue: int = 0
    flagged: int = 0

    @classmethod
    def of_region(cls, region: Region) -> Area:
        return cls(region.code, _region_name(region.name, region.name_en), "region", region.level, region.boundary)

    @classmethod
    def of_grid(cls, grid: Grid, *, drill: bool = False) -> Area:
        level = "micro_grid" if grid.parent_id else "grid"
        return cls(grid.code, grid.name, "grid", level, grid.geometry, drill)

    def label_point(self) -> list[float] | None:
        """A point inside the shape where its label goes."""
        if not self.geometry:
            return None
        try:
            shape = to_shape(self.geometry)
            point = shape.centroid
            if not shape.contains(point):
                point = shape.representative_point()
        except (ValueError, TypeError, KeyError, GEOSException):
            return None
        return [round(point.x, 6), round(point.y, 6)]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "level": self.level, "drill": self.drill,
                "open": self.open, "overdue": self.overdue, "flagged": self.flagged,
                "has_geometry": bool(self.geometry), "label_at": self.label_point()}


def _find_area(code: str) -> Area | None:
    if len(code) <= CODE_LENGTH[RegionLevel.VILLAGE]:
        region = Region.objects.filter(code=code).only("code", "name", "name_en", "level", "boundary").first()
        return Area.of_region(region) if region else None
    grid = (Grid.objects.filter(code=code).annotate(has_micro=Exists(Grid.objects.filter(parent_id=OuterRef("pk"))))
            .only("code", "name", "geometry", "parent_id").first())
    return Area.of_grid(grid, drill=grid.has_micro) if grid else None


def _grid_children(q: Q) -> list[Area]:
    rows = (Grid.objects.filter(q).annotate(has_micro=Exists(Grid.objects.filter(parent_id=OuterRef("pk"))))
            .only("code", "name", "geometry", "parent_id").order_by("code"))
    return [Area.of_grid(g, drill=g.has_micro) for g in rows]


def _children(area: Area) -> list[Area]:
    """What the map draws when `area` is shown."""
    if area.kind == "region" and area.level in CHILD_LEVEL:
        rows = (Region.objects.filter(parent__code=area.code).only("code", "name", "name_en", "level", "boundary")
                .order_by("code"))
        return [Area.of_region(r) for r in rows]
    if area.kind == "region":  # a village: its grids
        return _grid_children(Q(region__code=area.code, parent__isnull=True))
    children = _grid_children(Q(parent__code=area.code))
    return children or [Area(area.code, area.name, "grid", area.level, area.geometry, False)]


def _roots(prefixes: list[str] | None) -> list[Area]:
    if prefixes is None:
        rows = Region.objects.filter(parent__isnull=True).only("code", "name", "name_en", "level", "boundary")
        return [Area.of_region(r) for r in rows.order_by("code")]
    regions = [Area.of_region(r) for r in Region.objects.filter(code__in=prefixes)
               .only("code", "name", "name_en", "level", "boundary")]
    grids = _grid_children(Q(code__in=prefixes)) if any(len(p) > CODE_LENGTH[RegionLevel.VILLAGE] for p in prefixes) else []
    return sorted(regions + grids, key=lambda a: a.code)


def _crumbs(area: Area | None, prefixes: list[str] | None) -> list[dict[str, Any]]:
    """The path from the actor's top of the map down to `area`, for the breadcrumb.

    An actor with several separate scopes starts at "all my areas" (code "").
    """
    crumbs: list[dict[str, Any]] = []
    if prefixes is not None and len(prefixes) > 1:
        crumbs.append({"code": "", "name": _("All my areas")})
    if area is None:
        return crumbs
    lengths = [CODE_LENGTH[RegionLevel.COUNTY], CODE_LENGTH[RegionLevel.TOWNSHIP], CODE_LENGTH[RegionLevel.VILLAGE],
               GRID_LENGTH, MICRO_GRID_LENGTH]
    above = [area.code[:n] for n in lengths if n < len(area.code) and _within(area.code[:n], prefixes)]
    names: dict[str, str] = {}
    region_codes = [c for c in above if len(c) <= CODE_LENGTH[RegionLevel.VILLAGE]]
    grid_codes = [c for c in above if len(c) > CODE_LENGTH[RegionLevel.VILLAGE]]
    if region_codes:
        names.update({c: _region_name(n, e) for c, n, e in
                      Region.objects.filter(code__in=region_codes).values_list("code", "name", "name_en")})
    if grid_codes:
        names.update(dict(Grid.objects.filter(code__in=grid_codes).values_list("code", "name")))
    crumbs += [{"code": c, "name": names[c]} for c in above if c in names]
    crumbs.append({"code": area.code, "name": area.name})
    return crumbs


# -- counts ----------------------------------------------------------------------------------
def _open_cases(actor: Any, prefixes: list[str]) -> Any:
    return cases_visible_to(actor).filter(under(prefixes), state__in=OPEN)


def _sees_all_of(actor: Any, within: list[str]) -> bool:
    """True when the actor may see every case under `within` (an area scope covers it all)."""
    perms = permissions_for(actor)
    if perms.is_superuser:
        return True
    scopes = perms.area_codes(Action.VIEW_CASE)
    return bool(within) and all(any(w.startswith(s) for s in scopes) for w in within)


def _count(actor: Any, within: list[str], keys: list[str]) -> dict[str, dict[str, int]]:
    """{key: {open, overdue, flagged}} for the open cases under each key.

    `within` limits the cases to the area in view; cases whose area code starts with none of `keys`
    are counted under "" (a case placed on the area itself, not in a shape below it). An actor who
    sees every case in view reads the kept counts per area code (`cases.counts`: a row per area,
    whatever the backlog); others, scoped to departments, count the cases they may see in one
    aggregate query.
    """
    wanted = set(keys)
    counts: dict[str, dict[str, int]] = {}

    def add(key: str, found: dict[str, int]) -> None:
        slot = counts.setdefault(key if key in wanted else "", {"open": 0, "overdue": 0, "flagged": 0})
        for name in slot:
            slot[name] += found[name]

    if _sees_all_of(actor, within):
        longest_first = sorted(keys, key=len, reverse=True)
        for code, kept in open_counts(within).items():
            add(next((k for k in longest_first if code.startswith(k)), ""), kept)
        return counts
    lengths = {len(k) for k in keys}
    if len(lengths) == 1:
        key = Substr("area_code", 1, lengths.pop())
    else:  # shapes of different code lengths (an actor with several scopes)
        key = m.Case(*[m.When(area_code__startswith=k, then=Value(k)) for k in sorted(keys, key=len, reverse=True)],
                     default=Value(""), output_field=m.CharField())
    rows = (_open_cases(actor, within).annotate(key=key).values("key")
            .annotate(**open_figures()).order_by())
    for row in rows:
        add(row["key"], row)
    return counts


def _pins(actor: Any, within: list[str], limit: int) -> tuple[list[dict[str, Any]], bool]:
    rows = list(_open_cases(actor, within).filter(lon__isnull=False, lat__isnull=False)
                .order_by("-created_at", "-pk")
                .values("number", "lon", "lat", "state", "warning", "supervised", "area_code",
                        "category__name_zh", "category__name_en")[: limit + 1])
    english = _english()
    states = dict(Case._meta.get_field("state").choices)
    pins = [{"number": r["number"], "lon": r["lon"], "lat": r["lat"], "state": r["state"],
             "state_label": str(states.get(r["state"], r["state"])), "warning": r["warning"],
             "supervised": r["supervised"], "area": r["area_code"], "url": case_url(r["number"]),
             "category": (r["category__name_en"] if english and r["category__name_en"] else r["category__name_zh"])}
            for r in rows[:limit]]
    return pins, len(rows) > limit


# -- the map ---------------------------------------------------------------------------------
@dataclass
class MapData:
    area: Area | None
    crumbs: list[dict[str, Any]]
    areas: list[Area]
    outside: dict[str, int]
    totals: dict[str, int]
    pins: list[dict[str, Any]] = field(default_factory=list)
    pins_truncated: bool = False

    def feature_collection(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": a.code, "properties": {**a.as_dict(), "label": a.name, "name": a.code}, "geometry": a.geometry}
            for a in self.areas if a.geometry]}

    def as_json(self) -> dict[str, Any]:
        return {
            "area": self.area.as_dict() if self.area else None,
            "crumbs": self.crumbs,
            "areas": [a.as_dict() for a in self.areas],
            "geojson": self.feature_collection(),
            "outside": self.outside,
            "totals": self.totals,
            "pins": self.pins,
            "pins_limit": PIN_LIMIT,
            "pins_truncated": self.pins_truncated,
        }


def map_area(*, actor: Any, code: str) -> Area:
    """The region or grid `code` if it lies in the actor's territory; otherwise NotFound."""
    if not CODE_RE.match(code or "") or not _within(code, territory_prefixes(actor)):
        raise NotFound("not_found", _("No such area."))
    area = _find_area(code)
    if area is None:
        raise NotFound("not_found", _("No such area."))
    return area


def map_data(*, actor: Any, area: str | None = None, pins: int = PIN_LIMIT) -> MapData:
    """What the map shows of `area` (a region or grid code) for `actor`.

    Without `area`: the actor's own territory (the top of the map, going down while there is only
    one shape to show). An area outside the actor's territory is NotFound.
    """
    prefixes = territory_prefixes(actor)
    shown: Area | None
    if area:
        shown = map_area(actor=actor, code=area)
    else:
        roots = _roots(prefixes)
        shown = roots[0] if len(roots) == 1 else None
        while shown is not None and shown.kind == "region":  # go down while there is one region below
            below = _children(shown)
            if len(below) != 1 or below[0].kind != "region":
                break
            shown = below[0]
    if shown is not None:
        children = _children(shown)
        within = [shown.code]
    else:
        children = roots
        within = [a.code for a in children] if prefixes is None else prefixes
    empty = {"open": 0, "overdue": 0, "flagged": 0}
    counts = _count(actor, within, [a.code for a in children]) if children else {}
    for child in children:
        for name, value in counts.get(child.code, empty).items():
            setattr(child, name, value)
    totals = {name: sum(c[name] for c in counts.values()) for name in empty}
    if shown is not None:
        for name, value in totals.items():
            setattr(shown, name, value)
    outside = counts.get("", empty)
    pin_rows, truncated = _pins(actor, within, pins) if pins and within else ([], False)
    return MapData(area=shown, crumbs=_crumbs(shown, prefixes), areas=children, outside=outside, totals=totals,
                   pins=pin_rows, pins_truncated=truncated)


# -- supervision (leader view) ---------------------------------------------------------------
@dataclass
class SupervisionRow:
    key: str
    name: str
    open: int
    overdue: int
    flagged: int


@dataclass
class Supervision:
    totals: dict[str, int]
    by_area: list[SupervisionRow]  # by township, or by village when the scope is one township or less
    area_level: str  # RegionLevel.TOWNSHIP or RegionLevel.VILLAGE
    by_department: list[SupervisionRow]


def supervision_summary(*, actor: Any, area: str | None = None, department: str | None = None) -> Supervision:
    """Open, overdue (red) and flagged cases in the actor's scope, by township and by lead department.

    When everything in view lies in one township (the actor's scope or the `area` asked for), the
    areas are its villages instead. Two aggregate queries (plus one for the areas' names and one for
    the actor's territory); the cases are never loaded.
    """
    base = cases_visible_to(actor).filter(state__in=OPEN)
    if area:
        base = base.filter(area_code__startswith=area)
    if department:
        base = base.filter(lead_department__code=department)
    metrics = open_figures()
    prefixes = [area] if area else territory_prefixes(actor)
    township_length = CODE_LENGTH[RegionLevel.TOWNSHIP]
    level = RegionLevel.TOWNSHIP
    if prefixes and all(len(p) >= township_length for p in prefixes) and len({p[:township_length] for p in prefixes}) == 1:
        level = RegionLevel.VILLAGE
    length = CODE_LENGTH[level]
    area_rows = list(base.annotate(key=Substr("area_code", 1, length)).values("key").annotate(**metrics).order_by())
    codes = [r["key"] for r in area_rows if len(r["key"]) == length]
    names = {c: _region_name(n, e) for c, n, e in
             Region.objects.filter(code__in=codes).values_list("code", "name", "name_en")} if codes else {}
    by_area = [SupervisionRow(r["key"], names.get(r["key"]) or _("Above this level (%(code)s)") % {"code": r["key"]},
                              r["open"], r["overdue"], r["flagged"]) for r in area_rows]
    by_area.sort(key=lambda r: (-r.overdue, -r.flagged, -r.open, r.key))
    english = _english()
    dept_rows = (base.values("lead_department__code", "lead_department__name_zh", "lead_department__name_en")
                 .annotate(**metrics).order_by())
    by_department = [
        SupervisionRow(r["lead_department__code"] or "",
                       (r["lead_department__name_en"] if english and r["lead_department__name_en"]
                        else r["lead_department__name_zh"]) or _("Not dispatched yet"),
                       r["open"], r["overdue"], r["flagged"]) for r in dept_rows]
    by_department.sort(key=lambda r: (-r.overdue, -r.flagged, -r.open, r.key))
    totals = {name: sum(getattr(r, name) for r in by_area) for name in ("open", "overdue", "flagged")}
    return Supervision(totals=totals, by_area=by_area, area_level=level, by_department=by_department)
