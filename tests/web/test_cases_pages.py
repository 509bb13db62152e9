# ruff: noqa: F811  (the loop fixtures are imported from tests/cases/conftest.py and requested by name)
"""The handler's inbox and the staff case page: scope, query counts, actions and their errors."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseAttachment, CaseEvent
from fengqiao.cases.states import CaseState
from tests.cases.conftest import clock, loop  # noqa: F401
from tests.factories import jpeg_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_pages")]
S = CaseState


def dispatched(loop, n=1, **report):
    made = []
    for i in range(n):
        case = loop.report(description=f"井盖缺失 {i}", **report)
        s.case_accept(actor=loop.operator, number=case.number)
        made.append(s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement))
    return made


def action_names(response) -> set[str]:
    return set(re.findall(r'id="action-([a-z_]+)"', response.content.decode()))


# -- the inbox ------------------------------------------------------------------------------------
def test_inbox_lists_the_departments_open_cases_by_due_time_with_markers(loop, clock, signed_in):
    first, second = dispatched(loop, 2)
    Case.objects.filter(pk=second.pk).update(due_at=first.due_at.replace(year=2025, month=11, day=10, hour=12),
                                             warning="red")
    loop.report(description="not dispatched yet")
    client = signed_in(loop.handler)
    response = client.get(reverse("web:case_inbox"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index(second.number) < body.index(first.number)  # the earlier deadline first
    assert "warn-red" in body and "overdue" in body
    assert "not dispatched yet" not in body

    assert second.number not in client.get(reverse("web:case_inbox"), {"deadline": "yellow"}).content.decode()
    found = client.get(reverse("web:case_inbox"), {"q": first.number[-4:], "deadline": ""}).content.decode()
    assert first.number in found
    by_text = client.get(reverse("web:case_inbox"), {"q": "井盖缺失 1"}).content.decode()
    assert second.number in by_text and first.number not in by_text
    assert first.number not in client.get(reverse("web:case_inbox"), {"state": "in_progress"}).content.decode()
    assert first.number in client.get(reverse("web:case_inbox"), {"category": loop.category.code}).content.decode()


def test_inbox_answers_htmx_with_the_list_only(loop, signed_in):
    dispatched(loop)
    response = signed_in(loop.handler).get(reverse("web:case_inbox"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="case-list"' in body and "<html" not in body


def test_inbox_bad_filters_are_ignored_not_errors(loop, signed_in):
    response = signed_in(loop.handler).get(reverse("web:case_inbox"),
                                           {"state": "nope", "category": "zzz", "deadline": "x", "page": "9999",
                                            "q": "x" * 5000})
    assert response.status_code == 200


def test_other_townships_handler_sees_nothing(loop, signed_in):
    case = dispatched(loop)[0]
    client = signed_in(loop.other_handler)
    assert case.number not in client.get(reverse("web:case_inbox")).content.decode()
    assert client.get(reverse("web:case_detail", args=[case.number])).status_code == 404
    response = client.post(reverse("web:case_action", args=[case.number, "start"]),
                           {"expected_version": case.version})
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).state == S.DISPATCHED


def test_inbox_query_count_does_not_grow_with_the_cases(loop, signed_in, django_assert_max_num_queries):
    client = signed_in(loop.handler)
    url = reverse("web:case_inbox")

    def count() -> int:
        client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    dispatched(loop, 5)
    five = count()
    dispatched(loop, 20)
    twenty_five = count()
    assert Case.objects.count() == 25
    assert five == twenty_five
    with django_assert_max_num_queries(12):
        assert client.get(url, {"q": "井盖", "deadline": "late", "category": loop.category.code}).status_code == 200


def test_signed_out_users_are_sent_to_sign_in(loop, client):
    response = client.get(reverse("web:case_inbox"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# -- the case page ---------------------------------------------------------------------------------
def test_case_page_shows_the_case_with_the_reporter_masked(loop, signed_in):
    case = loop.report(photos=[s.Photo(jpeg_bytes())], reporter_name="张三丰", reporter_phone="13812341234",
                       address="东岳村3组15号")
    s.case_accept(actor=loop.operator, number=case.number)
    case = s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    client = signed_in(loop.handler)
    response = client.get(reverse("web:case_detail", args=[case.number]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "张**" in body and "138****1234" in body
    assert "张三丰" not in body and "13812341234" not in body
    assert "<svg" in body and "case-dot" in body
    assert 'id="timeline"' in body and "Dispatch" in body
    attachment = case.attachments.get()
    thumb = client.get(reverse("web:case_photo", args=[case.number, attachment.pk, "thumb"]))
    assert thumb.status_code == 200 and thumb["Content-Type"].startswith("image/")
    assert client.get(reverse("web:case_photo", args=[case.number, attachment.pk, "original"])).status_code == 404
    assert signed_in(loop.other_handler).get(
        reverse("web:case_photo", args=[case.number, attachment.pk, "copy"])).status_code == 404


def test_actions_shown_match_the_permissions(loop, signed_in, client):
    case = dispatched(loop)[0]
    handler_actions = action_names(signed_in(loop.handler).get(reverse("web:case_detail", args=[case.number])))
    assert {"start", "report_back", "request_extension", "request_assist", "escalate", "return"} <= handler_actions
    assert "dispatch" not in handler_actions and "verify" not in handler_actions
    assert "flag" not in handler_actions

    leader_actions = action_names(signed_in(loop.leader).get(reverse("web:case_detail", args=[case.number])))
    assert {"flag", "remind", "suspend", "park", "escalate"} <= leader_actions
    assert "start" not in leader_actions and "report_back" not in leader_actions

    s.case_report_back(actor=loop.handler, number=case.number, result="已补装井盖")
    worker_actions = action_names(signed_in(loop.grid_worker).get(reverse("web:case_detail", args=[case.number])))
    assert "verify" in worker_actions
    assert "report_back" not in worker_actions and "dispatch" not in worker_actions
    handled_actions = action_names(signed_in(loop.handler).get(reverse("web:case_detail", args=[case.number])))
    assert "verify" not in handled_actions and "report_back" not in handled_actions


def test_start_then_report_back_with_a_photo(loop, signed_in):
    case = dispatched(loop)[0]
    client = signed_in(loop.handler)
    response = client.post(reverse("web:case_action", args=[case.number, "start"]),
                           {"expected_version": case.version, "form_token": "t1"})
    assert response.status_code == 302 and response["Location"] == reverse("web:case_detail", args=[case.number])
    case.refresh_from_db()
    assert case.state == S.IN_PROGRESS

    photo = SimpleUploadedFile("after.jpg", jpeg_bytes(colour=(0, 90, 0)), content_type="image/jpeg")
    response = client.post(reverse("web:case_action", args=[case.number, "report_back"]),
                           {"expected_version": case.version, "form_token": "t2", "result": "已补装井盖",
                            "photos": [photo]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.HANDLED
    assert case.attachments.filter(kind=CaseAttachment.Kind.AFTER).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "已补装井盖" in page and "Report back" in page


def test_a_text_file_as_photo_is_refused_and_nothing_changes(loop, signed_in):
    case = dispatched(loop)[0]
    events = CaseEvent.objects.filter(case=case).count()
    client = signed_in(loop.handler)
    text = SimpleUploadedFile("notes.jpg", b"this is not a picture", content_type="image/jpeg")
    response = client.post(reverse("web:case_action", args=[case.number, "report_back"]),
                           {"expected_version": case.version, "result": "已补装井盖", "photos": [text]})
    assert response.status_code == 422
    body = response.content.decode()
    assert "not a readable JPEG, PNG or WebP image" in body
    assert "已补装井盖" in body  # what the user typed is kept
    case.refresh_from_db()
    assert case.state == S.DISPATCHED and case.attachments.count() == 0
    assert CaseEvent.objects.filter(case=case).count() == events


def test_an_oversized_photo_gets_the_services_message(loop, signed_in, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    case = dispatched(loop)[0]
    big = SimpleUploadedFile("big.jpg", jpeg_bytes(size=(400, 400)) + b"\0" * 2000, content_type="image/jpeg")
    response = signed_in(loop.handler).post(reverse("web:case_action", args=[case.number, "report_back"]),
                                            {"expected_version": case.version, "result": "done", "photos": [big]})
    assert response.status_code == 422
    assert 'id="id_report_back_photos_error"' in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == S.DISPATCHED


def test_domain_errors_become_form_errors(loop, signed_in):
    case = dispatched(loop)[0]
    client = signed_in(loop.handler)
    response = client.post(reverse("web:case_action", args=[case.number, "request_extension"]),
                           {"expected_version": case.version, "working_days": "99", "reason": "需采购配件"})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="id_request_extension_working_days_error"' in body and "需采购配件" in body

    response = client.post(reverse("web:case_action", args=[case.number, "escalate"]),
                           {"expected_version": case.version, "reason": ""})
    assert response.status_code == 422
    assert Case.objects.get(pk=case.pk).version == case.version


def test_a_stale_version_explains_and_shows_the_fresh_case(loop, signed_in):
    case = dispatched(loop)[0]
    seen = case.version
    s.case_request_extension(actor=loop.handler, number=case.number, working_days=2, reason="等配件")
    response = signed_in(loop.handler).post(reverse("web:case_action", args=[case.number, "return"]),
                                            {"expected_version": seen, "reason": "非本部门职责"})
    assert response.status_code == 409
    body = response.content.decode()
    fresh = Case.objects.get(pk=case.pk)
    assert "Someone changed this case" in body
    assert f'name="expected_version" value="{fresh.version}"' in body
    assert "非本部门职责" in body  # kept for sending again
    assert fresh.state == S.DISPATCHED


def test_the_same_form_sent_twice_acts_once(loop, signed_in):
    case = dispatched(loop)[0]
    client = signed_in(loop.handler)
    data = {"expected_version": case.version, "form_token": "once", "reason": "请支援"}
    url = reverse("web:case_action", args=[case.number, "remind"])  # not the handler's: 403 below
    assert client.post(url, data).status_code in (403, 404)
    url = reverse("web:case_action", args=[case.number, "start"])
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302
    assert CaseEvent.objects.filter(case=case, action="start").count() == 1


def test_ask_another_department_to_assist_and_it_reports_its_part(loop, signed_in):
    case = dispatched(loop)[0]
    client = signed_in(loop.handler)
    response = client.post(reverse("web:case_action", args=[case.number, "request_assist"]),
                           {"expected_version": case.version, "departments": [loop.county_enforcement.code],
                            "reason": "需要县局支援"})
    assert response.status_code == 302
    case.refresh_from_db()
    helper = signed_in(loop.county_handler)
    assert case.number in helper.get(reverse("web:case_inbox")).content.decode()
    assert "assist_report" in action_names(helper.get(reverse("web:case_detail", args=[case.number])))
    response = helper.post(reverse("web:case_action", args=[case.number, "assist_report"]),
                           {"expected_version": case.version, "department": loop.county_enforcement.code,
                            "report": "已派执法车"})
    assert response.status_code == 302
    assert case.assists.get().reported_at is not None


def test_returning_the_case_leads_back_to_the_inbox(loop, signed_in):
    case = dispatched(loop)[0]
    response = signed_in(loop.handler).post(reverse("web:case_action", args=[case.number, "return"]),
                                            {"expected_version": case.version, "reason": "非本部门职责"})
    assert response.status_code == 302 and response["Location"] == reverse("web:case_inbox")
    assert Case.objects.get(pk=case.pk).state == S.ACCEPTED


def test_grid_worker_verifies_with_a_photo(loop, signed_in):
    case = dispatched(loop)[0]
    case = s.case_report_back(actor=loop.handler, number=case.number, result="done")
    client = signed_in(loop.grid_worker)
    photo = SimpleUploadedFile("check.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = client.post(reverse("web:case_action", args=[case.number, "verify"]),
                           {"expected_version": case.version, "passed": "0", "note": "", "photos": [photo]})
    assert response.status_code == 422  # failing needs a note
    response = client.post(reverse("web:case_action", args=[case.number, "verify"]),
                           {"expected_version": case.version, "passed": "1", "note": "已核实",
                            "photos": [SimpleUploadedFile("check.jpg", jpeg_bytes(), content_type="image/jpeg")]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.CLOSED and case.attachments.filter(kind="verify").count() == 1


def test_unknown_action_is_not_found(loop, signed_in):
    case = dispatched(loop)[0]
    response = signed_in(loop.handler).post(reverse("web:case_action", args=[case.number, "explode"]),
                                            {"expected_version": case.version})
    assert response.status_code == 404


def test_command_centre_actions_on_the_case_page(loop, signed_in):
    case = loop.report()
    client = signed_in(loop.operator)
    names = action_names(client.get(reverse("web:case_detail", args=[case.number])))
    assert {"accept", "reject", "recategorise", "merge", "escalate"} <= names
    assert "start" not in names and "verify" not in names
    assert client.post(reverse("web:case_action", args=[case.number, "accept"]),
                       {"expected_version": case.version}).status_code == 302
    case.refresh_from_db()
    body = client.get(reverse("web:case_detail", args=[case.number])).content.decode()
    assert 'id="action-dispatch"' in body and loop.enforcement.code in body
    response = client.post(reverse("web:case_action", args=[case.number, "dispatch"]),
                           {"expected_version": case.version, "department": "no-such-department"})
    assert response.status_code == 422  # not one of the choices: a form error, nothing changes
    response = client.post(reverse("web:case_action", args=[case.number, "dispatch"]),
                           {"expected_version": case.version, "department": loop.enforcement.code})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == S.DISPATCHED and case.lead_department == loop.enforcement


def test_case_page_queries_do_not_grow_with_the_timeline(loop, signed_in):
    case = dispatched(loop)[0]
    client = signed_in(loop.handler)
    url = reverse("web:case_detail", args=[case.number])

    def count() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    before = count()
    for i in range(4):
        case = s.case_remind(actor=loop.leader, number=case.number, reason=f"催办 {i}")
    assert count() == before


def test_a_form_without_its_version_is_explained(loop, signed_in):
    case = dispatched(loop)[0]
    response = signed_in(loop.handler).post(reverse("web:case_action", args=[case.number, "start"]), {})
    assert response.status_code == 422
    assert "The form was incomplete" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == S.DISPATCHED
