"""The case list: filters, cursor pagination, scope and a query count that does not grow with the page."""

import pytest

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, DeadlineWarning
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["number"] for item in response.json()["items"]]


@pytest.fixture
def cases(loop, clock):
    """Six cases over three days, two grids and two categories, in several states."""
    other_category = CategoryFactory(code="0302", name_zh="噪声扰民", name_en="Noise")
    made = {}
    clock.set(2025, 11, 10, 9, 0)
    made["plain"] = loop.report(description="井盖缺失")
    made["accepted"] = loop.report(description="路灯不亮")
    s.case_accept(actor=loop.operator, number=made["accepted"].number)
    clock.set(2025, 11, 11, 9, 0)
    made["dispatched"] = loop.report(description="占道经营 水果摊")
    s.case_accept(actor=loop.operator, number=made["dispatched"].number)
    s.case_dispatch(actor=loop.operator, number=made["dispatched"].number)
    made["noise"] = loop.report(category=other_category, description="夜间施工噪声")
    clock.set(2025, 11, 12, 9, 0)
    second_grid = loop.territory.grids[1]
    lon, lat = loop.point(second_grid)
    made["elsewhere"] = s.case_report(actor=loop.operator, channel="hotline", category=loop.category,
                                      description="垃圾满溢", lon=lon, lat=lat)
    made["flagged"] = loop.report(description="广告乱贴")
    s.case_flag(actor=loop.leader, number=made["flagged"].number, reason="督办")
    Case.objects.filter(pk=made["plain"].pk).update(warning=DeadlineWarning.RED)
    return {key: case.number for key, case in made.items()}


def test_filters(loop, cases, as_user):
    api = as_user(loop.operator)
    everything = _numbers(api.get("/cases"))
    assert set(everything) == set(cases.values()) and len(everything) == 6
    # newest first
    assert everything.index(cases["flagged"]) < everything.index(cases["dispatched"]) < everything.index(
        cases["plain"])

    assert set(_numbers(api.get("/cases", {"state": "accepted"}))) == {cases["accepted"]}
    assert set(_numbers(api.get("/cases", {"state": ["accepted", "dispatched"]}))) == {
        cases["accepted"], cases["dispatched"]}
    assert _numbers(api.get("/cases", {"category": "0302"})) == [cases["noise"]]
    assert cases["noise"] not in _numbers(api.get("/cases", {"category": loop.category.code}))
    assert set(_numbers(api.get("/cases", {"platform": "enforcement"}))) == set(cases.values())
    assert _numbers(api.get("/cases", {"platform": "services"})) == []
    assert _numbers(api.get("/cases", {"area": loop.territory.grids[1].code})) == [cases["elsewhere"]]
    assert len(_numbers(api.get("/cases", {"area": loop.grid.code[:12]}))) == 6  # the village: both grids
    assert _numbers(api.get("/cases", {"department": loop.enforcement.code})) == [cases["dispatched"]]
    assert _numbers(api.get("/cases", {"overdue": "true"})) == [cases["plain"]]
    assert cases["plain"] not in _numbers(api.get("/cases", {"overdue": "false"}))
    assert _numbers(api.get("/cases", {"supervised": "true"})) == [cases["flagged"]]
    assert set(_numbers(api.get("/cases", {"created_from": "2025-11-11T00:00:00+08:00",
                                           "created_to": "2025-11-12T00:00:00+08:00"}))) == {
        cases["dispatched"], cases["noise"]}
    # a date without a time zone is read in the platform's zone
    assert set(_numbers(api.get("/cases", {"created_from": "2025-11-12"}))) == {cases["elsewhere"], cases["flagged"]}
    assert _numbers(api.get("/cases", {"q": "水果"})) == [cases["dispatched"]]
    assert _numbers(api.get("/cases", {"q": cases["noise"]})) == [cases["noise"]]


def test_list_items_carry_no_personal_data(loop, clock, as_user):
    loop.report(reporter_name="张三丰", reporter_phone="13812341234", address="枫桥镇东岳村3组15号")
    item = as_user(loop.operator).get("/cases").json()["items"][0]
    assert "reporter" not in item and "13812341234" not in str(item) and "张三丰" not in str(item)
    assert item["address"] == "枫桥镇东岳村****"


def test_cursor_pagination_walks_every_case_once(loop, clock, as_user):
    for i in range(5):
        loop.report(description=f"事项 {i}")  # the same moment: the cursor breaks ties by id
    api = as_user(loop.operator)
    first = api.get("/cases", {"limit": 2}).json()
    second = api.get("/cases", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api.get("/cases", {"limit": 2, "cursor": second["next_cursor"]}).json()
    pages = [[i["number"] for i in page["items"]] for page in (first, second, third)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert third["next_cursor"] is None
    seen = [n for page in pages for n in page]
    assert len(set(seen)) == 5 and set(seen) == set(Case.objects.values_list("number", flat=True))
    # filters and cursor together
    page = api.get("/cases", {"limit": 2, "cursor": first["next_cursor"], "q": "事项"}).json()
    assert [i["number"] for i in page["items"]] == pages[1]


def test_scope(loop, cases, as_user):
    assert _numbers(as_user(loop.other_operator).get("/cases")) == []
    # a handler sees the cases of its department only
    assert _numbers(as_user(loop.handler).get("/cases")) == [cases["dispatched"]]
    assert _numbers(as_user(loop.other_handler).get("/cases")) == []
    # the grid worker sees its own grid, not the neighbouring one
    assert cases["elsewhere"] not in _numbers(as_user(loop.grid_worker).get("/cases"))
    # a filter cannot widen the scope
    assert _numbers(as_user(loop.other_operator).get("/cases", {"area": loop.grid.code})) == []


def _report_many(loop, n):
    for i in range(n):
        loop.report(description=f"第{i}件")


@pytest.mark.parametrize("n", [10, 30])
def test_the_list_costs_the_same_queries_for_10_or_30_cases(loop, clock, as_user, n, django_assert_max_num_queries):
    _report_many(loop, n)
    api = as_user(loop.operator)
    api.get("/cases")  # the token's first use is recorded once; measure the steady state
    # the token, the caller's assignments, the page (categories, grids, departments joined in); one spare
    with django_assert_max_num_queries(4):
        response = api.get("/cases", {"limit": 50})
    assert len(response.json()["items"]) == n
