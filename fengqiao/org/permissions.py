"""The one permission resolver: "may this actor do X to this object?", from role × scope.

Roles grant actions (ROLE_ACTIONS); an assignment grants its role's actions over one scope:
- a region: every object whose area code (region or grid code) starts with the region's code;
- a grid: the grid and its micro-grids (grid codes are prefixes of their micro-grids' codes);
- a department: objects that department, or one below it, is responsible for.

Views, API operations and selectors only ask the resolver; nothing else reads assignments.
Ask it as `permissions_for(user).can(Action.X, obj)`, or build a queryset filter with `.scope_q()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from django.db.models import Q

from fengqiao.core.versioning import Remembered
from fengqiao.org.models import Assignment, Department, Role

# bumped by org.signals whenever assignments, departments, staff profiles or users change
ASSIGNMENTS_KEY = "org.assignments"


class Action(StrEnum):
    VIEW_TERRITORY = "view_territory"
    MANAGE_TERRITORY = "manage_territory"
    MANAGE_ORGANISATION = "manage_organisation"
    MANAGE_CATEGORIES = "manage_categories"
    # the case loop (Step 2)
    REPORT_CASE = "report_case"
    VIEW_CASE = "view_case"
    INTAKE_CASE = "intake_case"  # accept, reject, merge, correct the category
    DISPATCH_CASE = "dispatch_case"
    HANDLE_CASE = "handle_case"  # start, report back, ask for extension or assistance
    VERIFY_CASE = "verify_case"
    CLOSE_ON_SPOT = "close_on_spot"
    SUPERVISE_CASE = "supervise_case"  # flag, remind, approve extensions, escalate
    VIEW_PERSONAL_DATA = "view_personal_data"
    VIEW_STATISTICS = "view_statistics"
    # dispute mediation (Step 5)
    MEDIATE = "mediate"  # work on the disputes assigned to oneself: sessions, agreements, follow-ups
    MANAGE_DISPUTES = "manage_disputes"  # a mediation centre: intake, risk, assignment, referral, statistics
    # the resident portal (Step 4)
    PUBLISH_AFFAIRS = "publish_affairs"  # notices, village news, village affairs disclosures (drafts)
    REVIEW_DISCLOSURE = "review_disclosure"  # the village affairs supervision committee's review
    MANAGE_APPOINTMENTS = "manage_appointments"  # services, time slots and the day's bookings


A = Action
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    # the committee's review is the committee's own: nobody else may give it, not even an administrator
    Role.ADMINISTRATOR: frozenset(Action) - {A.MEDIATE, A.REVIEW_DISCLOSURE},
    Role.OPERATOR: frozenset(
        {A.VIEW_TERRITORY, A.REPORT_CASE, A.VIEW_CASE, A.INTAKE_CASE, A.DISPATCH_CASE, A.SUPERVISE_CASE,
         A.VIEW_PERSONAL_DATA, A.VIEW_STATISTICS, A.PUBLISH_AFFAIRS, A.MANAGE_APPOINTMENTS}
    ),
    Role.DISPATCHER: frozenset({A.VIEW_TERRITORY, A.VIEW_CASE, A.INTAKE_CASE, A.DISPATCH_CASE, A.VIEW_PERSONAL_DATA}),
    Role.HANDLER: frozenset({A.VIEW_TERRITORY, A.VIEW_CASE, A.HANDLE_CASE, A.VIEW_PERSONAL_DATA,
                             A.MANAGE_APPOINTMENTS}),
    Role.GRID_WORKER: frozenset({A.VIEW_TERRITORY, A.REPORT_CASE, A.VIEW_CASE, A.VERIFY_CASE, A.CLOSE_ON_SPOT}),
    Role.GRID_CHIEF: frozenset(
        {A.VIEW_TERRITORY, A.REPORT_CASE, A.VIEW_CASE, A.VERIFY_CASE, A.CLOSE_ON_SPOT, A.SUPERVISE_CASE,
         A.VIEW_STATISTICS}
    ),
    Role.MEDIATOR: frozenset({A.VIEW_TERRITORY, A.VIEW_CASE, A.MEDIATE}),
    Role.MEDIATION_CENTRE: frozenset(
        {A.VIEW_TERRITORY, A.VIEW_CASE, A.VIEW_PERSONAL_DATA, A.MANAGE_DISPUTES, A.VIEW_STATISTICS}
    ),
    Role.CLERK: frozenset({A.VIEW_TERRITORY, A.REPORT_CASE, A.PUBLISH_AFFAIRS, A.MANAGE_APPOINTMENTS}),
    Role.COMMITTEE_MEMBER: frozenset({A.VIEW_TERRITORY, A.REVIEW_DISCLOSURE}),
    Role.LEADER: frozenset({A.VIEW_TERRITORY, A.VIEW_CASE, A.SUPERVISE_CASE, A.VIEW_STATISTICS}),
    Role.RESIDENT: frozenset({A.REPORT_CASE}),
}


class TargetLike(Protocol):
    """What the resolver checks: an area code and the departments responsible."""

    @property
    def area_code(self) -> str | None: ...

    @property
    def department_ids(self) -> frozenset[int]: ...


@dataclass(frozen=True)
class Target:
    area_code: str | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)


def target_of(obj: Any) -> TargetLike:
    from fengqiao.geo.models import Asset, Grid, Region

    if isinstance(obj, Target):
        return obj
    if isinstance(obj, Region | Grid):
        return Target(area_code=obj.code)
    if isinstance(obj, Department):
        return Target(area_code=obj.region.code, department_ids=frozenset({obj.pk}))
    if isinstance(obj, Asset):
        area = obj.grid.code if obj.grid is not None else (obj.region.code if obj.region is not None else None)
        return Target(area_code=area, department_ids=frozenset({obj.department_id} if obj.department_id else ()))
    if hasattr(obj, "permission_target"):
        return obj.permission_target()
    raise TypeError(f"no permission target for {type(obj).__name__}")


@dataclass(frozen=True)
class Grant:
    role: Role
    area_code: str | None  # region or grid code; None for a department scope
    department_ids: frozenset[int]  # the scope department and every department below it

    def covers(self, target: TargetLike) -> bool:
        if self.area_code is not None:
            return target.area_code is not None and target.area_code.startswith(self.area_code)
        return bool(self.department_ids & target.department_ids)


def _department_subtree(department_ids: Iterable[int]) -> frozenset[int]:
    found = set(department_ids)
    frontier = set(found)
    while frontier:
        frontier = set(Department.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - found
        found |= frontier
    return frozenset(found)


# each user's grants, read once per process and forgotten when the organisation changes, so a
# request does not read the assignments again (another process sees a change within
# LOCATOR_CHECK_SECONDS; a deactivated user is refused at once, by the user row itself)
_grants: Remembered[int, tuple[Grant, ...]] = Remembered(ASSIGNMENTS_KEY)


class PermissionResolver:
    def __init__(self, user: Any):
        self.user = user
        self.is_superuser = bool(getattr(user, "is_superuser", False) and user.is_active)
        self.grants: tuple[Grant, ...] = self._load() if getattr(user, "is_authenticated", False) else ()

    def _load(self) -> tuple[Grant, ...]:
        if not self.user.is_active:
            return ()
        return _grants.get(self.user.pk, self._read)

    def _read(self) -> tuple[Grant, ...]:
        grants = []
        rows = Assignment.objects.filter(user=self.user, is_active=True).select_related("region", "grid")
        for row in rows:
            role = Role(row.role)
            if row.region is not None:
                grants.append(Grant(role, row.region.code, frozenset()))
            elif row.grid is not None:
                grants.append(Grant(role, row.grid.code, frozenset()))
            elif row.department_id is not None:
                grants.append(Grant(role, None, _department_subtree([row.department_id])))
        return tuple(grants)

    # -- questions ----------------------------------------------------------------------------
    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants)

    def has_role(self, *roles: Role) -> bool:
        return self.is_superuser and Role.ADMINISTRATOR in roles or bool(self.roles & set(roles))

    def may_ever(self, action: Action) -> bool:
        """Whether some scope of the actor allows `action` (for menus and the admin)."""
        return self.is_superuser or any(action in ROLE_ACTIONS[g.role] for g in self.grants)

    def can(self, action: Action, obj: Any) -> bool:
        if self.is_superuser:
            return True
        target = target_of(obj)
        return any(action in ROLE_ACTIONS[g.role] and g.covers(target) for g in self.grants)

    def grants_for(self, action: Action) -> list[Grant]:
        return [g for g in self.grants if action in ROLE_ACTIONS[g.role]]

    def scope_q(self, action: Action, *, area_field: str, department_fields: Iterable[str] = ()) -> Q | None:
        """A filter for the objects `action` may touch; None means everything (superuser).

        `area_field` names the field holding the object's area code (region or grid code);
        `department_fields` name the fields holding responsible departments' ids.
        """
        if self.is_superuser:
            return None
        q = Q(pk__in=[])
        department_fields = list(department_fields)
        for grant in self.grants_for(action):
            if grant.area_code is not None:
                q |= Q(**{f"{area_field}__startswith": grant.area_code})
            else:
                for name in department_fields:
                    q |= Q(**{f"{name}__in": sorted(grant.department_ids)})
        return q

    def area_codes(self, action: Action) -> list[str]:
        """The area prefixes in which `action` is allowed (department scopes not included)."""
        return sorted({g.area_code for g in self.grants_for(action) if g.area_code is not None})


def permissions_for(user: Any) -> PermissionResolver:
    """The resolver for `user`, built once per user object (so once per request)."""
    resolver = getattr(user, "_fengqiao_permissions", None)
    if resolver is None:
        resolver = PermissionResolver(user)
        try:
            user._fengqiao_permissions = resolver
        except AttributeError:
            pass
    return resolver
