"""Routing as data: rules on category × area (× time of day) -> department and level.

The most specific active rule wins: the rule's category closest to the case's category (a rule on
the category itself beats one on its parent, which beats a rule for every category), then the
longest area prefix, then the higher priority. Without a rule the case goes to the department of the
category's kind serving its township, else its county, else the township's command centre (属地).
Every decision carries its reason, stored on the dispatch event ("why routed here").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.cases.models import LEVEL_ORDER, Category, Level, RoutingRule
from fengqiao.core.versioning import VersionedCache
from fengqiao.geo.models import RegionLevel
from fengqiao.org.models import Department

LEVEL_OF_REGION = {RegionLevel.COUNTY: Level.COUNTY, RegionLevel.TOWNSHIP: Level.TOWNSHIP,
                   RegionLevel.VILLAGE: Level.VILLAGE}
REGION_CODE_LENGTH = {Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12}


@dataclass(frozen=True)
class RoutingDecision:
    department: Department
    level: Level
    reason: str
    basis: str  # rule | kind | command_centre
    rule_id: int | None = None


def department_level(department: Department) -> Level:
    return LEVEL_OF_REGION[RegionLevel(department.region.level)]


def _in_window(rule: RoutingRule, at: datetime) -> bool:
    if rule.hour_from is None or rule.hour_to is None:
        return True
    t = timezone.localtime(at).time()
    if rule.hour_from <= rule.hour_to:
        return rule.hour_from <= t < rule.hour_to
    return t >= rule.hour_from or t < rule.hour_to  # a window over midnight, e.g. 17:30-08:30


@dataclass
class RoutingTable:
    """What routing reads, loaded once per process and rebuilt when rules, departments or the
    catalogue change (cases.signals): the active rules, the categories' parents, and the active
    departments by (kind, region code)."""

    rules: list[RoutingRule] = field(default_factory=list)
    parents: dict[int, int | None] = field(default_factory=dict)
    by_kind: dict[tuple[int | None, str], Department] = field(default_factory=dict)  # first by code

    def chain(self, category: Category) -> list[int]:
        """The category and its ancestors, nearest first."""
        chain = [category.pk]
        current = category.parent_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain


def _load_table() -> RoutingTable:
    table = RoutingTable(
        rules=list(RoutingRule.objects.filter(is_active=True).select_related("department__region", "category")
                   .order_by("pk")),
        parents=dict(Category.objects.values_list("pk", "parent_id")),
    )
    for department in (Department.objects.filter(is_active=True, kind__isnull=False)
                       .select_related("region", "kind").order_by("code")):
        table.by_kind.setdefault((department.kind_id, department.region.code), department)
    return table


ROUTING_KEY = "cases.routing"
_table: VersionedCache[RoutingTable] = VersionedCache(ROUTING_KEY, _load_table,
                                                      lambda: settings.LOCATOR_CHECK_SECONDS)


def route(*, category: Category, area_code: str, at: datetime, min_level: Level | None = None) -> RoutingDecision | None:
    """Where a case of `category` in `area_code` goes; `min_level` asks for that level or above."""
    table = _table.get()
    chain = table.chain(category)
    best, best_key = None, None
    allowed = LEVEL_ORDER[LEVEL_ORDER.index(min_level):] if min_level else LEVEL_ORDER
    for rule in table.rules:
        if rule.category_id is not None and rule.category_id not in chain:
            continue
        if rule.area_prefix and not area_code.startswith(rule.area_prefix):
            continue
        if not _in_window(rule, at) or not rule.department.is_active:
            continue
        level = Level(rule.level) if rule.level else department_level(rule.department)
        if level not in allowed:
            continue
        depth = chain.index(rule.category_id) if rule.category_id else len(chain)
        key = (depth, -len(rule.area_prefix), -rule.priority, rule.pk)
        if best_key is None or key < best_key:
            best, best_key = rule, key
    if best is not None:
        level = Level(best.level) if best.level else department_level(best.department)
        reason = _("Routing rule %(rule)s: %(category)s in %(area)s goes to %(department)s.") % {
            "rule": best.pk, "category": best.category or _("every category"),
            "area": best.area_prefix or _("the whole territory"), "department": best.department,
        }
        return RoutingDecision(best.department, level, reason, "rule", best.pk)

    for level in [lv for lv in (Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY) if lv in allowed]:
        code = area_code[: REGION_CODE_LENGTH[level]]
        if len(code) < REGION_CODE_LENGTH[level]:
            continue
        department = table.by_kind.get((category.department_kind_id, code)) if category.department_kind_id else None
        if department:
            reason = _("%(category)s is handled by a %(kind)s; %(department)s serves %(code)s.") % {
                "category": category.name, "kind": department.kind, "department": department, "code": code,
            }
            return RoutingDecision(department, level, reason, "kind")
    centre_kind = next((d.kind_id for d in table.by_kind.values() if d.kind and d.kind.code == "command_centre"),
                       None)
    for level in [lv for lv in (Level.TOWNSHIP, Level.COUNTY) if lv in allowed]:
        code = area_code[: REGION_CODE_LENGTH[level]]
        centre = table.by_kind.get((centre_kind, code)) if centre_kind is not None else None
        if centre:
            reason = _("No department of the category's kind serves this area: the command centre %(department)s "
                       "takes it (属地).") % {"department": centre}
            return RoutingDecision(centre, level, reason, "command_centre")
    return None
