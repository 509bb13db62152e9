"""Residents' requests: the tracking code, the answer promised within 3 working days and its sweep,
the answer, following a request by code, rating it, and what the public may see of cases."""

from datetime import datetime, timedelta

import pytest

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, CaseEvent, Channel, DeadlineWarning, RequestType
from fengqiao.cases.notifications import fan_out_notices
from fengqiao.cases.numbering import TRACKING_ALPHABET, normalise_tracking_code, tracking_code_display
from fengqiao.cases.public import case_for_resident, public_case_card, public_cases, public_timeline
from fengqiao.cases.states import CaseState
from fengqiao.core.errors import Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.core.masking import redact_text
from fengqiao.notify.models import Message
from fengqiao.org.models import Role
from tests.cases.conftest import TZ
from tests.factories import AssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

PHONE = "13805751234"


def at(*args):
    return datetime(*args, tzinfo=TZ)


def resident_report(loop, **kwargs):
    lon, lat = loop.point()
    defaults = dict(actor=None, channel=Channel.RESIDENT, category=loop.category, lon=lon, lat=lat,
                    description="路灯坏了一个星期，晚上很黑", reporter_name="王小明", reporter_phone=PHONE,
                    address="枫桥镇东溪村3组15号", request_type=RequestType.CONSULT)
    defaults.update(kwargs)
    return s.case_report(**defaults)


def closed(loop, case):
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    s.case_report_back(actor=loop.handler, number=case.number, result="已修复")
    return s.case_verify(actor=loop.grid_worker, number=case.number, passed=True)


# -- intake ---------------------------------------------------------------------------------------
def test_every_case_gets_its_own_unguessable_tracking_code(loop):
    first, second = resident_report(loop), loop.report()
    for case in (first, second):
        assert len(case.tracking_code) == 10 and set(case.tracking_code) <= set(TRACKING_ALPHABET)
    assert first.tracking_code != second.tracking_code
    assert first.request_type == RequestType.CONSULT


def test_a_tracking_code_is_read_as_people_type_it():
    assert tracking_code_display("K7Q2M9XD3P") == "K7Q2M-9XD3P"
    assert normalise_tracking_code(" k7q2m-9xd3p ") == "K7Q2M9XD3P"
    assert normalise_tracking_code("IO") == "10"  # confusable letters map to the digits they look like


def test_an_unknown_request_type_is_refused_and_nothing_is_written(loop):
    with pytest.raises(InvalidInput) as caught:
        resident_report(loop, request_type="petition")
    assert caught.value.errors[0].field == "request_type"
    assert Case.objects.count() == 0


def test_a_signed_in_resident_without_any_role_reports_and_is_the_reporter(loop):
    resident = UserFactory()
    case = resident_report(loop, actor=resident)
    assert case.reporter_user == resident


def test_through_a_staff_channel_a_resident_is_still_refused(loop):
    with pytest.raises(NotFound):
        resident_report(loop, actor=UserFactory(), channel=Channel.GRID_WORKER)


# -- the answer deadline --------------------------------------------------------------------------
def test_the_answer_is_due_three_working_days_later_on_the_working_calendar(loop, clock):
    # Thursday 25 September 2025: Friday 26, Sunday 28 (an adjusted working day) and Monday 29 count
    clock.set(2025, 9, 25, 10, 0)
    case = resident_report(loop)
    assert case.answer_due_at == at(2025, 9, 29, 17, 30)
    assert case.answer_warning == DeadlineWarning.NONE
    assert case.answered_at is None
    assert case.next_due_at <= case.answer_due_at


def test_only_residents_requests_carry_the_answer_promise(loop):
    assert loop.report().answer_due_at is None


def test_the_sweep_turns_the_answer_deadline_yellow_then_red_and_tells_staff(loop, clock):
    clock.set(2025, 11, 10, 9, 0)  # Monday
    case = resident_report(loop)
    s.case_accept(actor=loop.operator, number=case.number)
    case = s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    clock.now = case.answer_warn_at + timedelta(minutes=1)
    s.sweep_deadlines()
    case.refresh_from_db()
    assert case.answer_warning == DeadlineWarning.YELLOW
    warned = CaseEvent.objects.get(case=case, action="warn", payload__deadline="answer")
    assert warned.is_public is False
    fan_out_notices()
    assert Message.objects.filter(topic="case.answer_warning", recipient=loop.handler).exists()

    clock.now = case.answer_due_at + timedelta(minutes=1)
    s.sweep_deadlines()
    case.refresh_from_db()
    assert case.answer_warning == DeadlineWarning.RED
    fan_out_notices()
    assert Message.objects.filter(topic="case.answer_overdue", recipient=loop.leader).exists()
    assert s.sweep_deadlines().looked_at == 0 or case.next_due_at > clock.now  # nothing more on the answer


