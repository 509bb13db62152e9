"""The mediation pages: scope, forms that keep input on errors, errors in the user's language,
bounded queries on the lists, and the parties' pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fengqiao.core.models import PersonalDataAccess
from fengqiao.mediation import services as s
from fengqiao.mediation.models import AgreementState, Dispute, MediationSession
from fengqiao.mediation.states import DisputeState as S
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, UserFactory
from tests.mediation.conftest import APPLICANT_PHONE, RESPONDENT_PHONE, make_mediator
from tests.mediation_web.conftest import assigned, content

pytestmark = pytest.mark.django_db

DESK = reverse("mediation:desk")
INTAKE = reverse("mediation:intake")
WORKSPACE = reverse("mediation:workspace")
PARTY = reverse("mediation:party_access")
PARTY_PAGE = reverse("mediation:party_dispute")
PARTY_SIGN = reverse("mediation:party_sign")


def page(number: str) -> str:
    return reverse("mediation:dispute", args=[number])


def act(number: str, action: str) -> str:
    return reverse("mediation:action", args=[number, action])


def intake_data(world, **overrides) -> dict:
    data = {
        "type": world.type().pk, "title": "邻里排水沟纠纷", "facts": "雨水流入李家院子。", "claims": "改建排水沟",
        "amount": "2000", "intake_mode": "application", "referred_by": "", "origin_case_number": "",
        "region": "", "grid": world.grid.code, "level": "township", "idempotency_key": "k-1",
        "parties-TOTAL_FORMS": "2", "parties-INITIAL_FORMS": "0", "parties-MIN_NUM_FORMS": "2",
        "parties-MAX_NUM_FORMS": "20",
        "parties-0-role": "applicant", "parties-0-kind": "person", "parties-0-name": "李小明",
        "parties-0-phone": APPLICANT_PHONE, "parties-0-id_number": "330681199001011234",
        "parties-0-address": "枫桥镇村一12号",
        "parties-1-role": "respondent", "parties-1-kind": "person", "parties-1-name": "张大山",
        "parties-1-phone": RESPONDENT_PHONE, "parties-1-address": "枫桥镇村一14号",
    }
    data.update(overrides)
    return data


# -- access and scope ---------------------------------------------------------------------------------
def test_anonymous_is_sent_to_sign_in_and_other_roles_are_refused(client, world):
    response = client.get(DESK)
    assert response.status_code == 302 and "/login/" in response["Location"]
    nobody = UserFactory(username="nobody")
    client.force_login(nobody)
    assert client.get(DESK).status_code == 403
    assert client.get(WORKSPACE).status_code == 403
    # a mediator has no centre desk; a centre has no mediator workspace
    client.force_login(world.mediators[1].user)
    assert client.get(DESK).status_code == 403
    assert client.get(WORKSPACE).status_code == 200
    client.force_login(world.centre)
    assert client.get(WORKSPACE).status_code == 403


def test_a_centre_of_another_township_and_another_mediator_get_404(signed_in, world):
    dispute = assigned(world)
    client = signed_in(world.other_centre)
    assert client.get(page(dispute.number)).status_code == 404
    assert client.post(act(dispute.number, "fail"), {"version": dispute.version, "reason": "x"}).status_code == 404
    assert client.get(DESK).status_code == 200
    assert dispute.number not in client.get(DESK).content.decode()
    client = signed_in(world.mediators[2].user)  # a mediator of the township, not assigned to it
    assert client.get(page(dispute.number)).status_code == 404
    client = signed_in(world.mediators[1].user)  # the assigned one
    assert client.get(page(dispute.number)).status_code == 200
    dispute.refresh_from_db()
    assert dispute.state == S.ASSIGNED  # nothing changed on the refused posts


# -- intake ----------------------------------------------------------------------------------------
def test_intake_registers_and_shows_the_access_codes_once(signed_in, world):
    client = signed_in(world.centre)
    assert client.get(INTAKE).status_code == 200
    response = client.post(INTAKE, intake_data(world))
    assert response.status_code == 200
    dispute = Dispute.objects.get()
    html = response.content.decode()
    codes = re.findall(r'<span class="code">([A-Z0-9-]+)</span>', html)
    assert len(codes) == 2 and dispute.number in html
    # the same form sent again: the same dispute, no codes shown again
    again = client.post(INTAKE, intake_data(world))
    assert Dispute.objects.count() == 1
    assert 'class="code"' not in again.content.decode()
    # the codes work on the parties' page
    party = client.post(PARTY, {"code": codes[0], "phone_last4": APPLICANT_PHONE[-4:]})
    assert party.status_code == 302


def test_intake_errors_keep_input_and_save_nothing(signed_in, world):
    client = signed_in(world.centre)
    data = intake_data(world, **{"parties-1-name": "", "parties-0-phone": "12ab", "title": "纠纷摘要保留",
                                 "idempotency_key": "k-2"})
    response = client.post(INTAKE, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Give the party&#x27;s name." in html or "Give the party's name." in html
    assert 'value="纠纷摘要保留"' in html and "枫桥镇村一12号" in html
    assert Dispute.objects.count() == 0
    # the domain's own check (a bad phone) comes back on the party's field
    data["parties-1-name"] = "张大山"
    response = client.post(INTAKE, data)
    assert response.status_code == 422
    assert "This is not a phone number." in response.content.decode()
    assert Dispute.objects.count() == 0


def test_intake_errors_in_chinese(client, world, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(world.centre)
    response = client.post(INTAKE, intake_data(world, title="", idempotency_key="k-3"),
                           HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 422
    html = response.content.decode()
    assert "登记纠纷" in html  # the page in Chinese
    assert "Summarise the dispute." not in html
    assert Dispute.objects.count() == 0


def test_adding_a_party_keeps_what_was_typed(signed_in, world):
    client = signed_in(world.centre)
    response = client.post(INTAKE, {**intake_data(world), "add_party": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="parties-2-name"' in html and 'value="李小明"' in html
    assert Dispute.objects.count() == 0


# -- risk and assignment -------------------------------------------------------------------------------
def test_risk_checklist_gives_a_level_with_its_reasons(signed_in, world):
    dispute = world.register()
    client = signed_in(world.centre)
    response = client.post(act(dispute.number, "assess"), {"version": dispute.version,
                                                             "answer_violence_threat": "on",
                                                             "answer_people_involved": "12"})
    assert response.status_code == 302
    html = client.get(page(dispute.number)).content.decode()
    assert 'id="dispute-risk"' in html and "high risk" in html
    assert "There are threats of violence or revenge" in html
    dispute.refresh_from_db()
    assert dispute.state == S.ASSESSED and dispute.risk_level == "high"


def test_proposals_leave_out_a_mediator_linked_to_a_party(signed_in, world):
    linked = make_mediator(username="m-linked", scope=world.village, organisation=world.village_org,
                           region=world.village, specialties=["neighbour"], phone=RESPONDENT_PHONE, actor=world.centre)
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    client = signed_in(world.centre)
    html = client.get(page(dispute.number)).content.decode()
    proposals = html.split('id="proposals"')[1].split("</ol>")[0]
    assert f'data-mediator="{linked.pk}"' not in proposals
    assert proposals.count("data-mediator=") == 3
    assert 'id="conflict-note"' in html and "m-linked: conflict of interest" in html
    # posting the linked mediator anyway is refused on the field, nothing changes
    dispute.refresh_from_db()
    response = client.post(act(dispute.number, "assign"), {"version": dispute.version, "mediator": linked.pk})
    assert response.status_code == 409
    assert "is linked to a party of this dispute" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == S.ASSESSED and dispute.mediator is None
    # "propose another" shows one more
    more = client.get(page(dispute.number) + "?more=1").content.decode()
    assert more.split('id="proposals"')[1].split("</ol>")[0].count("data-mediator=") == 4


def test_a_stale_version_is_refused_with_an_explanation(signed_in, world):
    dispute = world.register()
    client = signed_in(world.centre)
    response = client.post(act(dispute.number, "withdraw"), {"version": dispute.version + 5, "reason": "撤回"})
    assert response.status_code == 409
    assert "Someone changed this dispute" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == S.REGISTERED


# -- sessions ------------------------------------------------------------------------------------------
def test_double_booking_is_refused_on_the_start_field(signed_in, world):
    first = assigned(world)
    second = assigned(world)
    mediator = world.mediators[1]
    start = world.clock.now + timedelta(days=1)
    s.session_schedule(actor=mediator.user, number=first.number, starts_at=start, ends_at=start + timedelta(hours=2),
                       room=world.room)
    client = signed_in(mediator.user)
    second.refresh_from_db()
    local = start.astimezone(world.clock.now.tzinfo)
    data = {"version": second.version, "starts_at": (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "mode": "in_person",
            "place": "村委会"}
    response = client.post(act(second.number, "schedule"), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="id_starts_at_error"' in html and "already has a session" in html
    assert f'value="{data["starts_at"]}"' in html  # what was typed is kept
    assert MediationSession.objects.filter(dispute=second).count() == 0
    # a free time goes through
    data["starts_at"] = (local + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    data["ends_at"] = (local + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(act(second.number, "schedule"), data).status_code == 302
    assert MediationSession.objects.filter(dispute=second).count() == 1


def test_workspace_lists_my_disputes_and_sessions_with_ics(signed_in, world):
    dispute = assigned(world)
    mediator = world.mediators[1]
    start = world.clock.now + timedelta(days=1)
    session = s.session_schedule(actor=mediator.user, number=dispute.number, starts_at=start,
                                 ends_at=start + timedelta(hours=1), place="村委会")
    client = signed_in(mediator.user)
    html = client.get(WORKSPACE).content.decode()
    assert dispute.number in html and f'data-session="{session.pk}"' in html
    ics = client.get(reverse("mediation:session_ics", args=[session.pk]))
    assert ics.status_code == 200 and b"BEGIN:VEVENT" in ics.content
    assert signed_in(world.other_centre).get(reverse("mediation:session_ics", args=[session.pk])).status_code == 404


def test_lists_take_a_bounded_number_of_queries(signed_in, world):
    client = signed_in(world.centre)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(DESK).status_code == 200
        return len(queries)

    for i in range(2):
        assigned(world, 1 + i % 3)
        world.register()
    count()  # the first request also fills what the process keeps (the user's grants)
    few = count()
    for i in range(6):
        assigned(world, 1 + i % 3)
        world.register()
    assert count() == few
    mediator_client = signed_in(world.mediators[1].user)
    mediator_client.get(WORKSPACE)
    with CaptureQueriesContext(connection) as first:
        mediator_client.get(WORKSPACE)
    assigned(world)
    assigned(world)
    with CaptureQueriesContext(connection) as second:
        mediator_client.get(WORKSPACE)
    assert len(second) == len(first)


# -- reveal ------------------------------------------------------------------------------------------
def test_parties_are_masked_and_a_full_view_is_logged(signed_in, world):
    dispute = world.register()
    client = signed_in(world.centre)
    html = client.get(page(dispute.number)).content.decode()
    assert APPLICANT_PHONE not in html and "李小明" not in html
    response = client.post(act(dispute.number, "reveal"), {"reason": ""})
    assert response.status_code == 422 and PersonalDataAccess.objects.count() == 0
    response = client.post(act(dispute.number, "reveal"), {"reason": "电话通知开会"})
    assert response.status_code == 200 and APPLICANT_PHONE in response.content.decode()
    assert PersonalDataAccess.objects.get().reason == "电话通知开会"


# -- the agreement and the parties' pages -------------------------------------------------------------
def agreed(world):
    dispute = assigned(world)
    mediator = world.mediators[1]
    start = world.clock.now + timedelta(hours=2)
    session = s.session_schedule(actor=mediator.user, number=dispute.number, starts_at=start,
                                 ends_at=start + timedelta(hours=1), place="村委会")
    world.clock.advance(hours=3)
    s.session_record(actor=mediator.user, session_id=session.pk, minutes="达成一致", attendance={})
    agreement = s.agreement_draft(actor=mediator.user, number=dispute.number, content=content())
    dispute.refresh_from_db()
    return dispute, agreement


def party_client(client, world, dispute, role: str):
    creds = world.credentials(dispute, role)
    response = client.post(PARTY, {"code": creds.code, "phone_last4": creds.phone_last4})
    assert response.status_code == 302, response.content.decode()[:400]
    return client


def test_party_access_is_neutral_on_a_mismatch(client, world):
    dispute = world.register()
    creds = world.credentials(dispute)
    wrong_phone = client.post(PARTY, {"code": creds.code, "phone_last4": "0000"})
    wrong_code = client.post(PARTY, {"code": "AAAA-BBBB-CCCC", "phone_last4": creds.phone_last4})
    assert wrong_phone.status_code == wrong_code.status_code == 404
    message = "We found no dispute with this access code and these phone digits"
    assert message in wrong_phone.content.decode() and message in wrong_code.content.decode()
    assert client.get(PARTY_PAGE).status_code == 302  # nothing proved: back to the form


def test_party_access_is_rate_limited(client, world, settings):
    settings.PUBLIC_RATES = {"mediation.party_access": "3/h"}
    statuses = [client.post(PARTY, {"code": "AAAA-BBBB-CCCC", "phone_last4": "1234"}).status_code
                for _ in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_a_party_never_sees_the_other_partys_contact_data(client, world):
    dispute, _agreement = agreed(world)
    party_client(client, world, dispute, "respondent")
    html = client.get(PARTY_PAGE).content.decode()
    assert RESPONDENT_PHONE in html or "张大山" in html  # their own
    for secret in (APPLICANT_PHONE, APPLICANT_PHONE[-4:], "330681199001011234", "枫桥镇村一12号"):
        assert secret not in html
    # the other party is named masked in the page's own parts (the agreement's text names the parties)
    about = html.split('id="about-title"')[1].split("</section>")[0]
    assert "李小明" not in about and "李*" in about


def test_signing_a_changed_agreement_is_refused_then_the_new_one_is_signed(client, world):
    dispute, agreement = agreed(world)
    party_client(client, world, dispute, "applicant")
    html = client.get(PARTY_PAGE).content.decode()
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', html).group(1)
    assert shown == agreement.pdf_hash
    # the mediator changes the text while the party reads
    changed = s.agreement_draft(actor=world.mediators[1].user, number=dispute.number,
                                content=content(obligations="张大山赔偿李小明1800元。"))
    assert changed.pdf_hash != shown
    response = client.post(PARTY_SIGN, {"shown_hash": shown, "signature_text": "李小明", "agreed": "on"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "The agreement was changed after you opened it" in html and "1800" in html
    assert f'value="{changed.pdf_hash}"' in html
    assert not changed.signatures.exists()
    response = client.post(PARTY_SIGN, {"shown_hash": changed.pdf_hash, "signature_text": "李小明", "agreed": "on"})
    assert response.status_code == 302
    assert changed.signatures.filter(voided_at__isnull=True).count() == 1
    assert 'id="i-signed"' in client.get(PARTY_PAGE).content.decode()


def test_party_sign_needs_a_name_or_a_drawing_and_the_confirmation(client, world):
    dispute, agreement = agreed(world)
    party_client(client, world, dispute, "applicant")
    response = client.post(PARTY_SIGN, {"shown_hash": agreement.pdf_hash, "signature_text": ""})
    assert response.status_code == 422
    assert "Confirm that you have read the agreement." in response.content.decode()
    response = client.post(PARTY_SIGN, {"shown_hash": agreement.pdf_hash, "signature_text": "", "agreed": "on"})
    assert response.status_code == 422 and "Type your name or draw your signature." in response.content.decode()
    response = client.post(PARTY_SIGN, {"shown_hash": agreement.pdf_hash, "signature_image": "data:image/png;base64,!!",
                                        "agreed": "on"})
    assert response.status_code == 422
    assert not agreement.signatures.exists()


def test_the_mediator_signs_last_and_the_agreement_is_in_force(client, world, signed_in):
    dispute, agreement = agreed(world)
    for role in ("applicant", "respondent"):
        s.agreement_sign(signer=world.credentials(dispute, role), agreement=agreement, shown_hash=agreement.pdf_hash,
                         signature_text=role)
    mediator_client = signed_in(world.mediators[1].user)
    html = mediator_client.get(page(dispute.number)).content.decode()
    assert 'id="mediator-sign-form"' in html
    pdf = mediator_client.get(reverse("mediation:agreement_pdf", args=[dispute.number, agreement.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf["X-Content-SHA256"] == agreement.pdf_hash
    response = mediator_client.post(act(dispute.number, "sign"), {"agreement": agreement.pk,
                                                                   "shown_hash": agreement.pdf_hash,
                                                                   "signature_text": "调解员", "agreed": "on"})
    assert response.status_code == 302
    agreement.refresh_from_db()
    dispute.refresh_from_db()
    assert agreement.state == AgreementState.EFFECTIVE and dispute.state == S.EFFECTIVE


def test_the_party_rates_once_it_has_ended(client, world):
    dispute, _agreement = agreed(world)
    party_client(client, world, dispute, "applicant")
    assert 'id="rate-form"' not in client.get(PARTY_PAGE).content.decode()
    s.dispute_fail(actor=world.mediators[1].user, number=dispute.number, reason="分歧过大")
    assert 'id="rate-form"' in client.get(PARTY_PAGE).content.decode()
    response = client.post(reverse("mediation:party_rate"), {"rating": "9"})
    assert response.status_code == 422
    assert client.post(reverse("mediation:party_rate"), {"rating": "4", "comment": "耐心"}).status_code == 302
    assert dispute.parties.get(role="applicant").rating == 4


def test_a_party_asks_for_another_mediator_from_its_page(client, world):
    from fengqiao.mediation.models import MediatorRefusal

    dispute = world.register()
    party_client(client, world, dispute, "respondent")
    another = reverse("mediation:party_another")
    # no mediator yet (the page offers no such form): refused, nothing written
    assert client.post(another, {"reason": "调解员与对方熟识"}).status_code == 409
    assert not MediatorRefusal.objects.exists()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=world.mediators[0])
    response = client.post(another, {"reason": ""})
    assert response.status_code == 422 and "Say why." in response.content.decode()
    assert not MediatorRefusal.objects.exists()

    response = client.post(another, {"reason": "调解员与对方熟识"}, follow=True)
    assert response.redirect_chain[-1][0] == PARTY_PAGE
    assert "which will choose another mediator" in response.content.decode()
    assert MediatorRefusal.objects.get(dispute=dispute).mediator == world.mediators[0]


def test_draft_page_keeps_input_and_names_the_missing_fields(signed_in, world):
    dispute, _agreement = agreed(world)
    client = signed_in(world.mediators[1].user)
    draft_url = reverse("mediation:draft", args=[dispute.number])
    assert client.get(draft_url).status_code == 200
    response = client.post(draft_url, {"version": dispute.version, "facts": "事实保留", "points_in_dispute": "",
                                       "responsibilities": "", "obligations": "", "performance_manner": "",
                                       "performance_deadline": "2026-04-01"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "事实保留" in html and "This field of the agreement is required" in html
    assert signed_in(world.centre).get(draft_url).status_code == 404  # drafting is the mediator's


def test_centre_refers_a_failed_dispute_with_the_file(signed_in, world):
    dispute = assigned(world)
    s.dispute_fail(actor=world.mediators[1].user, number=dispute.number, reason="分歧过大")
    dispute.refresh_from_db()
    client = signed_in(world.centre)
    response = client.post(act(dispute.number, "refer"), {"version": dispute.version, "route": "litigation",
                                                          "body": "", "reason": "调解不成"})
    assert response.status_code == 422 and "Name the body the dispute goes to." in response.content.decode()
    response = client.post(act(dispute.number, "refer"), {"version": dispute.version, "route": "litigation",
                                                          "body": "诸暨市人民法院", "reason": "调解不成"})
    assert response.status_code == 302
    referral = dispute.referrals.get()
    pdf = client.get(reverse("mediation:handover_pdf", args=[dispute.number, referral.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert signed_in(world.other_centre).get(
        reverse("mediation:handover_pdf", args=[dispute.number, referral.pk])).status_code == 404


def test_statistics_page_shows_the_selectors_figures(signed_in, world):
    world.register()
    client = signed_in(world.centre)
    response = client.get(reverse("mediation:stats"))
    assert response.status_code == 200 and 'id="stats-by-type"' in response.content.decode()
    response = client.get(reverse("mediation:stats") + "?from=2026-03-10&to=2026-03-01")
    assert response.status_code == 422 and "The end comes before the start." in response.content.decode()
    leader = UserFactory(username="leader")
    AssignmentFactory(user=leader, role=Role.LEADER, region=world.township)
    assert signed_in(leader).get(reverse("mediation:stats")).status_code == 200
