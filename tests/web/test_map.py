# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The grid map and the supervision view: scope, counts, drill-down, query counts, bad input."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, Channel
from fengqiao.org.models import Role
from tests.cases.conftest import clock, loop  # noqa: F401
from tests.factories import AssignmentFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_pages")]


def report_in(loop, grid, n=1, **extra):
    """`n` cases reported by phone at the centre of `grid` (by the operator of the grid's township)."""
    town_a = loop.territory.townships[0]
    actor = loop.operator if grid.code.startswith(town_a.code) else loop.other_operator
    lon, lat = loop.territory.grid_centre(grid)
    return [s.case_report(actor=actor, channel=Channel.HOTLINE, category=loop.category,
                          description=f"路灯不亮 {i}", lon=lon, lat=lat, **extra) for i in range(n)]


def staff(role, **scope):
    user = UserFactory()
    AssignmentFactory(user=user, role=role, **scope)
    return user


def data(client, **params):
    response = client.get(reverse("web:map_data"), params)
    assert response.status_code == 200, response.content
    return response.json()


# -- scope ----------------------------------------------------------------------------------------
def test_a_grid_workers_map_holds_only_their_grid(loop, signed_in):
    grids = loop.territory.grids
    mine = report_in(loop, grids[0], 2)
    report_in(loop, grids[1], 3)  # the neighbouring grid of the same village
    report_in(loop, grids[4], 1)  # the other township

    body = data(signed_in(loop.grid_worker))

    assert [a["code"] for a in body["areas"]] == [loop.grid.code]
    assert [f["id"] for f in body["geojson"]["features"]] == [loop.grid.code]
    assert body["areas"][0]["open"] == 2
    assert body["totals"] == {"open": 2, "overdue": 0, "flagged": 0}
    assert sorted(p["number"] for p in body["pins"]) == sorted(c.number for c in mine)
    assert body["crumbs"] == [{"code": loop.grid.code, "name": loop.grid.name}]
    # nothing above or beside the grid
    client = signed_in(loop.grid_worker)
    for code in (loop.territory.villages[0].code, grids[1].code, loop.territory.townships[0].code):
        assert client.get(reverse("web:map_data"), {"area": code}).status_code == 404
        assert client.get(reverse("web:map_area_cases", args=[code])).status_code == 404


def test_another_townships_leader_sees_none_of_ours(loop, signed_in):
    town_a, town_b = loop.territory.townships
    ours = report_in(loop, loop.grid, 3)
    Case.objects.filter(pk=ours[0].pk).update(warning="red", supervised=True)
    other_leader = staff(Role.LEADER, region=town_b)
    client = signed_in(other_leader)

    body = data(client)
    assert body["area"]["code"] == town_b.code
    assert all(a["code"].startswith(town_b.code) for a in body["areas"])
    assert body["totals"] == {"open": 0, "overdue": 0, "flagged": 0}
    assert body["pins"] == []
    assert client.get(reverse("web:map_data"), {"area": town_a.code}).status_code == 404
    assert client.get(reverse("web:map"), {"area": town_a.code}).status_code == 404
    assert client.get(reverse("web:map_area_cases", args=[loop.grid.code])).status_code == 404

    page = client.get(reverse("web:leader"))
    assert page.status_code == 200
    html = page.content.decode()
    assert not any(case.number in html for case in ours)
    assert page.context["summary"].totals == {"open": 0, "overdue": 0, "flagged": 0}
    assert client.get(reverse("web:leader"), {"area": town_a.code}).status_code == 404


def test_a_department_sees_its_region_with_only_its_cases(loop, signed_in):
    led = report_in(loop, loop.grid, 1)[0]
    report_in(loop, loop.grid, 2)  # not dispatched: the command centre's, not the department's
    s.case_accept(actor=loop.operator, number=led.number)
    s.case_dispatch(actor=loop.operator, number=led.number, department=loop.enforcement)

    body = data(signed_in(loop.handler))

    assert body["area"]["code"] == loop.territory.townships[0].code
    assert body["totals"]["open"] == 1
    assert [p["number"] for p in body["pins"]] == [led.number]


