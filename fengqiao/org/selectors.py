"""Reads about the organisation."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from fengqiao.core.versioning import Remembered
from fengqiao.org.models import Assignment, Department
from fengqiao.org.permissions import ASSIGNMENTS_KEY, ROLE_ACTIONS, Action, Target


def _area_prefixes(area_code: str) -> list[str]:
    return [area_code[:n] for n in (6, 9, 12, 15, 18) if len(area_code) >= n]


def _department_ancestors(department_ids: frozenset[int]) -> set[int]:
    found, frontier = set(department_ids), set(department_ids)
    while frontier:
        frontier = set(Department.objects.filter(pk__in=frontier, parent__isnull=False)
                       .values_list("parent_id", flat=True)) - found
        found |= frontier
    return found


def users_who_may(action: Action, target: Target, *, roles=None) -> QuerySet:
    """Active users whose assignments allow `action` on `target` (for notifications and pickers)."""
    allowed_roles = [r for r, actions in ROLE_ACTIONS.items() if action in actions and (roles is None or r in roles)]
    scope = Q(pk__in=[])
    if target.area_code:
        prefixes = _area_prefixes(target.area_code)
        scope |= Q(region__code__in=prefixes) | Q(grid__code__in=prefixes)
    if target.department_ids:
        scope |= Q(department_id__in=_department_ancestors(target.department_ids))
    user_ids = Assignment.objects.filter(scope, role__in=allowed_roles, is_active=True).values("user_id")
    return get_user_model().objects.filter(pk__in=user_ids, is_active=True)


# Who may do what where, remembered per process (notifications ask it for every event); forgotten
# when assignments, departments, users or staff profiles change (org.signals).
_recipients: Remembered[tuple, list] = Remembered(ASSIGNMENTS_KEY)


def recipients_who_may(action: Action, target: Target) -> list:
    """`users_who_may` as a list of users with their staff profiles, remembered per process."""
    return _recipients.get((action, target.area_code, target.department_ids),
                           lambda: list(users_who_may(action, target).select_related("staff_profile")))
