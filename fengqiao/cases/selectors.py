"""Reads of the category catalogue.

The catalogue is public configuration (residents pick a category too), so these selectors take
no actor and apply no scope.

Time-limit inheritance (see docs/categories.md): the limit of (stage, urgency) for a category is
the one set on the nearest category in its parent chain, starting with the category itself. When
no category in the chain sets that urgency, the `normal` limit of the stage is looked up the same
way. When the chain sets nothing for the stage, there is no limit (`None`) and the caller uses its
own default. Urgency is looked up the whole chain before falling back to `normal`, because a
class's urgent and critical limits describe how fast its departments can act in an emergency,
and a sub-category that only narrows the normal limit should keep them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import get_language

from fengqiao.cases.models import Category, Stage, TimeLimit, Urgency
from fengqiao.core.calendar import TimeUnit

# How many generations one query fetches when walking up the tree (the default catalogue has two).
ANCESTORS_PER_QUERY = 6


def category_ancestor_ids(category: Category) -> list[int]:
    """The ids of `category` and its ancestors, nearest first; one query per six generations."""
    chain = [category.pk]
    current = category.parent_id
    lookups = ["__".join(["parent"] * k + ["id"]) for k in range(ANCESTORS_PER_QUERY)]
    while current is not None:
        row = Category.objects.filter(pk=current).values_list(*lookups).first()
        if row is None:
            break
        current = None
        for ancestor_id in row:
            if ancestor_id is None:
                break
            if ancestor_id in chain:  # a loop of parents made by hand: stop rather than spin
                return chain
            chain.append(ancestor_id)
        else:
            current = Category.objects.filter(pk=chain[-1]).values_list("parent_id", flat=True).first()
    return chain


def time_limit_for(*, category: Category, stage: Stage | str, urgency: Urgency | str) -> tuple[int, TimeUnit] | None:
    """The (value, unit) time limit of `stage` for a case of `category` and `urgency`, or None.

    Two queries for a tree up to six levels deep, whatever the number of categories.
    """
    stage, urgency = Stage(stage).value, Urgency(urgency).value
    chain = category_ancestor_ids(category)
    wanted = [urgency] if urgency == Urgency.NORMAL else [urgency, Urgency.NORMAL.value]
    found = {
        (category_id, limit_urgency): (value, TimeUnit(unit))
        for category_id, limit_urgency, value, unit in TimeLimit.objects.filter(
            category_id__in=chain, stage=stage, urgency__in=wanted
        ).values_list("category_id", "urgency", "value", "unit")
    }
    for limit_urgency in wanted:
        for category_id in chain:
            if (category_id, limit_urgency) in found:
                return found[(category_id, limit_urgency)]
    return None


def time_limits_for(*, category: Category) -> dict[tuple[str, str], tuple[int, TimeUnit] | None]:
    """Every (stage, urgency) limit of `category` after inheritance, in two queries."""
    chain = category_ancestor_ids(category)
    found = {
        (category_id, stage, urgency): (value, TimeUnit(unit))
        for category_id, stage, urgency, value, unit in TimeLimit.objects.filter(category_id__in=chain).values_list(
            "category_id", "stage", "urgency", "value", "unit"
        )
    }

    def nearest(stage: str, urgency: str) -> tuple[int, TimeUnit] | None:
        return next((found[(c, stage, urgency)] for c in chain if (c, stage, urgency) in found), None)

    resolved: dict[tuple[str, str], tuple[int, TimeUnit] | None] = {}
    for stage in Stage:
        for urgency in Urgency:
            resolved[(stage.value, urgency.value)] = nearest(stage.value, urgency.value) or nearest(
                stage.value, Urgency.NORMAL.value
            )
    return resolved


# -- the tree for pickers ---------------------------------------------------------------------
@dataclass
class CategoryNode:
    id: int
    code: str
    name_zh: str
    name_en: str
    platform: str  # platform code
    department_kind: str | None  # department kind code
    depth: int = 0
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        language = get_language() or "zh-hans"
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh

    @property
    def is_leaf(self) -> bool:
        return not self.children


def category_tree(*, platform: str | None = None) -> list[CategoryNode]:
    """The active categories as a tree: roots in (order, code) order, each with its children.

    An inactive category hides everything below it. With `platform` (a platform code), only the
    categories of that platform are kept, with the ancestors needed to reach them. One query.
    """
    rows = Category.objects.filter(is_active=True).order_by("order", "code").values_list(
        "id", "parent_id", "code", "name_zh", "name_en", "platform__code", "department_kind__code"
    )
    nodes: dict[int, CategoryNode] = {}
    parents: dict[int, int | None] = {}
    for pk, parent_id, code, name_zh, name_en, platform_code, kind_code in rows:
        nodes[pk] = CategoryNode(pk, code, name_zh, name_en, platform_code, kind_code)
        parents[pk] = parent_id
    roots: list[CategoryNode] = []
    for pk, node in nodes.items():  # dicts keep the query's order, so siblings stay ordered
        above = parents[pk]
        if above is None:
            roots.append(node)
        elif above in nodes:
            nodes[above].children.append(node)
        # else: below an inactive category, hidden

    def prune(siblings: list[CategoryNode], depth: int, trail: frozenset[int]) -> list[CategoryNode]:
        kept = []
        for node in siblings:
            if node.id in trail:
                continue
            node.depth = depth
            node.children = prune(node.children, depth + 1, trail | {node.id})
            if platform is None or node.platform == platform or node.children:
                kept.append(node)
        return kept

    return prune(roots, 0, frozenset())


def iter_tree(nodes: list[CategoryNode]) -> Iterator[CategoryNode]:
    """The nodes depth-first, parents before children."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def category_choices(*, platform: str | None = None) -> list[tuple[int, str]]:
    """(id, label) pairs for a select box, indented by depth."""
    return [(node.id, "\u3000" * node.depth + f"{node.code} {node.name}")
            for node in iter_tree(category_tree(platform=platform))]


