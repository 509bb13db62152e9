"""The closed loop through the API with personal tokens: statuses, versions, timeline, scope."""

import pytest

from fengqiao.cases.events import verify_chain
from fengqiao.cases.models import Case, CaseEvent
from fengqiao.cases.states import TRANSITIONS
from tests.api.conftest import create_body, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def apis(loop, as_user):
    class Apis:
        grid_worker = as_user(loop.grid_worker)
        operator = as_user(loop.operator)
        handler = as_user(loop.handler)
        other_operator = as_user(loop.other_operator)
        leader = as_user(loop.leader)

    return Apis


def _report(loop, apis, **overrides):
    response = apis.grid_worker.post("/cases", create_body(loop, **overrides))
    assert response.status_code == 201, response.content
    return response.json()


def test_the_loop_from_report_to_rating(loop, apis, clock):
    case = _report(loop, apis, photos=[photo()], reporter_name="张三丰", reporter_phone="13812341234",
                   address="浙江省诸暨市枫桥镇东岳村3组15号")
    number = case["number"]
    assert case["state"] == "reported" and case["version"] == 1 and case["grid"] == loop.grid.code
    assert case["reporter"] == {"anonymous": False, "registered_user": True, "name": "张**", "phone": "138****1234"}
    assert len(case["attachments"]) == 1
    assert case["attachments"][0]["url"].startswith("/media/cases/public/")
    assert case["attachments"][0]["thumbnail_url"].startswith("/media/cases/thumbs/")

    detail = apis.operator.get(f"/cases/{number}").json()
    assert {"accept", "reject", "recategorise", "merge"} <= set(detail["actions"])
    assert "13812341234" not in str(detail) and "张三丰" not in str(detail)

    steps = [
        (apis.operator, "accept", {}, "accepted"),
        (apis.operator, "dispatch", {}, "dispatched"),
        (apis.handler, "start", {}, "in_progress"),
        (apis.handler, "report_back", {"result": "已清理占道摊位", "photos": [photo()]}, "handled"),
        (apis.grid_worker, "verify", {"passed": True, "note": "现场已恢复"}, "closed"),
        (apis.operator, "rate", {"rating": 5, "comment": "满意"}, "rated"),
    ]
    version = case["version"]
    for api, action, fields, state in steps:
        clock.now = clock.now.replace(minute=clock.now.minute + 5)
        response = api.act(number, action, version, **fields)
        assert response.status_code == 200, (action, response.content)
        case = response.json()
        assert case["state"] == state, action
        assert case["version"] == version + 1
        version = case["version"]

    assert case["lead_department"]["code"] == loop.enforcement.code
    assert case["rating"] == 5 and case["deadlines"]["closed_on_time"] is True
    assert [a["kind"] for a in case["attachments"]] == ["report", "after"]
    timeline = case["timeline"]
    assert [e["action"] for e in timeline] == ["report", "accept", "dispatch", "start", "report_back", "verify",
                                               "rate"]
    assert [e["seq"] for e in timeline] == list(range(1, 8))
    assert [(e["from_state"], e["to_state"]) for e in timeline[1:3]] == [("reported", "accepted"),
                                                                         ("accepted", "dispatched")]
    assert timeline[4]["reason"] == "已清理占道摊位"
    assert all(e["actor"] for e in timeline)
    assert verify_chain().ok


def test_a_stale_version_answers_409_and_changes_nothing(loop, apis):
    case = _report(loop, apis)
    number = case["number"]
    assert apis.operator.act(number, "flag", 1, reason="群众反映强烈").status_code == 200
    events = CaseEvent.objects.filter(case__number=number).count()

    response = apis.operator.act(number, "accept", 1)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "stale_version"
    stored = Case.objects.get(number=number)
    assert stored.state == "reported" and stored.version == 2
    assert CaseEvent.objects.filter(case__number=number).count() == events


def test_a_transition_from_the_wrong_state_answers_409_with_its_code(loop, apis):
    case = _report(loop, apis)
    response = apis.operator.act(case["number"], "dispatch", case["version"])
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "transition_not_allowed" and error["message"]
    assert Case.objects.get(number=case["number"]).state == "reported"


def test_out_of_scope_cases_are_not_found(loop, apis):
    case = _report(loop, apis)
    number = case["number"]
    for response in (apis.other_operator.get(f"/cases/{number}"),
                     apis.other_operator.get(f"/cases/{number}/route"),
                     apis.other_operator.act(number, "accept", 1),
                     apis.operator.get("/cases/330681101-20990101-9999")):
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"
    assert Case.objects.get(number=number).state == "reported"


def test_a_role_without_the_permission_gets_403(loop, apis):
    case = _report(loop, apis)
    response = apis.grid_worker.act(case["number"], "accept", 1)  # sees the case, may not accept it
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "forbidden"


def test_required_reasons_and_action_fields_are_checked(loop, apis):
    case = _report(loop, apis)
    number = case["number"]
    response = apis.operator.act(number, "reject", 1, reason="  ")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "reason"
    response = apis.operator.act(number, "reject", 1)
    assert response.status_code == 422 and response.json()["errors"][0] == {
        "field": "reason", "code": "missing", "message": response.json()["errors"][0]["message"]}
    response = apis.operator.post(f"/cases/{number}/accept", {})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "version"
    response = apis.operator.act(number, "accept", 1, versoin=1)
    assert response.status_code == 422 and response.json()["errors"][0]["code"] == "extra_forbidden"
    response = apis.operator.act(number, "recategorise", 1, category="nope")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "category"
    assert Case.objects.get(number=number).version == 1