def test_an_answer_stops_the_answer_clock(loop, clock):
    case = resident_report(loop)
    s.case_accept(actor=loop.operator, number=case.number)
    case = s.case_answer(actor=loop.operator, number=case.number, text="已安排城管中队处理，预计本周内修复。")
    assert case.answered_at == clock.now
    clock.now = case.answer_due_at + timedelta(days=3)
    s.sweep_deadlines()
    case.refresh_from_db()
    assert case.answer_warning == DeadlineWarning.NONE
    event = CaseEvent.objects.get(case=case, action="answer")
    assert event.is_public and event.reason.startswith("已安排")


def test_a_rejection_answers_the_resident_too(loop):
    case = resident_report(loop)
    case = s.case_reject(actor=loop.operator, number=case.number, reason="不属于本平台受理范围，请拨打12345。")
    assert case.answered_at is not None
    assert case.next_due_at is None


def test_an_answer_needs_text_and_the_right_people(loop):
    case = resident_report(loop)
    with pytest.raises(InvalidInput) as caught:
        s.case_answer(actor=loop.operator, number=case.number, text="  ")
    assert caught.value.errors[0].field == "text"
    with pytest.raises(NotFound):
        s.case_answer(actor=loop.other_operator, number=case.number, text="答复")
    with pytest.raises(Forbidden):
        s.case_answer(actor=loop.grid_worker, number=case.number, text="答复")


def test_an_assisting_department_does_not_answer_for_the_lead(loop):
    case = resident_report(loop)
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    s.case_request_assist(actor=loop.handler, number=case.number, departments=[loop.county_enforcement])
    with pytest.raises(Forbidden):
        s.case_answer(actor=loop.county_handler, number=case.number, text="答复")
    s.case_answer(actor=loop.handler, number=case.number, text="正在处理。")


def test_the_reporter_hears_of_the_answer(loop):
    resident = UserFactory(email="resident@example.org")
    case = resident_report(loop, actor=resident)
    s.case_answer(actor=loop.operator, number=case.number, text="答复内容")
    assert set(Message.objects.filter(topic="case.answer", recipient=resident).values_list("channel", flat=True)) \
        == {"inbox", "email"}


# -- following a request --------------------------------------------------------------------------
def test_a_request_is_found_by_its_code_and_the_phones_last_four_digits(loop):
    case = resident_report(loop)
    assert case_for_resident(code=tracking_code_display(case.tracking_code).lower(), phone_last4="1234") == case
    for code, last4 in [(case.tracking_code, "9999"), (case.tracking_code, ""), ("ABCDE12345", "1234"), ("", "")]:
        with pytest.raises(NotFound) as caught:
            case_for_resident(code=code, phone_last4=last4)
        assert str(caught.value) == "No request matches this code and phone number."


def test_an_anonymous_request_is_found_by_its_code_alone(loop):
    case = resident_report(loop, anonymous=True)
    assert case_for_resident(code=case.tracking_code) == case


def test_the_reporters_account_stands_for_the_phone(loop):
    resident = UserFactory()
    case = resident_report(loop, actor=resident)
    assert case_for_resident(code=case.tracking_code, user=resident) == case
    with pytest.raises(NotFound):
        case_for_resident(code=case.tracking_code, user=UserFactory())


def test_the_public_timeline_is_in_plain_words_and_leaves_internal_steps_out(loop, clock):
    case = resident_report(loop)
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number, department=loop.enforcement)
    s.case_flag(actor=loop.leader, number=case.number, reason="内部督办")
    s.case_answer(actor=loop.handler, number=case.number, text="已派人查看，联系电话13900001111。")
    entries = public_timeline(Case.objects.get(pk=case.pk))
    texts = [e.text for e in entries]
    assert texts[:3] == ["We received your request.", "Your request was accepted and registered.",
                         f"Sent to {loop.enforcement} to handle."]
    answer = entries[-1]
    assert answer.highlight and answer.text == "Answer"
    assert answer.detail == "已派人查看，联系电话****。"  # numbers in public text are redacted
    assert not any("内部督办" in e.text + e.detail for e in entries)