# -- cases -------------------------------------------------------------------------------------
import base64  # noqa: E402
import math  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import F, Q, QuerySet  # noqa: E402
from django.utils.dateparse import parse_datetime  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402

from fengqiao.cases.models import Case, CaseAssist, CaseEvent, DeadlineWarning  # noqa: E402
from fengqiao.cases.signals import CATALOGUE_KEY  # noqa: E402
from fengqiao.cases.states import OPEN_STATES, TRANSITIONS, CaseAction, CaseState, may_act  # noqa: E402
from fengqiao.core import clock  # noqa: E402
from fengqiao.core.errors import InvalidInput, NotFound  # noqa: E402
from fengqiao.core.versioning import VersionedCache  # noqa: E402
from fengqiao.geo.geometry import metres_per_degree  # noqa: E402
from fengqiao.org.permissions import Action, permissions_for  # noqa: E402


def _categories_by_code() -> dict[str, Category]:
    return {category.code: category for category in Category.objects.select_related("platform")}


# every category by its code, per process; rebuilt when the catalogue changes (cases.signals)
_by_code: VersionedCache[dict[str, Category]] = VersionedCache(CATALOGUE_KEY, _categories_by_code,
                                                               lambda: settings.LOCATOR_CHECK_SECONDS)


def category_by_code(code: str) -> Category | None:
    """A category, in use or not, with its platform: from the process's copy of the catalogue
    (intake looks one up for every report)."""
    return _by_code.get().get(code)


CASE_LIST_RELATED = ("category", "platform", "grid", "region", "lead_department")


def case_scope_q(actor: Any, action: Action = Action.VIEW_CASE) -> Q | None:
    """Cases `actor` may see: by area (region/grid scopes) or by department (lead or assisting)."""
    perms = permissions_for(actor)
    q = perms.scope_q(action, area_field="area_code", department_fields=["lead_department_id"])
    if q is None:
        return None
    departments = sorted({d for g in perms.grants_for(action) if g.area_code is None for d in g.department_ids})
    if departments:
        q |= Q(pk__in=CaseAssist.objects.filter(department_id__in=departments).values("case_id"))
    return q


