# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The command-centre desk: scope, the queue, the case panel's actions and the hotline form."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, Channel
from fengqiao.cases.states import CaseState
from tests.cases.conftest import clock, loop  # noqa: F401
from tests.factories import CategoryFactory, jpeg_bytes

pytestmark = pytest.mark.django_db
S = CaseState
DESK = reverse("web:desk")
HOTLINE = reverse("web:desk_hotline")


@pytest.fixture(autouse=True)
def _plain_http(settings, tmp_path):
    settings.SECURE_SSL_REDIRECT = False
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"


def case_url(case) -> str:
    return reverse("web:desk_case", args=[case.number])


def action_url(case, action: str) -> str:
    return reverse("web:desk_case_action", args=[case.number, action])


def as_user(client, user):
    client.force_login(user)
    return client


def queue_numbers(response) -> list[str]:
    return re.findall(r'data-number="([^"]+)"', response.content.decode())


# -- who works at the desk -------------------------------------------------------------------------
def test_the_desk_asks_to_sign_in(client):
    response = client.get(DESK)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("who", ["grid_worker", "handler", "leader"])
def test_staff_who_neither_take_in_nor_dispatch_are_refused(client, loop, who):
    case = loop.report()
    as_user(client, getattr(loop, who))
    assert client.get(DESK).status_code == 403
    assert client.get(case_url(case)).status_code == 403
    assert client.get(HOTLINE).status_code == 403
    assert client.post(action_url(case, "accept"), {"version": case.version}).status_code == 403
    assert Case.objects.get(pk=case.pk).state == S.REPORTED


def test_another_townships_operator_gets_not_found(client, loop):
    case = loop.report()
    as_user(client, loop.other_operator)
    assert client.get(case_url(case)).status_code == 404
    assert client.post(action_url(case, "accept"), {"version": case.version}).status_code == 404
    assert Case.objects.get(pk=case.pk).state == S.REPORTED
    assert case.number not in queue_numbers(client.get(DESK))


