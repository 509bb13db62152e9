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
        parent_id = parents[pk]
        if parent_id is None:
            roots.append(node)
        elif parent_id in nodes:
            nodes[parent_id].children.append(node)
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