def cases_visible_to(actor: Any, action: Action = Action.VIEW_CASE) -> QuerySet[Case]:
    q = case_scope_q(actor, action)
    qs = Case.objects.all()
    return qs if q is None else qs.filter(q)


def case_get(*, actor: Any, number: str, action: Action = Action.VIEW_CASE) -> Case:
    """The case, if `actor` may see it; otherwise NotFound (never "forbidden": ids leak nothing)."""
    case = cases_visible_to(actor, action).select_related(*CASE_LIST_RELATED, "duplicate_of").filter(
        number=number).first()
    if case is None:
        raise NotFound("not_found", _("No such case."))
    return case


@dataclass
class CaseFilters:
    states: list[str] | None = None
    category: str | None = None  # a category code: that category and those below it
    platform: str | None = None
    area: str | None = None  # a region or grid code: that subtree
    department: str | None = None  # lead department code
    overdue: bool | None = None
    supervised: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None


@dataclass
class CasePage:
    items: list[Case]
    next_cursor: str | None


def _encode_cursor(case: Case) -> str:
    return base64.urlsafe_b64encode(f"{case.created_at.isoformat()}|{case.pk}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        created, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = parse_datetime(created)
        if moment is None or moment.tzinfo is None or not 2000 <= moment.year <= 2999:
            raise ValueError
        return moment, int(pk)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid_cursor", _("The cursor is not valid."), field="cursor") from exc


def category_subtree_ids(*, code: str, tree: list[CategoryNode] | None = None) -> list[int]:
    """Ids of the category `code` and every category below it.

    With `tree` (the active tree a page already holds) no query is made; without it the walk goes
    through the database and includes retired categories, so old cases can still be filtered.
    """
    if tree is not None:
        node = next((n for n in iter_tree(tree) if n.code == code), None)
        return [n.id for n in iter_tree([node])] if node else []
    ids, frontier = [], list(Category.objects.filter(code=code).values_list("pk", flat=True))
    while frontier:
        ids += frontier
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
    return ids


def case_list(*, actor: Any, filters: CaseFilters | None = None, cursor: str | None = None,
              limit: int = 50) -> CasePage:
    """A page of the cases `actor` may see, newest first, with cursor pagination."""
    f = filters or CaseFilters()
    limit = max(1, min(limit, 200))
    qs = cases_visible_to(actor).select_related(*CASE_LIST_RELATED)
    if f.states:
        unknown = set(f.states) - set(CaseState.values)
        if unknown:
            raise InvalidInput("invalid_choice", _("Unknown state: %(s)s.") % {"s": ", ".join(sorted(unknown))},
                               field="state")
        qs = qs.filter(state__in=f.states)
    if f.category:
        qs = qs.filter(category_id__in=category_subtree_ids(code=f.category))
    if f.platform:
        qs = qs.filter(platform__code=f.platform)
    if f.area:
        qs = qs.filter(area_code__startswith=f.area)
    if f.department:
        qs = qs.filter(lead_department__code=f.department)
    if f.overdue is not None:
        qs = qs.filter(warning=DeadlineWarning.RED) if f.overdue else qs.exclude(warning=DeadlineWarning.RED)
    if f.supervised is not None:
        qs = qs.filter(supervised=f.supervised)
    if f.created_from:
        qs = qs.filter(created_at__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__lt=f.created_to)
    if f.text:
        qs = qs.filter(Q(number__icontains=f.text) | Q(description__icontains=f.text) | Q(address__icontains=f.text))
    if cursor:
        created, pk = _decode_cursor(cursor)
        qs = qs.filter(Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk))
    items = list(qs.order_by("-created_at", "-pk")[: limit + 1])
    next_cursor = _encode_cursor(items[limit - 1]) if len(items) > limit else None
    return CasePage(items=items[:limit], next_cursor=next_cursor)


def case_timeline(*, case: Case, public_only: bool = False) -> list[CaseEvent]:
    events = case.events.order_by("seq")  # an event names its actor itself (actor_label)
    return list(events.filter(is_public=True) if public_only else events)


