"""The closed loop through the services: intake, routing, transitions, permissions, versions."""

import pytest

from fengqiao.cases import services as s
from fengqiao.cases.events import verify_chain
from fengqiao.cases.models import Case, CaseEvent, Channel, Level, RoutingRule
from fengqiao.cases.states import CaseState
from fengqiao.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, UserFactory, jpeg_bytes

pytestmark = pytest.mark.django_db
S = CaseState


def test_full_loop_from_report_to_rating(loop, clock):
    case = loop.report(photos=[s.Photo(jpeg_bytes())])
    assert case.state == S.REPORTED and case.grid == loop.grid and case.area_code == loop.grid.code
    assert case.number.startswith(f"{loop.grid.code[:9]}-20251110-")
    assert case.attachments.count() == 1

    case = s.case_accept(actor=loop.operator, number=case.number, expected_version=case.version)
    case = s.case_dispatch(actor=loop.operator, number=case.number, expected_version=case.version)
    assert case.lead_department == loop.enforcement
    assert case.level == Level.TOWNSHIP
    dispatch = case.events.get(action="dispatch")
    assert dispatch.payload["basis"] == "kind" and dispatch.payload["why"]

    case = s.case_start(actor=loop.handler, number=case.number)
    clock.set(2025, 11, 11, 10, 0)
    case = s.case_report_back(actor=loop.handler, number=case.number, result="已补装井盖",
                              photos=[s.Photo(jpeg_bytes(colour=(0, 90, 0)))])
    assert case.state == S.HANDLED and case.closed_on_time is True
    case = s.case_verify(actor=loop.grid_worker, number=case.number, passed=True)
    assert case.state == S.CLOSED and case.closed_at is not None
    case = s.case_rate(actor=loop.operator, number=case.number, rating=5, comment="满意")
    assert case.state == S.RATED and case.rating == 5

    actions = list(case.events.values_list("action", flat=True))
    assert actions == ["report", "accept", "dispatch", "start", "report_back", "verify", "rate"]
    assert verify_chain().ok


def test_verification_failure_sends_the_case_back_for_rework(loop):
    case = _dispatched(loop)
    case = s.case_report_back(actor=loop.handler, number=case.number, result="done")
    with pytest.raises(InvalidInput):
        s.case_verify(actor=loop.grid_worker, number=case.number, passed=False)  # a note is required
    case = s.case_verify(actor=loop.grid_worker, number=case.number, passed=False, note="井盖仍缺失")
    assert case.state == S.DISPATCHED and case.rework_count == 1
    assert case.due_at is not None


def _dispatched(loop, **report):
    case = loop.report(**report)
    s.case_accept(actor=loop.operator, number=case.number)
    return s.case_dispatch(actor=loop.operator, number=case.number)


# -- illegal transitions, from the table --------------------------------------------------------
def _call(action, loop, number):
    """Call the service of `action` with valid arguments."""
    a = s.A
    by = {
        a.ACCEPT: lambda: s.case_accept(actor=loop.operator, number=number),
        a.REJECT: lambda: s.case_reject(actor=loop.operator, number=number, reason="不属于受理范围"),
        a.DISPATCH: lambda: s.case_dispatch(actor=loop.operator, number=number, department=loop.enforcement),
        a.RETURN: lambda: s.case_return(actor=loop.handler, number=number, reason="非本部门职责"),
        a.START: lambda: s.case_start(actor=loop.handler, number=number),
        a.REPORT_BACK: lambda: s.case_report_back(actor=loop.handler, number=number, result="done"),
        a.VERIFY: lambda: s.case_verify(actor=loop.grid_worker, number=number, passed=True),
        a.RATE: lambda: s.case_rate(actor=loop.operator, number=number, rating=4),
        a.REOPEN: lambda: s.case_reopen(actor=loop.operator, number=number, reason="不满意"),
        a.REQUEST_EXTENSION: lambda: s.case_request_extension(actor=loop.handler, number=number, working_days=3,
                                                              reason="需采购配件"),
        a.SUSPEND: lambda: s.case_suspend(actor=loop.leader, number=number, reason="等待法院判决"),
        a.RESUME: lambda: s.case_resume(actor=loop.leader, number=number),
        a.PARK: lambda: s.case_park(actor=loop.leader, number=number, reason="资金未落实"),
        a.UNPARK: lambda: s.case_unpark(actor=loop.leader, number=number),
        a.ESCALATE: lambda: s.case_escalate(actor=loop.leader, number=number, reason="需市级部门处理"),
        a.FLAG: lambda: s.case_flag(actor=loop.leader, number=number),
        a.REMIND: lambda: s.case_remind(actor=loop.leader, number=number),
    }
    return by[action]()


ILLEGAL = [
    (action, state)
    for action, t in s.TRANSITIONS.items()
    if action in {s.A.ACCEPT, s.A.REJECT, s.A.DISPATCH, s.A.RETURN, s.A.START, s.A.REPORT_BACK, s.A.VERIFY,
                  s.A.RATE, s.A.REOPEN, s.A.REQUEST_EXTENSION, s.A.SUSPEND, s.A.RESUME, s.A.PARK, s.A.UNPARK,
                  s.A.ESCALATE, s.A.FLAG, s.A.REMIND}
    for state in S
    if state not in t.sources
]