def test_dispatch_to_a_named_department_and_the_route_suggestion(loop, apis):
    case = _report(loop, apis)
    number = case["number"]
    route = apis.operator.get(f"/cases/{number}/route").json()
    assert route["department"]["code"] == loop.enforcement.code and route["basis"] == "kind" and route["reason"]

    case = apis.operator.act(number, "accept", 1).json()
    response = apis.operator.act(number, "dispatch", case["version"], department="no-such-department")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "department"
    case = apis.operator.act(number, "dispatch", case["version"], department=loop.command.code).json()
    assert case["lead_department"]["code"] == loop.command.code


def test_side_paths_through_the_api(loop, apis):
    case = _report(loop, apis)
    number, v = case["number"], case["version"]
    v = apis.operator.act(number, "accept", v).json()["version"]
    v = apis.operator.act(number, "dispatch", v).json()["version"]
    case = apis.handler.act(number, "request_extension", v, working_days=3, reason="需采购配件").json()
    assert case["deadlines"]["extension_requested"] is True
    due = case["deadlines"]["due_at"]
    case = apis.leader.act(number, "decide_extension", case["version"], approve=True).json()
    assert case["deadlines"]["extension_requested"] is False and case["deadlines"]["due_at"] > due
    case = apis.operator.act(number, "request_assist", case["version"], departments=[loop.command.code]).json()
    assert [a["department"]["code"] for a in case["assists"]] == [loop.command.code]
    case = apis.leader.act(number, "suspend", case["version"], reason="等待法院判决").json()
    assert case["state"] == "suspended"
    case = apis.leader.act(number, "resume", case["version"]).json()
    assert case["state"] == "dispatched"
    case = apis.leader.act(number, "remind", case["version"]).json()
    assert case["counters"]["reminders"] == 1
    case = apis.leader.act(number, "escalate", case["version"], reason="需市级部门处理").json()
    assert case["state"] == "accepted" and case["level"] == "county"


def test_every_action_of_the_transition_table_has_its_operation(client):
    schema = client.get("/api/v1/openapi.json", secure=True).json()
    for action in TRANSITIONS:
        operation = schema["paths"][f"/api/v1/cases/{{number}}/{action.value}"]["post"]
        assert operation["operationId"] == f"cases_{action.value}"
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].startswith("#/components/schemas/")
        component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        assert "version" in component["required"]
        for status in ("404", "409", "422"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/ErrorsOut")
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/cases"])
    assert "/api/v1/cases/{number}" in schema["paths"] and "/api/v1/categories" in schema["paths"]
    assert {"TokenAuth", "SessionAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_docs_page_is_served_without_a_cdn(client):
    page = client.get("/api/v1/docs", secure=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js", secure=True).status_code == 200
    assert client.get("/api/v1/docs/assets/..%2Fsettings.py", secure=True).status_code == 404


def test_the_category_tree(loop, apis, as_user):
    response = apis.grid_worker.get("/categories")
    assert response.status_code == 200
    assert {"code": "0601", "name": "占道经营", "platform": "enforcement", "department_kind": "enforcement",
            "children": []} in response.json()
    en = as_user(loop.grid_worker, language="en").get("/categories")
    assert any(node["name"] == "Road occupation" for node in en.json())



def test_the_reporter_is_masked_in_the_detail_and_revealed_with_a_logged_reason(as_user, loop):
    from fengqiao.cases.services import case_report
    from fengqiao.core.models import PersonalDataAccess

    lon, lat = loop.point()
    case = case_report(actor=loop.operator, channel="hotline", category=loop.category, description="占道经营",
                       lon=lon, lat=lat, reporter_name="张三丰", reporter_phone="13812345678")
    operator = as_user(loop.operator)
    detail = operator.get(f"/cases/{case.number}").json()
    assert "13812345678" not in str(detail) and "张三丰" not in str(detail)
    response = operator.post(f"/cases/{case.number}/reporter", {"reason": "回访"})
    assert response.status_code == 200 and response.json()["phone"] == "13812345678"
    assert PersonalDataAccess.objects.filter(actor=loop.operator).count() == 1
    assert as_user(loop.grid_worker).post(f"/cases/{case.number}/reporter", {"reason": "x"}).status_code == 403


def test_a_create_with_a_token_names_its_actor_without_another_query(loop, apis):
    """The token's user comes with the staff profile the event names the actor by."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fengqiao.org.models import StaffProfile

    StaffProfile.objects.update_or_create(user=loop.grid_worker, defaults={"display_name": "网格员王五"})
    with CaptureQueriesContext(connection) as queries:
        case = _report(loop, apis)
    assert CaseEvent.objects.get(case__number=case["number"], seq=1).actor_label == "网格员王五"
    profile_table = StaffProfile._meta.db_table
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SELECT") and
                f'FROM "{profile_table}"' in q["sql"]]