def _duplicate_reach(lat: float) -> tuple[float, timedelta, float, float]:
    """The radius (m), the window, and metres per degree of longitude and latitude at `lat`."""
    radius = float(getattr(settings, "DUPLICATE_RADIUS_M", 150))
    window = timedelta(hours=float(getattr(settings, "DUPLICATE_WINDOW_HOURS", 72)))
    mx, my = metres_per_degree(lat)
    return radius, window, mx, my


def _nearest(lon: float, lat: float, others: Iterable[Any], limit: int) -> list[Any]:
    """Of `others` (with lon and lat), those within the radius of the point, nearest first."""
    radius, _window, mx, my = _duplicate_reach(lat)
    scored = []
    for other in others:
        distance = math.hypot((float(other.lon or 0) - lon) * mx, (float(other.lat or 0) - lat) * my)
        if distance <= radius:
            scored.append((distance, other))
    return [other for _d, other in sorted(scored, key=lambda t: t[0])[:limit]]


def duplicate_candidates(*, case: Case, limit: int = 5) -> list[Case]:
    """Open cases of the same category near the case's point within the recent window."""
    if case.lon is None or case.lat is None:
        return []
    radius, window, mx, my = _duplicate_reach(case.lat)
    dlon, dlat = radius / mx, radius / my
    near = (Case.objects.filter(category_id=case.category_id, state__in=OPEN_STATES,
                                created_at__gte=(case.created_at or clock.now()) - window,
                                lon__range=(case.lon - dlon, case.lon + dlon),
                                lat__range=(case.lat - dlat, case.lat + dlat))
            .exclude(pk=case.pk).order_by("-created_at")[: limit * 4])
    return _nearest(case.lon, case.lat, near, limit)


@dataclass(frozen=True)
class _Near:
    number: str
    lon: float
    lat: float


def duplicate_numbers_many(*, cases: Sequence[Case], limit: int = 5) -> list[list[str]]:
    """What `duplicate_candidates` finds, for many new cases at once (bulk intake), as numbers: one
    query for all of them (each case's box joined to the open cases), and each case also sees the
    cases before it in the list. The cases have their numbers and are not saved yet."""
    found: list[list[_Near]] = [[] for _ in cases]
    boxes = []
    earlier: dict[int, list[_Near]] = {}  # the batch's cases with a point, by category
    for i, case in enumerate(cases):
        if case.lon is None or case.lat is None:
            continue
        radius, window, mx, my = _duplicate_reach(case.lat)
        dlon, dlat = radius / mx, radius / my
        since = connection.ops.adapt_datetimefield_value((case.created_at or clock.now()) - window)
        boxes.append((i, case.category_id, case.lon - dlon, case.lon + dlon, case.lat - dlat, case.lat + dlat, since))
        same = earlier.setdefault(case.category_id, [])
        found[i] += [other for other in same if abs(other.lon - case.lon) <= dlon and abs(other.lat - case.lat) <= dlat]
        same.append(_Near(case.number, case.lon, case.lat))
    if boxes:
        q = connection.ops.quote_name
        open_states = [str(state) for state in sorted(OPEN_STATES)]
        sql = (  # names from the model, values bound
            f"SELECT v.column1, c.{q('number')}, c.{q('lon')}, c.{q('lat')} "  # noqa: S608
            f"FROM (VALUES {', '.join(['(%s, %s, %s, %s, %s, %s, %s)'] * len(boxes))}) AS v "
            f"JOIN {q(Case._meta.db_table)} c ON c.{q('category_id')} = v.column2 "
            f"AND c.{q('lon')} BETWEEN v.column3 AND v.column4 AND c.{q('lat')} BETWEEN v.column5 AND v.column6 "
            f"AND c.{q('created_at')} >= v.column7 AND c.{q('state')} IN ({', '.join(['%s'] * len(open_states))})")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*(value for box in boxes for value in box), *open_states])
            for i, number, lon, lat in cursor.fetchall():
                found[i].append(_Near(number, lon, lat))
    return [[near.number for near in _nearest(case.lon, case.lat, found[i], limit)]  # type: ignore[arg-type]
            if found[i] else [] for i, case in enumerate(cases)]


