"""Role × scope matrix for the one permission resolver."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fengqiao.geo.models import Grid, Region
from fengqiao.org.models import Role
from fengqiao.org.permissions import ROLE_ACTIONS, Action, Target, permissions_for
from tests.factories import (
    AssetFactory,
    AssignmentFactory,
    DepartmentFactory,
    GridFactory,
    UserFactory,
    square,
)

# What each role may do, written out independently of ROLE_ACTIONS so a slip in either shows.
A = Action
EXPECTED = {
    Role.ADMINISTRATOR: set(Action) - {A.MEDIATE, A.REVIEW_DISCLOSURE},
    Role.OPERATOR: {A.VIEW_TERRITORY, A.REPORT_CASE, A.VIEW_CASE, A.INTAKE_CASE, A.DISPATCH_CASE,
                    A.SUPERVISE_CASE, A.VIEW_PERSONAL_DATA, A.VIEW_STATISTICS, A.PUBLISH_AFFAIRS,
                    A.MANAGE_APPOINTMENTS},
    Role.DISPATCHER: {A.VIEW_TERRITORY, A.VIEW_CASE, A.INTAKE_CASE, A.DISPATCH_CASE, A.VIEW_PERSONAL_DATA},
    Role.HANDLER: {A.VIEW_TERRITORY, A.VIEW_CASE, A.HANDLE_CASE, A.VIEW_PERSONAL_DATA, A.MANAGE_APPOINTMENTS},
    Role.GRID_WORKER: {A.VIEW_TERRITORY, A.REPORT_CASE, A.VIEW_CASE, A.VERIFY_CASE, A.CLOSE_ON_SPOT},
    Role.GRID_CHIEF: {A.VIEW_TERRITORY, A.REPORT_CASE, A.VIEW_CASE, A.VERIFY_CASE, A.CLOSE_ON_SPOT,
                      A.SUPERVISE_CASE, A.VIEW_STATISTICS},
    Role.MEDIATOR: {A.VIEW_TERRITORY, A.VIEW_CASE, A.MEDIATE},
    Role.MEDIATION_CENTRE: {A.VIEW_TERRITORY, A.VIEW_CASE, A.VIEW_PERSONAL_DATA, A.MANAGE_DISPUTES,
                            A.VIEW_STATISTICS},
    Role.CLERK: {A.VIEW_TERRITORY, A.REPORT_CASE, A.PUBLISH_AFFAIRS, A.MANAGE_APPOINTMENTS},
    Role.COMMITTEE_MEMBER: {A.VIEW_TERRITORY, A.REVIEW_DISCLOSURE},
    Role.LEADER: {A.VIEW_TERRITORY, A.VIEW_CASE, A.SUPERVISE_CASE, A.VIEW_STATISTICS},
    Role.RESIDENT: {A.REPORT_CASE},
}


def test_role_table_is_as_written():
    assert {role: set(actions) for role, actions in ROLE_ACTIONS.items()} == EXPECTED
    assert set(ROLE_ACTIONS) == set(Role)


@pytest.fixture
def world(territory):
    town_a, town_b = territory.townships
    dept_a = DepartmentFactory(code="a-enforcement", region=town_a)
    dept_a1 = DepartmentFactory(code="a-enforcement-squad-1", region=town_a, parent=dept_a)
    dept_b = DepartmentFactory(code="b-enforcement", region=town_b)
    grid_a = territory.grids[0]  # in township A
    micro = GridFactory(region=grid_a.region, parent=grid_a, code=f"{grid_a.code}001",
                        geometry=square(120.0, 29.0, 0.005))
    sibling = territory.grids[1]  # same village, other grid
    grid_b = territory.grids[-1]  # township B
    return {
        "scopes": {"region": {"region": town_a}, "grid": {"grid": grid_a}, "department": {"department": dept_a}},
        # a matter inside every scope above: in grid A's micro-grid, handled by a department below dept A
        "inside": Target(area_code=micro.code, department_ids=frozenset({dept_a1.pk})),
        # a matter in township B handled by township B's department: outside every scope above
        "outside": Target(area_code=grid_b.code, department_ids=frozenset({dept_b.pk})),
        "sibling": Target(area_code=sibling.code, department_ids=frozenset({dept_b.pk})),
        "grid_a": grid_a, "grid_b": grid_b, "town_a": town_a, "dept_a1": dept_a1, "dept_b": dept_b,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("scope", ["region", "grid", "department"])
def test_role_by_scope_matrix(world, role, scope):
    user = UserFactory()
    AssignmentFactory(user=user, role=role, **world["scopes"][scope])
    perms = permissions_for(user)
    for action in Action:
        allowed = action in EXPECTED[role]
        assert perms.can(action, world["inside"]) is allowed, (role, scope, action, "inside")
        assert perms.can(action, world["outside"]) is False, (role, scope, action, "outside")
    if scope == "grid":
        # a grid scope is that grid and its micro-grids, not the neighbouring grid
        assert not any(perms.can(a, world["sibling"]) for a in Action)


@pytest.mark.django_db
def test_objects_of_the_territory_are_checked_by_their_codes(world):
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.ADMINISTRATOR, region=world["town_a"])
    perms = permissions_for(user)
    assert perms.can(Action.MANAGE_TERRITORY, world["grid_a"])
    assert perms.can(Action.MANAGE_TERRITORY, world["town_a"])
    assert not perms.can(Action.MANAGE_TERRITORY, world["grid_b"])
    assert not perms.can(Action.MANAGE_TERRITORY, world["town_a"].parent)  # the county above
    assert perms.can(Action.MANAGE_ORGANISATION, world["dept_a1"])
    assert not perms.can(Action.MANAGE_ORGANISATION, world["dept_b"])
    asset_in = AssetFactory(grid=world["grid_a"])
    asset_out = AssetFactory(grid=world["grid_b"])
    assert perms.can(Action.MANAGE_TERRITORY, asset_in)
    assert not perms.can(Action.MANAGE_TERRITORY, asset_out)


@pytest.mark.django_db
def test_scope_filter_returns_only_objects_in_scope(world, territory):
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.GRID_WORKER, grid=world["grid_a"])
    AssignmentFactory(user=user, role=Role.LEADER, region=territory.villages[3])
    perms = permissions_for(user)
    q = perms.scope_q(Action.VIEW_CASE, area_field="code")
    visible = set(Grid.objects.filter(q).values_list("code", flat=True))
    expected = {world["grid_a"].code, f"{world['grid_a'].code}001"} | {
        g.code for g in territory.grids if g.region_id == territory.villages[3].pk
    }
    assert visible == expected
    # verification is the grid worker's, not the leader's
    q = perms.scope_q(Action.VERIFY_CASE, area_field="code")
    assert set(Grid.objects.filter(q).values_list("code", flat=True)) == {world["grid_a"].code, f"{world['grid_a'].code}001"}
    # nothing at all for an action no role of the user has
    assert not Region.objects.filter(perms.scope_q(Action.MANAGE_CATEGORIES, area_field="code")).exists()


@pytest.mark.django_db
def test_department_scope_filter(world):
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.HANDLER, department=world["dept_a1"].parent)
    perms = permissions_for(user)
    from fengqiao.org.models import Department

    q = perms.scope_q(Action.HANDLE_CASE, area_field="region__code", department_fields=["pk"])
    assert set(Department.objects.filter(q).values_list("code", flat=True)) == {"a-enforcement", "a-enforcement-squad-1"}


@pytest.mark.django_db
def test_inactive_assignments_and_users_grant_nothing(world):
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.OPERATOR, region=world["town_a"], is_active=False)
    assert not permissions_for(user).can(Action.VIEW_CASE, world["inside"])
    other = UserFactory(is_active=False)
    AssignmentFactory(user=other, role=Role.OPERATOR, region=world["town_a"])
    assert not permissions_for(other).can(Action.VIEW_CASE, world["inside"])
    assert not permissions_for(AnonymousUser()).can(Action.VIEW_CASE, world["inside"])


@pytest.mark.django_db
def test_superuser_may_do_everything_everywhere(world):
    admin = UserFactory(is_superuser=True, is_staff=True)
    perms = permissions_for(admin)
    assert all(perms.can(a, world["outside"]) for a in Action)
    assert perms.scope_q(Action.VIEW_CASE, area_field="code") is None


@pytest.mark.django_db
def test_an_assignment_has_exactly_one_scope(world):
    from django.db import IntegrityError, transaction

    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        AssignmentFactory(user=user, role=Role.OPERATOR, region=world["town_a"], grid=world["grid_a"])
    with pytest.raises(IntegrityError), transaction.atomic():
        AssignmentFactory(user=user, role=Role.OPERATOR)


@pytest.mark.django_db
def test_grants_are_read_once_per_process_and_again_after_a_change(world):
    user = UserFactory()
    assignment = AssignmentFactory(user=user, role=Role.OPERATOR, region=world["town_a"])
    assert permissions_for(user).can(Action.VIEW_CASE, world["inside"])
    fresh = get_user_model().objects.get(pk=user.pk)  # the next request's user object
    with CaptureQueriesContext(connection) as queries:
        assert permissions_for(fresh).can(Action.VIEW_CASE, world["inside"])
    assert not [q for q in queries.captured_queries if "org_assignment" in q["sql"]]
    assignment.is_active = False
    assignment.save()  # org.signals: every process forgets the grants
    later = get_user_model().objects.get(pk=user.pk)
    assert not permissions_for(later).can(Action.VIEW_CASE, world["inside"])
    assignment.is_active = True
    assignment.save()
    assert permissions_for(get_user_model().objects.get(pk=user.pk)).can(Action.VIEW_CASE, world["inside"])
    # a deactivated user is refused by the user row itself, at once, whatever a process kept
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)  # no signal, no forgetting
    assert not permissions_for(get_user_model().objects.get(pk=user.pk)).can(Action.VIEW_CASE, world["inside"])
