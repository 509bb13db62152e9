"""The whole path through the services: intake → risk → match → assign → session → agreement
signed by both parties and the mediator → in force → follow-up → performed; and failure → referral."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from fengqiao.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.mediation import selectors as sel
from fengqiao.mediation import services as s
from fengqiao.mediation.events import verify_chain
from fengqiao.mediation.models import (
    AgreementState,
    Dispute,
    FollowUp,
    FollowUpState,
    Outcome,
    ReferralRoute,
    SessionMode,
)
from fengqiao.mediation.states import DisputeState as S
from fengqiao.notify.models import Message

pytestmark = pytest.mark.django_db


def content(**overrides):
    values = dict(facts="张家修排水沟致雨水流入李家院子。", points_in_dispute="排水沟走向及损失赔偿。",
                  responsibilities="张大山承担主要责任。", obligations="张大山改建排水沟并赔偿李小明1500元。",
                  performance_manner="现金支付，村委会见证。", performance_deadline=date(2026, 4, 1))
    values.update(overrides)
    return s.AgreementContent(**values)


def test_whole_path_to_performed(world):
    clock = world.clock
    dispute = world.register()
    assert dispute.state == S.REGISTERED and dispute.number.startswith("TJ330681101-20260302-")
    assert len(dispute.issued_codes) == 2
    dispute = s.dispute_assess(actor=world.centre, number=dispute.number, answers={"people_involved": 3},
                               expected_version=dispute.version)
    assert dispute.state == S.ASSESSED and dispute.risk_level == "low"

    proposals = sel.match_mediators(actor=world.centre, number=dispute.number)
    names = [m.candidate.name for m in proposals.result.proposals]
    assert names[0] == "m-neighbour-village"  # specialty and same village
    assert len(names) == 3
    mediator = proposals.mediators[proposals.result.proposals[0].candidate.id]
    dispute = s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator,
                               expected_version=dispute.version)
    assert dispute.state == S.ASSIGNED and dispute.level == "village" and dispute.session_due_at is not None

    mediator_user = mediator.user
    start = clock.now + timedelta(days=1)
    session = s.session_schedule(actor=mediator_user, number=dispute.number, starts_at=start,
                                 ends_at=start + timedelta(hours=1), mode=SessionMode.IN_PERSON, place="村委会调解室")
    dispute.refresh_from_db()
    assert dispute.state == S.IN_MEDIATION
    ics = sel.session_ics(actor=mediator_user, session_id=session.pk)
    assert b"BEGIN:VEVENT" in ics and dispute.number.encode() in ics and "李小明".encode() not in ics

    clock.advance(days=1, minutes=30)
    parties = {p.role: p.pk for p in dispute.parties.all()}
    s.session_record(actor=mediator_user, session_id=session.pk, minutes="双方陈述，达成初步意见。",
                     attendance={parties["applicant"]: True, parties["respondent"]: True})
    agreement = s.agreement_draft(actor=mediator_user, number=dispute.number, content=content())
    assert agreement.pdf_hash == hashlib.sha256(agreement.pdf_bytes).hexdigest()
    dispute.refresh_from_db()
    assert dispute.state == S.AGREED

    s.agreement_sign(signer=world.credentials(dispute, "applicant"), agreement=agreement,
                     shown_hash=agreement.pdf_hash, signature_text="李小明")
    s.agreement_sign(signer=world.credentials(dispute, "respondent"), agreement=agreement,
                     shown_hash=agreement.pdf_hash, signature_text="张大山")
    dispute.refresh_from_db()
    assert dispute.state == S.AGREED  # the mediator has not signed yet
    agreement = s.agreement_sign(signer=mediator_user, agreement=agreement, shown_hash=agreement.pdf_hash,
                                 signature_text=mediator.display_name)
    dispute.refresh_from_db()
    assert agreement.state == AgreementState.EFFECTIVE
    assert dispute.state == S.EFFECTIVE and dispute.outcome == Outcome.SETTLED
    assert agreement.confirmation_deadline == clock.now.date() + timedelta(days=30)
    assert Message.objects.filter(topic="dispute.effective").exists()
    follow_up = FollowUp.objects.get(dispute=dispute, state=FollowUpState.SCHEDULED)
    assert follow_up.due_at.date() == date(2026, 4, 2)

    # the periodic job reminds once
    clock.set(2026, 4, 2, 10, 0)
    assert s.remind_due_follow_ups() >= 1
    assert s.remind_due_follow_ups() == 0
    s.follow_up_record(actor=mediator_user, follow_up_id=follow_up.pk, result="performed")
    dispute.refresh_from_db()
    assert dispute.state == S.PERFORMED
    s.party_rate(credentials=world.credentials(dispute, "applicant"), rating=5, comment="满意")
    with pytest.raises(Conflict):
        s.party_rate(credentials=world.credentials(dispute, "applicant"), rating=4)
    report = verify_chain()
    assert report.ok, report.broken


def test_failure_then_referral_hands_over_the_file(world):
    dispute = world.register()
    dispute = s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    mediator = world.mediators[1]
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator)
    with pytest.raises(InvalidInput):
        s.dispute_fail(actor=mediator.user, number=dispute.number, reason="")
    s.dispute_fail(actor=mediator.user, number=dispute.number, reason="双方分歧过大")
    with pytest.raises(Forbidden):  # referral is the centre's
        s.dispute_refer(actor=mediator.user, number=dispute.number, route=ReferralRoute.LITIGATION,
                        body="诸暨市人民法院", reason="调解不成")
    referral = s.dispute_refer(actor=world.centre, number=dispute.number, route=ReferralRoute.LITIGATION,
                               body="诸暨市人民法院", reason="调解不成，告知诉讼途径")
    dispute.refresh_from_db()
    assert dispute.state == S.REFERRED and dispute.outcome == Outcome.FAILED
    assert referral.handover_bytes.startswith(b"%PDF") and referral.body == "诸暨市人民法院"
    assert referral.handover_hash == hashlib.sha256(referral.handover_bytes).hexdigest()
    from io import BytesIO

    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(BytesIO(referral.handover_bytes)).pages)
    assert dispute.number in text and "诸暨市人民法院" in text and "双方分歧过大" in text


def test_non_performance_reopens_mediation(world):
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    mediator = world.mediators[1]
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator)
    start = world.clock.now + timedelta(hours=2)
    session = s.session_schedule(actor=mediator.user, number=dispute.number, starts_at=start,
                                 ends_at=start + timedelta(hours=1), room=world.room)
    world.clock.advance(hours=3)
    s.session_record(actor=mediator.user, session_id=session.pk, minutes="达成协议", attendance={})
    agreement = s.agreement_draft(actor=mediator.user, number=dispute.number, content=content())
    for role in ("applicant", "respondent"):
        s.agreement_sign(signer=world.credentials(dispute, role), agreement=agreement, shown_hash=agreement.pdf_hash,
                         signature_text=role)
    s.agreement_sign(signer=mediator.user, agreement=agreement, shown_hash=agreement.pdf_hash, signature_text="m")
    follow_up = FollowUp.objects.get(dispute=dispute)
    with pytest.raises(InvalidInput):  # say what was not done
        s.follow_up_record(actor=mediator.user, follow_up_id=follow_up.pk, result="not_performed")
    s.follow_up_record(actor=mediator.user, follow_up_id=follow_up.pk, result="not_performed", note="未付款")
    assert Message.objects.filter(topic="dispute.not_performed").exists()
    dispute = s.dispute_reopen(actor=world.centre, number=dispute.number, reason="未履行，重新调解")
    assert dispute.state == S.IN_MEDIATION and dispute.outcome == "" and dispute.settled_at is None
    # a new agreement is revision 2
    second = s.agreement_draft(actor=mediator.user, number=dispute.number, content=content(obligations="分两期付款"))
    assert second.revision == 2


def test_stale_version_and_scope(world):
    dispute = world.register()
    with pytest.raises(NotFound):
        s.dispute_assess(actor=world.other_centre, number=dispute.number, answers={})
    with pytest.raises(NotFound):
        sel.dispute_get(actor=world.other_centre, number=dispute.number)
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={}, expected_version=dispute.version)
    with pytest.raises(Conflict) as caught:
        s.dispute_assess(actor=world.centre, number=dispute.number, answers={}, expected_version=dispute.version)
    assert caught.value.code == "stale_version"
    # a mediator sees only their own disputes
    with pytest.raises(NotFound):
        sel.dispute_get(actor=world.mediators[1].user, number=dispute.number)
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=world.mediators[1])
    assert sel.dispute_get(actor=world.mediators[1].user, number=dispute.number).pk == dispute.pk
    with pytest.raises(NotFound):
        sel.dispute_get(actor=world.mediators[2].user, number=dispute.number)
    with pytest.raises(TransitionNotAllowed):
        s.dispute_assign(actor=world.centre, number=dispute.number, mediator=world.mediators[2])


def test_register_bad_input_changes_nothing(world):
    before = Dispute.objects.count()
    with pytest.raises(InvalidInput) as caught:
        world.register(title="", parties=[s.PartyIn(role="applicant", name="李小明", phone="abc")])
    fields = {e.field for e in caught.value.errors}
    assert {"title", "parties", "parties[0].phone"} <= fields
    with pytest.raises(InvalidInput) as caught:
        world.register(intake_mode="court", referred_by="")
    assert caught.value.errors[0].field == "referred_by"
    with pytest.raises(InvalidInput):
        world.register(amount="-5")
    assert Dispute.objects.count() == before


def test_idempotent_registration(world):
    first = world.register(idempotency_key="k-1")
    again = world.register(idempotency_key="k-1")
    assert again.pk == first.pk
    with pytest.raises(Conflict):
        world.register(idempotency_key="k-1", title="另一件事")


def test_a_case_becomes_a_dispute(world):
    from fengqiao.cases.models import Channel
    from fengqiao.cases.services import case_report
    from fengqiao.org.models import Role
    from tests.factories import AssignmentFactory, CategoryFactory, UserFactory

    worker = UserFactory(username="gw")
    AssignmentFactory(user=worker, role=Role.GRID_WORKER, grid=world.grid)
    case = case_report(actor=worker, channel=Channel.GRID_WORKER, category=CategoryFactory(),
                       description="两户因宅基地界址争吵", grid=world.grid)
    parties = [s.PartyIn(role="applicant", name="王一", phone="13811112222"),
               s.PartyIn(role="respondent", name="赵二", phone="13833334444")]
    with pytest.raises(NotFound):  # the case is out of the other centre's scope
        s.dispute_from_case(actor=world.other_centre, case_number=case.number, type=world.type("housing_land"),
                            parties=parties)
    dispute = s.dispute_from_case(actor=world.centre, case_number=case.number, type=world.type("housing_land"),
                                  parties=parties)
    assert dispute.origin_case_number == case.number and dispute.intake_mode == "case"
    assert dispute.facts.startswith("两户因宅基地界址争吵") and dispute.area_code == case.area_code
    with pytest.raises(Conflict):
        s.dispute_from_case(actor=world.centre, case_number=case.number, type=world.type("housing_land"),
                            parties=parties)