@pytest.mark.parametrize(("action", "state"), ILLEGAL, ids=[f"{a}-from-{st}" for a, st in ILLEGAL])
def test_every_illegal_transition_is_refused_and_changes_nothing(loop, action, state):
    case = _dispatched(loop)
    Case.objects.filter(pk=case.pk).update(state=state, state_before=S.DISPATCHED)  # arrange the state directly
    before = Case.objects.get(pk=case.pk)
    events = CaseEvent.objects.count()
    with pytest.raises(TransitionNotAllowed):
        _call(action, loop, case.number)
    after = Case.objects.get(pk=case.pk)
    assert (after.state, after.version, after.last_event_seq) == (before.state, before.version, before.last_event_seq)
    assert CaseEvent.objects.count() == events


# -- permissions and versions ------------------------------------------------------------------
def test_out_of_scope_is_not_found_and_in_scope_without_the_role_is_forbidden(loop):
    case = _dispatched(loop)
    with pytest.raises(NotFound):
        s.case_start(actor=loop.other_handler, number=case.number)
    with pytest.raises(NotFound):
        s.case_accept(actor=loop.other_operator, number=case.number)
    with pytest.raises(Forbidden):
        s.case_start(actor=loop.grid_worker, number=case.number)  # sees the case, may not handle it
    with pytest.raises(NotFound):
        s.case_start(actor=loop.handler, number="no-such-case")


def test_stale_version_is_a_conflict_and_writes_nothing(loop):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number, expected_version=case.version)
    with pytest.raises(Conflict) as exc:
        s.case_reject(actor=loop.operator, number=case.number, reason="x", expected_version=case.version)
    assert exc.value.code == "stale_version"
    assert Case.objects.get(pk=case.pk).state == S.ACCEPTED


def test_reject_needs_a_reason(loop):
    case = loop.report()
    with pytest.raises(InvalidInput):
        s.case_reject(actor=loop.operator, number=case.number, reason="  ")
    assert Case.objects.get(pk=case.pk).state == S.REPORTED


# -- intake -----------------------------------------------------------------------------------
def test_idempotent_create_returns_the_same_case(loop):
    first = loop.report(idempotency_key="k-1")
    again = loop.report(idempotency_key="k-1")
    assert again.pk == first.pk and Case.objects.count() == 1
    with pytest.raises(Conflict):
        loop.report(idempotency_key="k-1", description="另一件事")


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"lon": 100.0, "lat": 10.0}, "location", "outside_territory"),
        ({"lon": None, "lat": 29.0}, "location", "invalid_point"),
        ({"description": "x" * 2001}, "description", "too_long"),
        ({"description": "   "}, "description", "required"),
        ({"photos": [s.Photo(b"<html>not a picture</html>")]}, "photos[0]", "not_an_image"),
    ],
)
def test_bad_intake_is_refused_with_the_field_and_nothing_is_written(loop, kwargs, field, code):
    with pytest.raises(InvalidInput) as exc:
        loop.report(**kwargs)
    assert exc.value.errors[0].field == field and exc.value.errors[0].code == code
    assert Case.objects.count() == 0 and CaseEvent.objects.count() == 0


def test_a_point_outside_grids_falls_back_to_its_region(loop, territory):
    with pytest.raises(NotFound):  # outside the township operator's scope
        loop.report(actor=loop.operator, channel=Channel.HOTLINE, lon=119.95, lat=28.95)
    county_operator = UserFactory()
    AssignmentFactory(user=county_operator, role=Role.OPERATOR, region=territory.county)
    case = loop.report(actor=county_operator, channel=Channel.HOTLINE, lon=119.95, lat=28.95)
    assert case.grid is None and case.region == territory.county and case.area_code == "330681"


def test_grid_worker_closes_a_small_matter_on_the_spot(loop):
    with pytest.raises(InvalidInput):
        loop.report(close_on_spot=True, photos=[s.Photo(jpeg_bytes())])  # no after-photo
    case = loop.report(close_on_spot=True, resolution="已扶正", photos=[
        s.Photo(jpeg_bytes()), s.Photo(jpeg_bytes(colour=(0, 0, 200)), kind="after")])
    assert case.state == S.CLOSED and case.level == Level.GRID and case.next_due_at is None
    with pytest.raises(Forbidden):
        loop.report(actor=loop.operator, channel=Channel.HOTLINE, close_on_spot=True,
                    photos=[s.Photo(jpeg_bytes(), kind="after")])


def test_duplicates_are_suggested_and_merged(loop):
    first = loop.report()
    second = loop.report(description="又看到井盖缺失")
    report = second.events.get(action="report")
    assert report.payload["possible_duplicates"] == [first.number]
    merged = s.case_merge(actor=loop.operator, number=second.number, master_number=first.number)
    assert merged.state == S.MERGED and merged.duplicate_of == first