# -- drill-down, counts, pins ---------------------------------------------------------------------
def test_the_operator_drills_from_township_to_village_to_grid(loop, signed_in):
    town_a = loop.territory.townships[0]
    village = loop.territory.villages[0]
    grid0, grid1 = loop.territory.grids[0], loop.territory.grids[1]
    first = report_in(loop, grid0, 2)
    report_in(loop, grid1, 1)
    Case.objects.filter(pk=first[0].pk).update(warning="red")
    Case.objects.filter(pk=first[1].pk).update(supervised=True)
    client = signed_in(loop.operator)

    top = data(client)
    assert top["area"]["code"] == town_a.code
    assert [a["code"] for a in top["areas"]] == [v.code for v in loop.territory.villages[:2]]
    assert top["areas"][0] | {"label_at": None} == {
        "code": village.code, "name": village.name, "kind": "region", "level": "village", "drill": True,
        "open": 3, "overdue": 1, "flagged": 1, "has_geometry": True, "label_at": None}
    assert top["areas"][0]["label_at"] is not None
    assert top["totals"] == {"open": 3, "overdue": 1, "flagged": 1}

    down = data(client, area=village.code)
    assert [(a["code"], a["open"], a["overdue"], a["flagged"], a["drill"]) for a in down["areas"]] == [
        (grid0.code, 2, 1, 1, False), (grid1.code, 1, 0, 0, False)]
    assert [c["code"] for c in down["crumbs"]] == [town_a.code, village.code]
    assert down["geojson"]["type"] == "FeatureCollection"
    assert {f["properties"]["name"] for f in down["geojson"]["features"]} == {grid0.code, grid1.code}

    leaf = data(client, area=grid0.code)
    assert [a["code"] for a in leaf["areas"]] == [grid0.code]
    assert leaf["totals"]["open"] == 2
    assert [c["code"] for c in leaf["crumbs"]] == [town_a.code, village.code, grid0.code]


def test_closed_cases_are_not_counted_and_pins_are_bounded(loop, signed_in, monkeypatch):
    made = report_in(loop, loop.grid, 4)
    s.case_reject(actor=loop.operator, number=made[0].number, reason="重复")
    monkeypatch.setattr("fengqiao.web.mapdata.PIN_LIMIT", 2)
    from fengqiao.web.mapdata import map_data

    result = map_data(actor=loop.operator, area=loop.grid.code, pins=2)
    assert result.totals["open"] == 3
    assert len(result.pins) == 2 and result.pins_truncated
    assert {p["number"] for p in result.pins} <= {c.number for c in made[1:]}
    assert all(p["url"] == f"/cases/{p['number']}/" or p["url"].endswith(f"{p['number']}/") for p in result.pins)


@pytest.mark.parametrize("code", ["abc", "1", "33068110'--", "3306811012010019999", "999999"])
def test_bad_or_unknown_area_codes_are_not_found(loop, signed_in, code):
    client = signed_in(loop.operator)
    assert client.get(reverse("web:map_data"), {"area": code}).status_code == 404
    assert client.get(reverse("web:map"), {"area": code}).status_code == 404


def test_the_map_needs_a_signed_in_viewer(loop, client, signed_in):
    response = client.get(reverse("web:map"))
    assert response.status_code == 302 and reverse("web:login") in response["Location"]
    resident = staff(Role.RESIDENT, region=loop.territory.villages[0])
    assert signed_in(resident).get(reverse("web:map")).status_code == 403
    assert signed_in(resident).get(reverse("web:leader")).status_code == 403