# -- rating ---------------------------------------------------------------------------------------
def test_a_satisfied_rating_ends_the_loop(loop):
    case = closed(loop, resident_report(loop))
    case = s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=5, comment="很快")
    assert case.state == CaseState.RATED and case.rating == 5
    assert CaseEvent.objects.get(case=case, action="rate").actor_label == "resident"


def test_an_unsatisfied_rating_within_seven_days_reopens_review(loop, clock):
    case = closed(loop, resident_report(loop))
    clock.now += timedelta(days=6)
    case = s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=1, comment="根本没修好")
    assert case.state == CaseState.ACCEPTED
    assert case.reopen_count == 1 and case.closed_at is None and case.rating == 1
    assert list(CaseEvent.objects.filter(case=case).order_by("-seq").values_list("action", flat=True)[:2]) \
        == ["reopen", "rate"]
    assert Message.objects.filter(topic="case.review", recipient=loop.operator).exists()
    assert case.due_at is not None  # the command centre's dispatch clock runs again


def test_an_unsatisfied_rating_after_seven_days_is_recorded_only(loop, clock):
    case = closed(loop, resident_report(loop))
    clock.now += timedelta(days=8)
    case = s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=2)
    assert case.state == CaseState.RATED and case.reopen_count == 0


def test_only_a_closed_case_is_rated_and_only_once(loop):
    case = resident_report(loop)
    with pytest.raises(TransitionNotAllowed):
        s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=4)
    closed(loop, case)
    s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=4)
    with pytest.raises(TransitionNotAllowed):
        s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=5)


@pytest.mark.parametrize("rating", [0, 6, "5", True])
def test_a_rating_is_a_whole_number_from_one_to_five(loop, rating):
    case = closed(loop, resident_report(loop))
    with pytest.raises(InvalidInput):
        s.case_rate_by_resident(code=case.tracking_code, phone_last4="1234", rating=rating)
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED and case.rating is None


def test_a_wrong_phone_cannot_rate(loop):
    case = closed(loop, resident_report(loop))
    with pytest.raises(NotFound):
        s.case_rate_by_resident(code=case.tracking_code, phone_last4="0000", rating=1)


# -- the public view ------------------------------------------------------------------------------
def test_public_cases_leave_out_private_merged_and_rejected_ones(loop):
    shown = resident_report(loop)
    private = resident_report(loop, is_public=False)
    rejected = resident_report(loop)
    s.case_reject(actor=loop.operator, number=rejected.number, reason="重复")
    numbers = set(public_cases().values_list("number", flat=True))
    assert shown.number in numbers and private.number not in numbers and rejected.number not in numbers
    assert set(public_cases(state_group="done").values_list("number", flat=True)) == set()
    assert public_cases(area_code=loop.territory.townships[1].code).count() == 0


def test_a_public_card_holds_no_personal_data_and_a_point_blurred_to_the_grid(loop):
    lon, lat = loop.point()
    case = resident_report(loop, lon=lon + 0.001, lat=lat + 0.001, description="我家门口13805751234的车占道")
    card = public_case_card(Case.objects.get(pk=case.pk))
    text = repr(card)
    for secret in ("王小明", PHONE, "3组15号", case.tracking_code):
        assert secret not in text
    grid = loop.grid
    assert card["point"] == (round((grid.min_lon + grid.max_lon) / 2, 5), round((grid.min_lat + grid.max_lat) / 2, 5))
    assert card["state_label"] == "received"


def test_redaction_hides_long_numbers_but_keeps_dates_and_house_units():
    assert redact_text("电话 138-0575-1234，身份证33068119900101123X") == "电话 ****，身份证****"
    assert redact_text("2026年11月23日，3组15号") == "2026年11月23日，3组15号"


def test_a_resident_role_needs_no_assignment_to_report(loop):
    resident = UserFactory()
    AssignmentFactory(user=resident, role=Role.RESIDENT, region=loop.territory.townships[0])
    assert resident_report(loop, actor=resident).reporter_user == resident