# -- routing ------------------------------------------------------------------------------------
def test_a_routing_rule_beats_the_kind_and_its_reason_is_kept(loop):
    RoutingRule.objects.create(category=loop.category, area_prefix=loop.grid.region.code,
                               department=loop.county_enforcement, note="重点路段")
    case = _dispatched(loop)
    assert case.lead_department == loop.county_enforcement and case.level == Level.COUNTY
    assert "Routing rule" in case.routing_reason or "规则" in case.routing_reason


def test_dispatcher_may_choose_another_department(loop):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    case = s.case_dispatch(actor=loop.operator, number=case.number, department=loop.county_enforcement)
    event = case.events.get(action="dispatch")
    assert event.payload["suggested"] == loop.enforcement.code and event.payload["department"] == "county-enforcement"


# -- side paths ---------------------------------------------------------------------------------
def test_joint_handling_waits_for_every_assisting_department(loop):
    case = _dispatched(loop)
    s.case_request_assist(actor=loop.handler, number=case.number, departments=[loop.county_enforcement])
    with pytest.raises(InvalidInput):
        s.case_report_back(actor=loop.handler, number=case.number, result="done")
    # the assisting department now sees the case and reports its part
    s.case_assist_report(actor=loop.county_handler, number=case.number, department=loop.county_enforcement,
                         report="已协助清理")
    case = s.case_report_back(actor=loop.handler, number=case.number, result="done")
    assert case.state == S.HANDLED


def test_escalation_moves_the_case_up_a_level(loop):
    case = _dispatched(loop)
    case = s.case_escalate(actor=loop.handler, number=case.number, reason="超出乡镇处置能力")
    assert case.state == S.ACCEPTED and case.level == Level.COUNTY and case.lead_department is None
    assert case.events.get(action="escalate").payload["suggested"] == "county-enforcement"


def test_reopen_after_an_unsatisfied_rating(loop):
    case = _dispatched(loop)
    s.case_report_back(actor=loop.handler, number=case.number, result="done")
    s.case_verify(actor=loop.grid_worker, number=case.number, passed=True)
    s.case_rate(actor=loop.operator, number=case.number, rating=1, comment="没修好")
    case = s.case_reopen(actor=loop.operator, number=case.number, reason="群众不满意")
    assert case.state == S.DISPATCHED and case.reopen_count == 1 and case.lead_department == loop.enforcement


def test_park_and_unpark(loop):
    case = _dispatched(loop)
    case = s.case_park(actor=loop.leader, number=case.number, reason="需列入明年预算")
    assert case.state == S.PARKED and case.next_due_at is None
    case = s.case_unpark(actor=loop.leader, number=case.number)
    assert case.state == S.ACCEPTED and case.due_at is not None


def test_flag_and_remind(loop):
    case = _dispatched(loop)
    case = s.case_flag(actor=loop.leader, number=case.number, reason="群众反映强烈")
    case = s.case_remind(actor=loop.leader, number=case.number)
    assert case.supervised and case.reminder_count == 1
    with pytest.raises(Forbidden):
        s.case_flag(actor=loop.handler, number=case.number)


def test_a_grid_given_with_a_point_outside_it_is_refused(loop):
    with pytest.raises(InvalidInput) as exc:
        loop.report(actor=loop.operator, channel=Channel.HOTLINE, grid=loop.grid, lon=119.95, lat=28.95)
    assert exc.value.errors[0].field == "grid"
    other = loop.territory.grids[1]
    with pytest.raises(InvalidInput):
        loop.report(grid=other)  # the point lies in loop.grid
    assert Case.objects.count() == 0


def test_the_channel_must_fit_the_reporters_role(loop):
    with pytest.raises(Forbidden):
        loop.report(actor=loop.operator, channel=Channel.GRID_WORKER)
    with pytest.raises(Forbidden):
        loop.report(actor=loop.grid_worker, channel=Channel.HOTLINE)
    assert loop.report(actor=loop.grid_worker, channel=Channel.API).channel == Channel.API


def test_a_retry_must_repeat_the_whole_request(loop):
    loop.report(idempotency_key="k-2", urgency="critical")
    with pytest.raises(Conflict):
        loop.report(idempotency_key="k-2", urgency="normal")
    with pytest.raises(Conflict):
        loop.report(idempotency_key="k-2", urgency="critical", photos=[s.Photo(jpeg_bytes())])
    assert Case.objects.count() == 1


def test_an_assisting_department_reports_its_part_but_does_not_lead(loop):
    case = _dispatched(loop)
    s.case_request_assist(actor=loop.handler, number=case.number, departments=[loop.county_enforcement])
    for lead_only in (lambda: s.case_start(actor=loop.county_handler, number=case.number),
                      lambda: s.case_report_back(actor=loop.county_handler, number=case.number, result="done"),
                      lambda: s.case_return(actor=loop.county_handler, number=case.number, reason="not ours")):
        with pytest.raises(Forbidden):
            lead_only()
    from fengqiao.cases.selectors import allowed_actions

    assert set(allowed_actions(actor=loop.county_handler, case=Case.objects.get(pk=case.pk))) == {s.A.ASSIST_REPORT}