def test_an_unknown_case_or_action_is_not_found(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    assert client.get(reverse("web:desk_case", args=["330681101-20990101-0001"])).status_code == 404
    assert client.post(action_url(case, "close"), {"version": case.version}).status_code == 404
    assert client.get(action_url(case, "accept")).status_code == 405


# -- the queue -------------------------------------------------------------------------------------
def test_the_queue_holds_reported_and_accepted_cases_oldest_first(client, loop, clock):
    first = loop.report(description="第一件")
    clock.set(2025, 11, 10, 10, 0)
    second = loop.report(description="第二件")
    clock.set(2025, 11, 10, 11, 0)
    third = loop.report(description="第三件")
    s.case_accept(actor=loop.operator, number=second.number)
    s.case_reject(actor=loop.operator, number=third.number, reason="重复来电")
    as_user(client, loop.operator)

    response = client.get(DESK)
    assert response.status_code == 200
    assert queue_numbers(response) == [first.number, second.number]
    assert queue_numbers(client.get(DESK, {"state": "accepted"})) == [second.number]
    assert queue_numbers(client.get(DESK, {"q": "第二"})) == [second.number]
    assert queue_numbers(client.get(DESK, {"q": first.number})) == [first.number]
    assert queue_numbers(client.get(DESK, {"platform": "market"})) == []
    assert queue_numbers(client.get(DESK, {"category": loop.category.code})) == [first.number, second.number]
    assert queue_numbers(client.get(DESK, {"category": "nonexistent"})) == []
    # nonsense filters narrow nothing and break nothing
    assert client.get(DESK, {"state": "closed", "page": "x"}).status_code == 200


def test_the_queue_marks_due_soon_and_overdue_cases(client, loop, clock):
    case = loop.report()
    Case.objects.filter(pk=case.pk).update(warning="red")
    as_user(client, loop.operator)
    html = client.get(DESK).content.decode()
    assert "warn-red" in html
    assert "overdue" in html


def test_the_queue_shows_no_personal_data(client, loop):
    case = loop.report(actor=loop.operator, channel=Channel.HOTLINE, reporter_name="王小明",
                       reporter_phone="13812345678")
    as_user(client, loop.operator)
    html = client.get(DESK).content.decode()
    assert case.number in html
    assert "王小明" not in html and "13812345678" not in html


def test_the_queue_reads_a_bounded_number_of_queries(client, loop, clock):
    as_user(client, loop.operator)

    def count_for(total: int) -> int:
        while Case.objects.count() < total:
            loop.report(description=f"第{Case.objects.count()}件")
        client.get(DESK)  # warm the session and the calendar
        with CaptureQueriesContext(connection) as queries:
            response = client.get(DESK)
        assert len(queue_numbers(response)) == total
        return len(queries)

    five, twenty_five = count_for(5), count_for(25)
    assert five == twenty_five
    assert twenty_five <= 12


def test_the_queue_alone_for_htmx(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    response = client.get(DESK, {"q": case.number}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="desk-queue")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="desk-queue"' in html and "<html" not in html
    assert case.number in html


# -- the case panel --------------------------------------------------------------------------------
def test_the_panel_shows_the_case_with_photos_and_the_reporter_masked(client, loop, tmp_path):
    case = loop.report(actor=loop.operator, channel=Channel.HOTLINE, reporter_name="王小明",
                       reporter_phone="13812345678", address="枫桥镇和平路12号",
                       photos=[s.Photo(jpeg_bytes())])
    as_user(client, loop.operator)
    response = client.get(case_url(case))
    html = response.content.decode()
    assert response.status_code == 200
    assert case.description in html and "枫桥镇和平路12号" in html
    assert "王**" in html and "138****5678" in html
    assert "王小明" not in html and "13812345678" not in html
    attachment = case.attachments.get()
    assert attachment.thumbnail.url in html and attachment.public_copy.url in html
    assert 'name="version" value="1"' in html


def test_the_panel_alone_for_htmx(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    response = client.get(case_url(case), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="desk-detail")
    html = response.content.decode()
    assert 'id="desk-case"' in html and "<html" not in html


def test_accept_then_dispatch_to_the_suggested_department(client, loop):
    case = loop.report()
    as_user(client, loop.operator)

    response = client.post(action_url(case, "accept"), {"version": case.version})
    assert response.status_code == 302 and response["Location"] == case_url(case)
    case.refresh_from_db()
    assert case.state == S.ACCEPTED

    html = client.get(case_url(case)).content.decode()
    # the suggestion is preselected and its reason shown; other departments may be chosen
    suggestion = s.suggest_route(case=case)
    assert suggestion.department == loop.enforcement
    assert suggestion.reason in html
    assert re.search(rf'<option value="{loop.enforcement.pk}" selected>', html)
    assert f'<option value="{loop.command.pk}"' in html

    response = client.post(action_url(case, "dispatch"), {"version": case.version,
                                                          "department": loop.enforcement.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.DISPATCHED and case.lead_department == loop.enforcement
    html = client.get(case_url(case)).content.decode()
    assert "Dispatched to" in html  # the message after the redirect
    assert case.number not in queue_numbers(client.get(DESK))


def test_dispatch_to_another_department_than_suggested(client, loop):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    as_user(client, loop.operator)
    response = client.post(action_url(case, "dispatch"), {"version": 2, "department": loop.county_enforcement.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.lead_department == loop.county_enforcement


def test_dispatch_to_a_department_not_offered_is_a_form_error(client, loop):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    as_user(client, loop.operator)
    response = client.post(action_url(case, "dispatch"), {"version": 2, "department": loop.other_enforcement.pk,
                                                          "reason": "请尽快处理"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Choose a department." in html
    assert "请尽快处理" in html  # what was typed is kept
    assert Case.objects.get(pk=case.pk).state == S.ACCEPTED


def test_reject_needs_a_reason_and_keeps_the_page(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    response = client.post(action_url(case, "reject"), {"version": case.version, "reason": "  "})
    assert response.status_code == 422
    assert "Give a reason." in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == S.REPORTED

    response = client.post(action_url(case, "reject"), {"version": case.version, "reason": "不属于受理范围"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.REJECTED


def test_reject_error_in_the_users_language(client, loop, settings):
    case = loop.report()
    as_user(client, loop.operator)
    response = client.post(action_url(case, "reject"), {"version": case.version},
                           HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 422
    assert "请填写理由。" in response.content.decode()


def test_a_stale_version_reloads_the_case_with_a_clear_message(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    seen = case.version
    s.case_recategorise(actor=loop.operator, number=case.number, category=CategoryFactory(code="0602"))
    response = client.post(action_url(case, "reject"), {"version": seen, "reason": "重复"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone changed this case" in html
    assert f'name="version" value="{seen + 1}"' in html  # the page now carries the current version
    assert "重复" in html  # the typed reason is kept
    assert Case.objects.get(pk=case.pk).state == S.REPORTED


@pytest.mark.parametrize("version", ["", "abc", "-1", "99999999999999999999"])
def test_a_broken_version_field_is_no_error_500(client, loop, version):
    case = loop.report()
    as_user(client, loop.operator)
    response = client.post(action_url(case, "accept"), {"version": version})
    assert response.status_code == 422
    assert "out of date" in response.content.decode()


def test_an_action_the_state_does_not_allow_is_explained(client, loop):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    as_user(client, loop.operator)
    response = client.post(action_url(case, "accept"), {"version": 2})
    assert response.status_code == 409
    assert "cannot be" in response.content.decode()


def test_correct_the_category(client, loop):
    case = loop.report()
    other = CategoryFactory(code="0602", name_zh="乱堆物料", name_en="Materials piled up")
    as_user(client, loop.operator)
    html = client.get(case_url(case)).content.decode()
    assert "Materials piled up" in html and 'data-filter-select="recategorise-category"' in html
    response = client.post(action_url(case, "recategorise"), {"version": case.version, "category": other.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.category == other
    response = client.post(action_url(case, "recategorise"), {"version": case.version, "category": 999999})
    assert response.status_code == 422


def test_duplicates_side_by_side_and_merge(client, loop, clock):
    first = loop.report(description="路口占道卖菜")
    clock.set(2025, 11, 10, 9, 30)
    second = loop.report(description="又有人在路口占道卖菜")
    as_user(client, loop.operator)
    html = client.get(case_url(second)).content.decode()
    assert "Possible duplicates" in html
    assert "路口占道卖菜" in html and first.number in html
    assert f"Merge this case into {first.number}" in html

    response = client.post(action_url(second, "merge"), {"version": second.version, "master_number": first.number})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.state == S.MERGED and second.duplicate_of == first
    assert queue_numbers(client.get(DESK)) == [first.number]


def test_merge_into_a_case_out_of_scope_is_refused(client, loop):
    mine = loop.report()
    lon, lat = loop.territory.grid_centre(loop.territory.grids[-1])
    theirs = loop.report(actor=loop.other_operator, channel=Channel.HOTLINE, lon=lon, lat=lat)
    as_user(client, loop.operator)
    response = client.post(action_url(mine, "merge"), {"version": 1, "master_number": theirs.number})
    assert response.status_code == 422
    assert "No such case to merge into." in response.content.decode()
    assert Case.objects.get(pk=mine.pk).state == S.REPORTED


def test_flag_for_supervision(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    response = client.post(action_url(case, "flag"), {"version": case.version, "reason": "群众反映强烈"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.supervised
    assert "flagged" in client.get(DESK).content.decode()


def test_actions_through_htmx_answer_the_panel_and_refresh_the_queue(client, loop):
    case = loop.report()
    as_user(client, loop.operator)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "desk-case"}
    response = client.post(action_url(case, "accept"), {"version": case.version}, **headers)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "deskQueueChanged"
    html = response.content.decode()
    assert 'id="desk-case"' in html and "<html" not in html
    assert "Case accepted." in html
    # an error is shown in the panel with status 200, since HTMX swaps only successful answers
    response = client.post(action_url(case, "dispatch"), {"version": 1, "department": loop.enforcement.pk},
                           **headers)
    assert response.status_code == 200
    assert "Someone changed this case" in response.content.decode()


# -- the hotline form ------------------------------------------------------------------------------
def hotline_data(loop, **overrides):
    lon, lat = loop.point()
    data = {"caller_name": "李大妈", "caller_phone": "13900001111", "category": loop.category.pk,
            "description": "小区门口有人占道经营", "urgency": "normal", "address": "枫桥镇新街3号",
            "lon": f"{lon}", "lat": f"{lat}", "grid": "", "idempotency_key": "k-123"}
    data.update(overrides)
    return data


def test_the_hotline_form_renders_with_a_fresh_key_and_the_grid_map(client, loop):
    as_user(client, loop.operator)
    html = client.get(HOTLINE).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert key
    assert "data-grid-pick" in html and loop.grid.code in html
    shapes = json.loads(re.search(r'<script id="hotline-shapes" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    assert loop.grid.code in {f["properties"]["code"] for f in shapes["features"]}
    # only the operator's own township's grids
    assert loop.territory.grids[-1].code not in html
    assert key.group(1) not in client.get(HOTLINE).content.decode()


def test_a_hotline_call_becomes_a_case(client, loop):
    as_user(client, loop.operator)
    response = client.post(HOTLINE, hotline_data(loop))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == case_url(case)
    assert case.channel == Channel.HOTLINE and case.grid == loop.grid
    assert case.reporter_name == "李大妈" and case.reporter_phone == "13900001111"
    assert case.address == "枫桥镇新街3号"


def test_a_hotline_call_located_by_the_grid_only(client, loop):
    as_user(client, loop.operator)
    response = client.post(HOTLINE, hotline_data(loop, lon="", lat="", grid=loop.grid.code))
    assert response.status_code == 302
    assert Case.objects.get().grid == loop.grid


def test_a_double_submitted_hotline_form_creates_one_case(client, loop):
    as_user(client, loop.operator)
    first = client.post(HOTLINE, hotline_data(loop))
    second = client.post(HOTLINE, hotline_data(loop))
    assert Case.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_missing_description_keeps_what_was_typed(client, loop):
    as_user(client, loop.operator)
    response = client.post(HOTLINE, hotline_data(loop, description="  "), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 422
    html = response.content.decode()
    assert "请描述事件情况。" in html
    assert 'value="李大妈"' in html and 'value="枫桥镇新街3号"' in html and 'value="k-123"' in html
    assert Case.objects.count() == 0


def test_a_missing_location_is_explained(client, loop):
    as_user(client, loop.operator)
    response = client.post(HOTLINE, hotline_data(loop, lon="", lat=""))
    assert response.status_code == 422
    assert "Give a point or choose a grid." in response.content.decode()
    assert Case.objects.count() == 0


@pytest.mark.parametrize("overrides", [
    {"lon": "abc"}, {"lat": "1e999"}, {"category": "x"}, {"category": "999999"}, {"urgency": "panic"},
    {"grid": "nope"}, {"description": "长" * 2001}, {"idempotency_key": "k" * 101},
])
def test_bad_hotline_input_is_a_form_error(client, loop, overrides):
    as_user(client, loop.operator)
    response = client.post(HOTLINE, hotline_data(loop, **overrides))
    assert response.status_code == 422
    assert Case.objects.count() == 0


def test_a_point_outside_the_operators_township_is_a_form_error(client, loop):
    lon, lat = loop.territory.grid_centre(loop.territory.grids[-1])
    as_user(client, loop.operator)
    response = client.post(HOTLINE, hotline_data(loop, lon=f"{lon}", lat=f"{lat}"))
    assert response.status_code == 422
    assert Case.objects.count() == 0


def test_the_same_key_with_other_values_asks_again_with_a_new_key(client, loop):
    as_user(client, loop.operator)
    client.post(HOTLINE, hotline_data(loop))
    response = client.post(HOTLINE, hotline_data(loop, description="另一件事"))
    assert response.status_code == 409
    html = response.content.decode()
    assert 'value="k-123"' not in html
    assert Case.objects.count() == 1
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    assert client.post(HOTLINE, hotline_data(loop, description="另一件事", idempotency_key=key)).status_code == 302
    assert Case.objects.count() == 2