# -- pages ----------------------------------------------------------------------------------------
def test_the_map_page_embeds_its_data_and_a_table_that_works_without_javascript(loop, signed_in):
    report_in(loop, loop.grid, 1)
    client = signed_in(loop.operator)

    page = client.get(reverse("web:map"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="map-data"' in html and 'id="map-chart"' in html
    assert "vendor/echarts/echarts.min.js" in html
    village = loop.territory.villages[0]
    assert f'href="/map/?area={village.code}"' in html
    assert reverse("web:map_area_cases", args=[village.code]) in html

    partial = client.get(reverse("web:map"), {"area": village.code}, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert partial.status_code == 200
    assert 'id="map-panel"' in body and 'id="map-areas-table"' in body and "<html" not in body
    assert loop.grid.name in body


def test_the_cases_of_a_grid_link_to_the_case_page(loop, signed_in):
    made = report_in(loop, loop.grid, 2)
    s.case_reject(actor=loop.operator, number=made[0].number, reason="不属实")
    client = signed_in(loop.operator)
    url = reverse("web:map_area_cases", args=[loop.grid.code])

    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial
    assert f"/cases/{made[1].number}/" in partial
    assert made[0].number not in partial  # closed: only with ?all=1
    assert made[0].number in client.get(url, {"all": "1"}).content.decode()
    full = client.get(url)
    assert full.status_code == 200 and "<html" in full.content.decode()
    # a forged cursor starts again from the newest, never a 500
    assert client.get(url, {"cursor": "not-a-cursor"}).status_code == 200


# -- query counts ---------------------------------------------------------------------------------
def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_map_costs_the_same_number_of_queries_with_5_and_50_cases(loop, signed_in):
    client = signed_in(loop.operator)
    village = loop.territory.villages[0].code
    report_in(loop, loop.grid, 5)
    few = [_queries(client, reverse("web:map_data"), {"area": a}) for a in ("", village, loop.grid.code)]
    few_page = _queries(client, reverse("web:map"))
    report_in(loop, loop.grid, 45)
    report_in(loop, loop.territory.grids[1], 5)
    many = [_queries(client, reverse("web:map_data"), {"area": a}) for a in ("", village, loop.grid.code)]
    assert many == few
    assert _queries(client, reverse("web:map")) == few_page
    assert max(many) <= 10


def test_the_supervision_view_costs_a_bounded_number_of_queries(loop, signed_in, django_assert_max_num_queries):
    client = signed_in(loop.leader)
    made = report_in(loop, loop.grid, 5)
    Case.objects.filter(pk__in=[c.pk for c in made[:3]]).update(warning="red")
    few = _queries(client, reverse("web:leader"))
    made = report_in(loop, loop.territory.grids[2], 40)
    Case.objects.filter(pk__in=[c.pk for c in made[:30]]).update(warning="red", supervised=True)
    with django_assert_max_num_queries(few):
        client.get(reverse("web:leader"))
    assert few <= 16


# -- the supervision view -------------------------------------------------------------------------
def test_the_leader_sees_overdue_and_flagged_cases_by_area_and_department(loop, signed_in):
    made = report_in(loop, loop.grid, 3) + report_in(loop, loop.territory.grids[2], 2)
    for case in made[:2]:
        s.case_accept(actor=loop.operator, number=case.number)
        s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    Case.objects.filter(pk__in=[made[0].pk, made[3].pk]).update(warning="red")
    s.case_flag(actor=loop.leader, number=made[1].number, reason="群众反映强烈")
    client = signed_in(loop.leader)

    response = client.get(reverse("web:leader"))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.totals == {"open": 5, "overdue": 2, "flagged": 1}
    assert summary.area_level == "village"  # one township in scope: its villages
    villages = {r.key: (r.open, r.overdue, r.flagged) for r in summary.by_area}
    assert villages == {loop.territory.villages[0].code: (3, 1, 1), loop.territory.villages[1].code: (2, 1, 0)}
    departments = {r.key: (r.open, r.overdue, r.flagged) for r in summary.by_department}
    assert departments[loop.enforcement.code] == (2, 1, 1)
    assert departments[""] == (3, 1, 0)  # not dispatched yet
    assert {c.number for c, _url in response.context["overdue"]} == {made[0].number, made[3].number}
    assert [c.number for c, _url in response.context["flagged"]] == [made[1].number]
    html = response.content.decode()
    assert f"/cases/{made[0].number}/" in html and 'id="leader-data"' in html

    only_department = client.get(reverse("web:leader"), {"department": loop.enforcement.code})
    assert only_department.context["summary"].totals == {"open": 2, "overdue": 1, "flagged": 1}
    only_village = client.get(reverse("web:leader"), {"area": loop.territory.villages[1].code})
    assert only_village.context["summary"].totals == {"open": 2, "overdue": 1, "flagged": 0}
    assert client.get(reverse("web:leader"), {"department": "no such/../thing"}).status_code == 404
    assert client.get(reverse("web:leader"), {"oc": "forged"}).status_code == 200


def test_a_county_leader_sees_townships(loop, signed_in):
    report_in(loop, loop.grid, 1)
    report_in(loop, loop.territory.grids[4], 2)
    county_leader = staff(Role.LEADER, region=loop.territory.county)
    summary = signed_in(county_leader).get(reverse("web:leader")).context["summary"]
    assert summary.area_level == "township"
    assert {r.key: r.open for r in summary.by_area} == {t.code: n for t, n in zip(loop.territory.townships, (1, 2),
                                                                                   strict=True)}
