"""Case reads: scope, filters, cursor pages and a bounded number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fengqiao.cases import services as s
from fengqiao.cases.selectors import CaseFilters, case_get, case_list, case_timeline, category_by_code
from fengqiao.core.errors import InvalidInput, NotFound
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, CategoryFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_cases(loop, n, grid=None):
    lon, lat = loop.point(grid)
    actor = loop.operator if grid is None or grid == loop.grid else None
    made = []
    for i in range(n):
        made.append(s.case_report(actor=actor or loop.county_operator, channel="hotline", category=loop.category,
                                  description=f"事项 {i}", lon=lon + 0.0001 * i, lat=lat))
    return made


@pytest.fixture
def county_operator(loop, territory):
    user = UserFactory()
    AssignmentFactory(user=user, role=Role.OPERATOR, region=territory.county)
    loop.county_operator = user
    return user


def test_each_actor_sees_only_their_scope(loop, territory, county_operator):
    ours = make_cases(loop, 3)
    theirs = make_cases(loop, 2, grid=territory.grids[-1])  # township B
    numbers = lambda page: {c.number for c in page.items}  # noqa: E731
    assert numbers(case_list(actor=loop.operator)) == {c.number for c in ours}
    assert numbers(case_list(actor=loop.other_operator)) == {c.number for c in theirs}
    assert numbers(case_list(actor=county_operator)) == {c.number for c in ours + theirs}
    assert numbers(case_list(actor=loop.grid_worker)) == {c.number for c in ours}
    assert case_list(actor=loop.handler).items == []  # nothing dispatched to the department yet
    with pytest.raises(NotFound):
        case_get(actor=loop.other_operator, number=ours[0].number)


def test_a_department_sees_what_it_leads_or_assists(loop):
    case = make_cases(loop, 1)[0]
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number)
    assert [c.number for c in case_list(actor=loop.handler).items] == [case.number]
    assert case_list(actor=loop.county_handler).items == []
    s.case_request_assist(actor=loop.handler, number=case.number, departments=[loop.county_enforcement])
    assert [c.number for c in case_list(actor=loop.county_handler).items] == [case.number]


def test_filters_and_cursor_pages(loop, clock):
    made = []
    for hour in range(9, 14):
        clock.set(2025, 11, 10, hour, 0)
        made += make_cases(loop, 1)
    s.case_accept(actor=loop.operator, number=made[0].number)
    first = case_list(actor=loop.operator, limit=2)
    second = case_list(actor=loop.operator, limit=2, cursor=first.next_cursor)
    third = case_list(actor=loop.operator, limit=2, cursor=second.next_cursor)
    pages = [c.number for page in (first, second, third) for c in page.items]
    assert pages == [c.number for c in reversed(made)] and third.next_cursor is None
    accepted = case_list(actor=loop.operator, filters=CaseFilters(states=["accepted"]))
    assert [c.number for c in accepted.items] == [made[0].number]
    assert case_list(actor=loop.operator, filters=CaseFilters(area=loop.grid.code)).items
    assert not case_list(actor=loop.operator, filters=CaseFilters(area="330681102")).items
    assert len(case_list(actor=loop.operator, filters=CaseFilters(text="事项 0")).items) == 5
    with pytest.raises(InvalidInput):
        case_list(actor=loop.operator, filters=CaseFilters(states=["lost"]))
    with pytest.raises(InvalidInput):
        case_list(actor=loop.operator, cursor="not-a-cursor")


@pytest.mark.parametrize("n", [5, 25])
def test_the_list_costs_the_same_number_of_queries_whatever_its_length(loop, n, django_assert_max_num_queries):
    make_cases(loop, n)
    from fengqiao.org.permissions import permissions_for

    permissions_for(loop.operator)  # the resolver is loaded once per request, before the list
    with django_assert_max_num_queries(1):
        page = case_list(actor=loop.operator, limit=50)
        assert len(page.items) == n
        for case in page.items:  # what a list row shows
            assert case.category.name and case.grid.name and case.lead_department is None


def test_timeline_hides_internal_events_from_the_public(loop, clock):
    case = make_cases(loop, 1)[0]
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number)
    clock.set(2025, 11, 20, 9, 0)
    s.sweep_deadlines()
    staff = [e.action for e in case_timeline(case=case)]
    public = [e.action for e in case_timeline(case=case, public_only=True)]
    assert "overdue" in staff and "overdue" not in public


def test_a_category_by_its_code_follows_the_catalogue(loop):
    assert category_by_code(loop.category.code) == loop.category
    with CaptureQueriesContext(connection) as queries:  # the process keeps the catalogue
        found = category_by_code(loop.category.code)
    assert not [q for q in queries.captured_queries if "cases_category" in q["sql"]]
    assert found.platform.code == loop.category.platform.code
    assert category_by_code("9999") is None
    loop.category.is_active = False
    loop.category.save()  # a change to the catalogue is seen at once
    assert category_by_code(loop.category.code).is_active is False
    added = CategoryFactory(code="9901", platform=loop.category.platform)
    assert category_by_code("9901") == added