INBOX_ORDER = (F("due_at").asc(nulls_last=True), "pk")


class MergedCases:
    """A case list read as disjoint arms, each an ordered index scan that stops after the page,
    merged by (due_at, id): what the department leads, and the assists it still owes. Reading the
    two as one query with an OR makes PostgreSQL read every open case of every department.

    Quacks like the part of a QuerySet that pages and filters use: count(), slicing, filter()."""

    def __init__(self, arms: list[QuerySet[Case]]):
        self.arms = arms

    def filter(self, *args: Any, **kwargs: Any) -> MergedCases:
        return MergedCases([arm.filter(*args, **kwargs) for arm in self.arms])

    def exclude(self, *args: Any, **kwargs: Any) -> MergedCases:
        return MergedCases([arm.exclude(*args, **kwargs) for arm in self.arms])

    def count(self) -> int:
        return sum(arm.order_by().count() for arm in self.arms)

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[0:None])

    def __getitem__(self, key: slice) -> list[Case]:
        if not isinstance(key, slice):
            return self[key:key + 1][0]
        start, stop = key.start or 0, key.stop
        keyed: list[tuple] = []
        for arm in self.arms:
            rows = arm.order_by(*INBOX_ORDER).values_list("due_at", "pk")
            keyed += rows[:stop] if stop is not None else rows
        keyed.sort(key=lambda row: (row[0] is None, row[0] or datetime.min.replace(tzinfo=UTC), row[1]))
        ids = [pk for _due, pk in keyed[start:stop]]
        found = Case.objects.select_related(*CASE_LIST_RELATED).in_bulk(ids)
        return [found[pk] for pk in ids]


def case_inbox(*, actor: Any, state: str = "", category_ids: list[int] | None = None, deadline: str = "",
               text: str = "") -> QuerySet[Case] | MergedCases:
    """Open cases the actor's department leads, or assists and has not yet reported its part on,
    the most urgent deadline first.

    `deadline`: "yellow" (due soon), "red" (overdue), "late" (either) or "" (any).
    """
    perms = permissions_for(actor)
    grants = perms.grants_for(Action.HANDLE_CASE)
    departments = sorted({d for g in grants for d in g.department_ids})
    if perms.is_superuser or any(g.area_code is not None for g in grants):
        arms = [cases_visible_to(actor, Action.HANDLE_CASE)]  # an area scope: one query serves
    else:
        pending = CaseAssist.objects.filter(department_id__in=departments, reported_at__isnull=True)
        arms = [Case.objects.filter(lead_department_id__in=departments),
                Case.objects.filter(pk__in=pending.values("case_id")).exclude(lead_department_id__in=departments)]
    filters = Q(state__in=OPEN_STATES)
    if state:
        filters &= Q(state=state)
    if category_ids is not None:
        filters &= Q(category_id__in=category_ids)
    if deadline == "red":
        filters &= Q(warning=DeadlineWarning.RED)
    elif deadline == "yellow":
        filters &= Q(warning=DeadlineWarning.YELLOW)
    elif deadline == "late":
        filters &= ~Q(warning=DeadlineWarning.NONE)
    if text:
        filters &= Q(number__icontains=text) | Q(description__icontains=text) | Q(address__icontains=text)
    arms = [arm.filter(filters) for arm in arms]
    if len(arms) == 1:
        return arms[0].select_related(*CASE_LIST_RELATED).order_by(*INBOX_ORDER)
    return MergedCases(arms)


def allowed_actions(*, actor: Any, case: Case) -> list[CaseAction]:
    """The actions the actor may take on the case now: its state is a source of the transition and
    the resolver allows it (assisting departments report their part; the lead does the rest)."""
    perms = permissions_for(actor)
    return [action for action, transition in TRANSITIONS.items()
            if case.state in transition.sources and may_act(perms, case, action)]


# residents' and the public's reads live in cases.public; named here too, with the other selectors
from fengqiao.cases.public import (  # noqa: E402, F401
    case_for_resident,
    cases_of_resident,
    public_case_card,
    public_cases,
    public_event_text,
    public_timeline,
    tracking_code_display,
)
