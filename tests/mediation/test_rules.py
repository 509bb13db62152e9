"""Risk rules, matching with conflict-of-interest exclusion, the party's view, the agreement PDF,
signing against the hash, and double-booking."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader

from fengqiao.core.errors import Conflict, InvalidInput, NotFound
from fengqiao.core.models import PersonalDataAccess
from fengqiao.mediation import matching
from fengqiao.mediation import selectors as sel
from fengqiao.mediation import services as s
from fengqiao.mediation.agreements import HEADINGS
from fengqiao.mediation.models import AgreementSignature, MediationSession, RiskRule, RiskThreshold
from fengqiao.mediation.risk import evaluate
from fengqiao.notify.models import Message
from tests.mediation.conftest import APPLICANT_PHONE, RESPONDENT_PHONE
from tests.mediation.test_loop import content

pytestmark = pytest.mark.django_db


# -- risk ------------------------------------------------------------------------------------------
def test_risk_rules_from_data_give_level_and_reasons():
    rules, thresholds = list(RiskRule.objects.all()), list(RiskThreshold.objects.all())
    low = evaluate(rules=rules, thresholds=thresholds, answers={"vulnerable": True})
    assert (low.points, low.level) == (2, "low")
    # 30 people at 1 point per 5 from 5 up: 6 points, plus a deadline (3) = 9 >= high threshold 8
    many = evaluate(rules=rules, thresholds=thresholds, answers={"people_involved": 30, "deadline_pressure": True})
    assert many.points == 9 and many.level == "high"
    # a threat of violence is high whatever the points (level floor)
    threat = evaluate(rules=rules, thresholds=thresholds, answers={"violence_threat": "yes"})
    assert threat.level == "high" and [r.code for r in threat.reasons] == ["violence_threat"]
    # the floor of a deadline lifts a low total to medium
    assert evaluate(rules=rules, thresholds=thresholds, answers={"deadline_pressure": 1}).level == "medium"


def test_risk_rules_are_data(world):
    RiskRule.objects.filter(code="vulnerable").update(level_floor="high")
    dispute = world.register()
    dispute = s.dispute_assess(actor=world.centre, number=dispute.number, answers={"vulnerable": True})
    assert dispute.risk_level == "high"


def test_high_risk_notifies_the_centre_and_shortens_deadlines(world):
    low = world.register()
    low = s.dispute_assess(actor=world.centre, number=low.number, answers={})
    high = world.register()
    high = s.dispute_assess(actor=world.centre, number=high.number, answers={"violence_threat": True})
    assert high.risk_level == "high"
    assert high.assign_due_at - high.created_at < low.assign_due_at - low.created_at
    assessment = sel.latest_assessment(dispute=high)
    assert assessment.reasons[0]["code"] == "violence_threat" and assessment.level == "high"
    notices = Message.objects.filter(topic="dispute.high_risk", recipient=world.centre)
    assert notices.count() == 1 and high.number in notices.get().subject
    assert not Message.objects.filter(topic="dispute.high_risk", recipient=world.other_centre).exists()
    assert not Message.objects.filter(topic="dispute.high_risk", subject__contains=low.number).exists()


def test_bad_risk_answers_change_nothing(world):
    dispute = world.register()
    with pytest.raises(InvalidInput) as caught:
        s.dispute_assess(actor=world.centre, number=dispute.number, answers={"no_such_item": True})
    assert caught.value.errors[0].field == "answers.no_such_item"
    with pytest.raises(InvalidInput):
        s.dispute_assess(actor=world.centre, number=dispute.number, answers={"people_involved": "many"})
    dispute.refresh_from_db()
    assert dispute.state == "registered" and dispute.version == 1 and not dispute.assessments.exists()


# -- matching ------------------------------------------------------------------------------------------
def test_conflict_of_interest_excluded_from_matching_and_assignment(world):
    best = world.mediators[0]  # neighbour specialist in the same village: first without a conflict
    s.mediator_declare_link(actor=best.user, mediator=best, relation="表兄弟", phone=RESPONDENT_PHONE)
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    proposals = sel.match_mediators(actor=world.centre, number=dispute.number)
    assert best.pk not in [m.candidate.id for m in proposals.result.ranked]
    assert [(e.candidate.id, e.reason) for e in proposals.result.excluded] == [(best.pk, matching.CONFLICT)]
    with pytest.raises(Conflict) as caught:
        s.dispute_assign(actor=world.centre, number=dispute.number, mediator=best)
    assert caught.value.code == "conflict_of_interest"


def test_mediator_who_is_a_party_is_excluded(world):
    town = world.mediators[1]
    dispute = world.register(parties=[
        s.PartyIn(role="applicant", name="李小明", phone=APPLICANT_PHONE),
        s.PartyIn(role="respondent", name="调解员本人", phone="13700009999")])
    town.phone_index = __import__("fengqiao.core.crypto", fromlist=["blind_index"]).blind_index("137 0000 9999",
                                                                                                  "phone")
    town.save()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    excluded = {e.candidate.id: e.reason for e in sel.match_mediators(actor=world.centre,
                                                                      number=dispute.number).result.excluded}
    assert excluded == {town.pk: matching.CONFLICT}


def test_ask_for_another_excludes_the_refused_mediator(world):
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    first = world.mediators[0]
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=first)
    s.party_ask_for_another(credentials=world.credentials(dispute, "respondent"), reason="调解员与对方熟识")
    assert Message.objects.filter(topic="dispute.replace_requested", recipient=world.centre).exists()
    proposals = sel.match_mediators(actor=world.centre, number=dispute.number)
    assert (first.pk, matching.REFUSED) in [(e.candidate.id, e.reason) for e in proposals.result.excluded]
    replaced = s.dispute_replace_mediator(actor=world.centre, number=dispute.number, mediator=world.mediators[1],
                                          reason="当事人申请更换")
    assert replaced.mediator_id == world.mediators[1].pk
    with pytest.raises(Conflict):
        s.dispute_replace_mediator(actor=world.centre, number=dispute.number, mediator=first, reason="换回")


def test_score_prefers_specialty_area_and_low_load():
    base = dict(organisation_specialties=frozenset(), capacity=10, languages=frozenset())
    request = matching.MatchRequest(type_code="neighbour", area_code="330681101201001")
    village = matching.Candidate(id=1, name="a", specialties=frozenset({"neighbour"}), area_code="330681101201",
                                 open_load=5, **base)
    township = matching.Candidate(id=2, name="b", specialties=frozenset({"neighbour"}), area_code="330681101",
                                  open_load=0, **base)
    no_specialty = matching.Candidate(id=3, name="c", specialties=frozenset(), area_code="330681101201",
                                      open_load=0, **base)
    full = matching.Candidate(id=4, name="d", specialties=frozenset({"neighbour"}), area_code="330681101201",
                              open_load=10, **base)
    result = matching.rank([no_specialty, township, village, full], request)
    # village: 40 + 25 + 10 + 5 + 5 = 85; township: 40 + 15 + 20 + 5 + 5 = 85 -> fewer open disputes first
    assert [(m.candidate.id, m.score) for m in result.proposals] == [(2, 85), (1, 85), (3, 55)]
    assert [(e.candidate.id, e.reason) for e in result.excluded] == [(4, matching.FULL)]


# -- the party's view ------------------------------------------------------------------------------------
def test_party_never_sees_the_other_partys_contact_data(world):
    dispute = world.register()
    creds = world.credentials(dispute, "applicant")
    view = sel.dispute_for_party(code=creds.code, phone_last4=creds.phone_last4)
    assert view.name == "李小明" and view.phone == APPLICANT_PHONE
    assert [(o.role, o.name) for o in view.others] == [("respondent", "张**")]
    flat = repr(view)
    assert RESPONDENT_PHONE not in flat and "张大山" not in flat and "枫桥镇村一14号" not in flat
    assert not hasattr(view.others[0], "phone")
    # a wrong phone or a wrong code: the same "not found"
    with pytest.raises(NotFound):
        sel.dispute_for_party(code=creds.code, phone_last4="0000")
    with pytest.raises(NotFound):
        sel.dispute_for_party(code="AAAA-BBBB-CCCC", phone_last4=creds.phone_last4)
    # only public events
    assert all(e.is_public for e in view.events)


def test_staff_see_parties_masked_and_full_view_is_logged(world):
    dispute = world.register()
    parties = sel.dispute_parties(actor=world.centre, dispute=dispute)
    assert parties[0].name == "李**" and parties[0].phone == "138****1111"
    with pytest.raises(InvalidInput):
        s.party_contacts_reveal(actor=world.centre, number=dispute.number, reason="")
    full = s.party_contacts_reveal(actor=world.centre, number=dispute.number, reason="电话通知调解时间")
    assert full[0].phone == APPLICANT_PHONE
    log = PersonalDataAccess.objects.get()
    assert log.actor == world.centre and dispute.number in log.subject
    with pytest.raises(NotFound):
        s.party_contacts_reveal(actor=world.other_centre, number=dispute.number, reason="x")


# -- the agreement -----------------------------------------------------------------------------------------
def _to_agreement(world):
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    mediator = world.mediators[1]
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator)
    start = world.clock.now + timedelta(hours=1)
    s.session_schedule(actor=mediator.user, number=dispute.number, starts_at=start, ends_at=start + timedelta(hours=1),
                       room=world.room)
    agreement = s.agreement_draft(actor=mediator.user, number=dispute.number, content=content())
    return dispute, mediator, agreement


def test_pdf_is_valid_and_contains_every_art_29_field(world):
    dispute, mediator, agreement = _to_agreement(world)
    reader = PdfReader(BytesIO(agreement.pdf_bytes))
    text = "".join(page.extract_text() for page in reader.pages)
    compact = "".join(text.split())
    for heading in list(HEADINGS.values())[:7]:
        assert "".join(heading.split()) in compact, heading
    for value in ("李小明", "张大山", "330681199001011234", "张家修排水沟致雨水流入李家院子。", "排水沟走向及损失赔偿。",
                  "张大山承担主要责任。", "张大山改建排水沟并赔偿李小明1500元。", "现金支付，村委会见证。",
                  "2026年04月01日", mediator.display_name, "镇矛调中心", "司法确认"):
        assert value in compact, value
    # the same content renders the same bytes
    from fengqiao.mediation.agreements import document_for, render_agreement_pdf

    dispute.refresh_from_db()
    again = render_agreement_pdf(document_for(agreement=agreement, dispute=dispute))
    assert hashlib.sha256(again).hexdigest() == agreement.pdf_hash


def test_signing_a_changed_agreement_is_refused(world):
    dispute, mediator, agreement = _to_agreement(world)
    shown = agreement.pdf_hash
    s.agreement_sign(signer=world.credentials(dispute, "applicant"), agreement=agreement, shown_hash=shown,
                     signature_text="李小明")
    changed = s.agreement_draft(actor=mediator.user, number=dispute.number,
                                content=content(obligations="张大山赔偿李小明1200元。"))
    assert changed.pk == agreement.pk and changed.pdf_hash != shown
    # the first signature no longer counts
    assert AgreementSignature.objects.get().voided_at is not None
    with pytest.raises(Conflict) as caught:
        s.agreement_sign(signer=world.credentials(dispute, "respondent"), agreement=changed, shown_hash=shown,
                         signature_text="张大山")
    assert caught.value.code == "agreement_changed"
    assert AgreementSignature.objects.filter(voided_at__isnull=True).count() == 0
    # unchanged content keeps hash and signatures
    s.agreement_sign(signer=world.credentials(dispute, "respondent"), agreement=changed, shown_hash=changed.pdf_hash,
                     signature_text="张大山")
    same = s.agreement_draft(actor=mediator.user, number=dispute.number,
                             content=content(obligations="张大山赔偿李小明1200元。"))
    assert same.pdf_hash == changed.pdf_hash
    assert AgreementSignature.objects.filter(voided_at__isnull=True).count() == 1
    with pytest.raises(Conflict) as caught:
        s.agreement_sign(signer=world.credentials(dispute, "respondent"), agreement=changed,
                         shown_hash=changed.pdf_hash, signature_text="张大山")
    assert caught.value.code == "already_signed"


def test_signature_needs_text_or_a_png(world):
    dispute, mediator, agreement = _to_agreement(world)
    creds = world.credentials(dispute, "applicant")
    with pytest.raises(InvalidInput):
        s.agreement_sign(signer=creds, agreement=agreement, shown_hash=agreement.pdf_hash)
    with pytest.raises(InvalidInput):
        s.agreement_sign(signer=creds, agreement=agreement, shown_hash=agreement.pdf_hash,
                         signature_image_png=b"\x89PNG\r\n\x1a\nnot really")
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGBA", (120, 40), (0, 0, 0, 0)).save(buffer, "PNG")
    s.agreement_sign(signer=creds, agreement=agreement, shown_hash=agreement.pdf_hash,
                     signature_image_png=buffer.getvalue())
    # another mediator may not sign
    with pytest.raises(NotFound):
        s.agreement_sign(signer=world.mediators[2].user, agreement=agreement, shown_hash=agreement.pdf_hash,
                         signature_text="x")


def test_agreement_fields_are_required(world):
    dispute, mediator, _agreement = _to_agreement(world)
    with pytest.raises(InvalidInput) as caught:
        s.agreement_draft(actor=mediator.user, number=dispute.number,
                          content=content(obligations="", performance_deadline=date(2020, 1, 1)))
    assert {e.field for e in caught.value.errors} == {"obligations", "performance_deadline"}


# -- sessions ----------------------------------------------------------------------------------------------
def test_mediator_cannot_be_booked_twice_at_the_same_time(world):
    mediator = world.mediators[1]
    first = world.register()
    second = world.register()
    for dispute in (first, second):
        s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
        s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator)
    start = world.clock.now + timedelta(days=1)
    s.session_schedule(actor=mediator.user, number=first.number, starts_at=start, ends_at=start + timedelta(hours=2),
                       place="村委会")
    with pytest.raises(Conflict) as caught:
        s.session_schedule(actor=mediator.user, number=second.number, starts_at=start + timedelta(hours=1),
                           ends_at=start + timedelta(hours=3), place="村委会")
    assert caught.value.code == "mediator_double_booked"
    second.refresh_from_db()
    assert second.state == "assigned" and second.version == 3 and MediationSession.objects.count() == 1
    # back to back is fine
    s.session_schedule(actor=mediator.user, number=second.number, starts_at=start + timedelta(hours=2),
                       ends_at=start + timedelta(hours=3), place="村委会")


def test_room_double_booking_and_remote_link(world, settings):
    a, b = world.mediators[1], world.mediators[2]
    first, second = world.register(), world.register()
    s.dispute_assess(actor=world.centre, number=first.number, answers={})
    s.dispute_assess(actor=world.centre, number=second.number, answers={})
    s.dispute_assign(actor=world.centre, number=first.number, mediator=a)
    s.dispute_assign(actor=world.centre, number=second.number, mediator=b)
    start = world.clock.now + timedelta(days=1)
    s.session_schedule(actor=a.user, number=first.number, starts_at=start, ends_at=start + timedelta(hours=1),
                       room=world.room)
    with pytest.raises(Conflict) as caught:
        s.session_schedule(actor=b.user, number=second.number, starts_at=start, ends_at=start + timedelta(hours=1),
                           room=world.room)
    assert caught.value.code == "room_taken"
    with pytest.raises(InvalidInput):  # remote without any configured link
        s.session_schedule(actor=b.user, number=second.number, starts_at=start, ends_at=start + timedelta(hours=1),
                           mode="remote")
    settings.MEDIATION_MEETING_LINK = "https://meet.example.org/fq-{number}-{session}"
    remote = s.session_schedule(actor=b.user, number=second.number, starts_at=start,
                                ends_at=start + timedelta(hours=1), mode="remote")
    assert remote.meeting_link.startswith(f"https://meet.example.org/fq-{second.number}-")
    with pytest.raises(InvalidInput):
        s.session_schedule(actor=b.user, number=second.number, starts_at=start + timedelta(hours=2),
                           ends_at=start + timedelta(hours=1), place="x")


def test_session_notifies_parties_by_sms_without_personal_data(world):
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=world.mediators[1])
    start = world.clock.now + timedelta(days=1)
    s.session_schedule(actor=world.mediators[1].user, number=dispute.number, starts_at=start,
                       ends_at=start + timedelta(hours=1), room=world.room)
    sms = Message.objects.filter(topic="dispute.session_scheduled", channel="sms")
    assert sorted(m.address for m in sms) == [APPLICANT_PHONE, RESPONDENT_PHONE]
    for message in sms:
        assert "李小明" not in message.body + message.subject and "张大山" not in message.body + message.subject
    assert Message.objects.filter(topic="dispute.session_scheduled", recipient=world.mediators[1].user).exists()


def test_overdue_notice_once_per_stage(world):
    from fengqiao.mediation.tasks import remind_overdue

    dispute = world.register()
    dispute = s.dispute_assess(actor=world.centre, number=dispute.number, answers={"violence_threat": True})
    assert remind_overdue() == 0
    world.clock.now = dispute.assign_due_at + timedelta(minutes=1)
    assert remind_overdue() == 1
    remind_overdue()
    notices = Message.objects.filter(topic="dispute.overdue", recipient=world.centre)
    assert notices.count() == 1 and dispute.number in notices.get().subject
    # assigned in time for the next stage: nothing more until its own deadline
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=world.mediators[1])
    world.clock.advance(days=3)
    remind_overdue()
    assert Message.objects.filter(topic="dispute.overdue", recipient=world.mediators[1].user).count() == 1
