# ruff: noqa: F811  (the mediation fixtures are imported from tests/mediation/conftest.py and requested by name)
"""Dispute mediation in Chromium, one browser context per person:

the centre registers a dispute with two parties, assesses its risk and assigns a proposed mediator
(a mediator linked to a party is not proposed); the mediator schedules a session (a second,
overlapping one is refused), records it and drafts the agreement; both parties open their pages on
phones with their access codes and sign (one of them after the agreement changed: refused, then
signs the new text); the mediator signs, the agreement is in force, and a follow-up visit finds it
performed. Then failure → referral to litigation with the file handed over. The parties' pages
never hold the other party's phone, ID number or address.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from fengqiao.mediation import services as s
from fengqiao.mediation.events import verify_chain
from fengqiao.mediation.models import AgreementState, Dispute, FollowUpState
from fengqiao.mediation.states import DisputeState as S
from tests.browser.conftest import save_screenshot
from tests.mediation.conftest import APPLICANT_PHONE, RESPONDENT_PHONE, clock, make_mediator, world  # noqa: F401

pytestmark = pytest.mark.browser

APPLICANT_ID = "330681199001011234"
APPLICANT_ADDRESS = "枫桥镇村一12号"
RESPONDENT_ID = "330681198502023456"
RESPONDENT_ADDRESS = "枫桥镇村一14号"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PUBLIC_RATE = "1000/h"


def shot(page, request, name: str) -> None:
    save_screenshot(page, request, f"mediation-{name}")


def open_party_page(browse, code: str, phone: str):
    page = browse(phone=True)
    page.goto("/mediation/party/")
    page.fill("#id_code", code)
    page.fill("#id_phone_last4", phone[-4:])
    page.click("#party-access-submit")
    expect(page.locator("#party-page")).to_be_visible()
    return page


def assert_no_contacts_of(page, *secrets: str) -> None:
    html = page.content()
    for secret in secrets:
        assert secret not in html


def test_the_whole_path_from_intake_to_performed(browse, world, request):
    linked = make_mediator(username="m-cousin", scope=world.village, organisation=world.village_org,
                           region=world.village, specialties=["neighbour"], phone=RESPONDENT_PHONE,
                           actor=world.centre)

    # 1. the centre registers the dispute with two parties
    centre = browse(world.centre)
    centre.goto("/mediation/")
    shot(centre, request, "1-desk")
    centre.click("#intake-link")
    centre.select_option("#id_type", str(world.type().pk))
    centre.fill("#id_title", "邻里排水沟纠纷")
    centre.fill("#id_facts", "张家修排水沟，雨水流入李家院子。")
    centre.fill("#id_claims", "改建排水沟，赔偿损失2000元")
    centre.fill("#id_amount", "2000")
    centre.select_option("#id_grid", world.grid.code)
    centre.fill("#id_parties-0-name", "李小明")
    centre.fill("#id_parties-0-phone", APPLICANT_PHONE)
    centre.fill("#id_parties-0-id_number", APPLICANT_ID)
    centre.fill("#id_parties-0-address", APPLICANT_ADDRESS)
    centre.fill("#id_parties-1-name", "张大山")
    centre.fill("#id_parties-1-phone", RESPONDENT_PHONE)
    centre.fill("#id_parties-1-id_number", RESPONDENT_ID)
    centre.fill("#id_parties-1-address", RESPONDENT_ADDRESS)
    shot(centre, request, "2-intake")
    centre.click("#intake-submit")
    codes = centre.locator("#access-codes .code")
    expect(codes).to_have_count(2)
    applicant_code, respondent_code = codes.nth(0).inner_text(), codes.nth(1).inner_text()
    dispute = Dispute.objects.get()
    assert dispute.state == S.REGISTERED and dispute.parties.count() == 2
    shot(centre, request, "3-registered")

    # 2. risk: the checklist gives a level with its reasons
    centre.click("#open-dispute")
    centre.fill("#id_answer_people_involved", "6")
    centre.click("#assess-button")
    expect(centre.locator("#dispute-state")).to_have_text(re.compile(r"\S"))
    expect(centre.locator("#risk-level")).to_be_visible()
    expect(centre.locator("#risk-reasons li")).to_have_count(1)
    dispute.refresh_from_db()
    assert dispute.state == S.ASSESSED and dispute.risk_level

    # 3. the proposals: three, the mediator linked to the respondent left out with a note
    proposals = centre.locator("#proposals li[data-mediator]")
    expect(proposals).to_have_count(3)
    expect(centre.locator(f'#proposals li[data-mediator="{linked.pk}"]')).to_have_count(0)
    expect(centre.locator("#conflict-note")).to_be_visible()
    expect(centre.locator("#excluded li.conflict")).to_contain_text("m-cousin")
    shot(centre, request, "4-proposals")
    chosen = int(proposals.first.get_attribute("data-mediator"))
    centre.click("#assign-button")
    expect(centre.locator("#dispute-title")).to_have_attribute("data-state", "assigned")
    dispute.refresh_from_db()
    assert dispute.mediator_id == chosen and dispute.mediator_id != linked.pk
    mediator_user = dispute.mediator.user

    # 4. the mediator schedules a session; a second, overlapping one is refused
    mediator = browse(mediator_user)
    mediator.goto("/mediation/workspace/")
    mediator.locator(f'#my-disputes li[data-number="{dispute.number}"] a').click()
    start = world.clock.now + timedelta(days=1)
    mediator.fill("#id_starts_at", start.strftime("%Y-%m-%dT09:00"))
    mediator.fill("#id_ends_at", start.strftime("%Y-%m-%dT10:30"))
    mediator.fill("#id_place", "村委会调解室")
    mediator.click("#schedule-button")
    expect(mediator.locator("#dispute-title")).to_have_attribute("data-state", "in_mediation")
    expect(mediator.locator("article.session")).to_have_count(1)
    mediator.locator("#schedule summary").click()
    mediator.fill("#id_starts_at", start.strftime("%Y-%m-%dT10:00"))
    mediator.fill("#id_ends_at", start.strftime("%Y-%m-%dT11:00"))
    mediator.fill("#id_place", "村委会调解室")
    mediator.click("#schedule-button")
    expect(mediator.locator("#id_starts_at_error")).to_be_visible()
    expect(mediator.locator("#id_starts_at")).to_have_value(start.strftime("%Y-%m-%dT10:00"))
    assert dispute.sessions.count() == 1
    shot(mediator, request, "5-double-booking-refused")
    mediator.goto("/mediation/workspace/")
    expect(mediator.locator("#agenda .session")).to_have_count(1)
    shot(mediator, request, "6-workspace")

    # 5. the session is held: attendance and minutes
    world.clock.advance(days=1, hours=2)
    mediator.goto(f"/mediation/d/{dispute.number}/")
    session = mediator.locator("article.session").first
    session.locator("summary").first.click()
    session.locator("textarea[name=minutes]").fill("双方陈述，达成初步意见。")
    session.locator("form.record-form button[type=submit]").click()
    expect(mediator.locator("article.session").first).to_have_attribute("data-state", "held")

    # 6. the agreement from the template, with the Art. 29 fields
    mediator.click("#draft-link")
    expect(mediator.locator("#id_facts")).not_to_have_value("")
    mediator.fill("#id_responsibilities", "张大山承担主要责任。")
    mediator.fill("#id_obligations", "张大山改建排水沟并赔偿李小明1500元。")
    mediator.fill("#id_performance_manner", "现金支付，村委会见证。")
    shot(mediator, request, "7-draft")
    mediator.click("#draft-save")
    expect(mediator.locator("#dispute-title")).to_have_attribute("data-state", "agreed")
    first_hash = mediator.locator("#agreement-state").get_attribute("data-hash")

    # 7. the parties open their pages on phones; the respondent reads the first text
    applicant = open_party_page(browse, applicant_code, APPLICANT_PHONE)
    respondent = open_party_page(browse, respondent_code, RESPONDENT_PHONE)
    expect(respondent.locator("#agreement-obligations")).to_contain_text("1500")
    assert respondent.locator("#sign-form input[name=shown_hash]").get_attribute("value") == first_hash
    shot(respondent, request, "8-party-reads")

    # the mediator changes the agreement meanwhile
    mediator.click("#draft-link")
    mediator.fill("#id_obligations", "张大山改建排水沟并赔偿李小明1800元。")
    mediator.click("#draft-save")
    expect(mediator.locator("#agreement-state")).not_to_have_attribute("data-hash", first_hash)

    # the respondent signs what they read: refused, the new text is shown; then they sign it
    respondent.fill("#id_signature_text", "张大山")
    respondent.check("#id_agreed")
    respondent.click("#sign-submit")
    expect(respondent.locator("#party-alert")).to_be_visible()
    expect(respondent.locator("#agreement-obligations")).to_contain_text("1800")
    assert not dispute.agreements.get(state=AgreementState.DRAFT).signatures.exists()
    shot(respondent, request, "9-party-refused-changed")
    respondent.check("#id_agreed")
    respondent.click("#sign-submit")
    expect(respondent.locator("#i-signed")).to_be_visible()

    # the applicant draws a signature on the canvas
    applicant.reload()
    expect(applicant.locator("#agreement-obligations")).to_contain_text("1800")
    applicant.locator("#sig-pad").scroll_into_view_if_needed()
    pad = applicant.locator("#sig-pad").bounding_box()
    applicant.mouse.move(pad["x"] + 20, pad["y"] + 80)
    applicant.mouse.down()
    for step in range(1, 12):
        applicant.mouse.move(pad["x"] + 20 + step * 25, pad["y"] + 80 + (15 if step % 2 else -15))
    applicant.mouse.up()
    expect(applicant.locator("#id_signature_image")).to_have_value(re.compile(r"^data:image/png;base64,"))
    applicant.check("#id_agreed")
    shot(applicant, request, "10-party-draws")
    applicant.click("#sign-submit")
    expect(applicant.locator("#i-signed")).to_be_visible()
    agreement = dispute.agreements.get(state=AgreementState.DRAFT)
    signatures = agreement.signatures.filter(voided_at__isnull=True)
    assert signatures.count() == 2
    assert sorted(bool(sig.signature_image.startswith("iVBOR")) for sig in signatures) == [False, True]  # one PNG

    # the parties' pages never hold the other party's contact data
    assert_no_contacts_of(applicant, RESPONDENT_PHONE, RESPONDENT_ID, RESPONDENT_ADDRESS)
    assert_no_contacts_of(respondent, APPLICANT_PHONE, APPLICANT_ID, APPLICANT_ADDRESS)

    # 8. the mediator signs: the agreement is in force
    mediator.reload()
    mediator.fill("#id_signature_text", mediator_user.username)
    mediator.check("#id_agreed")
    mediator.click("#mediator-sign-button")
    expect(mediator.locator("#dispute-title")).to_have_attribute("data-state", "effective")
    expect(mediator.locator("#signatures li.signed")).to_have_count(3)
    shot(mediator, request, "11-effective")
    respondent.reload()
    expect(respondent.locator("#party-page")).to_have_attribute("data-state", "effective")

    # 9. the follow-up visit finds it performed
    follow_up = dispute.follow_ups.get(state=FollowUpState.SCHEDULED)
    form = mediator.locator(f'li[data-follow-up="{follow_up.pk}"] form')
    form.locator("select[name=result]").select_option("performed")
    form.locator("button[type=submit]").click()
    expect(mediator.locator("#dispute-title")).to_have_attribute("data-state", "performed")
    dispute.refresh_from_db()
    assert dispute.state == S.PERFORMED

    # the parties rate it; the statistics count the settlement
    respondent.reload()
    respondent.locator("#rate-form label", has_text="5").click()
    respondent.click("#rate-submit")
    expect(respondent.locator("#rate-form")).to_have_count(0)
    shot(respondent, request, "12-party-rated")
    centre.goto("/mediation/statistics/")
    expect(centre.locator('#stats-by-outcome tr[data-key="settled"] td.n')).to_have_text("1")
    shot(centre, request, "13-statistics")
    assert verify_chain().ok


def test_failure_then_referral_to_litigation_with_the_file(browse, world, request):
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    mediator_profile = world.mediators[1]
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator_profile)

    mediator = browse(mediator_profile.user)
    mediator.goto(f"/mediation/d/{dispute.number}/")
    mediator.locator("#fail-form").evaluate("form => form.closest('details').open = true")
    mediator.click("#fail-button")  # no reason: the browser asks for it, nothing is sent
    assert mediator.locator("#fail-form textarea[name=reason]").evaluate("el => el.validity.valueMissing")
    dispute.refresh_from_db()
    assert dispute.state == S.ASSIGNED
    mediator.locator("#fail-form textarea[name=reason]").fill("双方分歧过大，调解不成")
    mediator.click("#fail-button")
    expect(mediator.locator("#dispute-title")).to_have_attribute("data-state", "failed")

    centre = browse(world.centre)
    centre.goto("/mediation/")
    expect(centre.locator(f'#pile-failed li[data-number="{dispute.number}"]')).to_have_count(1)
    centre.locator(f'#pile-failed li[data-number="{dispute.number}"] a').click()
    centre.select_option("#refer-form select[name=route]", "litigation")
    centre.fill("#refer-form input[name=body]", "诸暨市人民法院")
    centre.fill("#refer-form textarea[name=reason]", "调解不成，告知诉讼途径")
    shot(centre, request, "20-refer")
    centre.click("#refer-button")
    expect(centre.locator("#dispute-title")).to_have_attribute("data-state", "referred")
    link = centre.locator("#handover-link")
    expect(link).to_be_visible()
    response = centre.request.get(link.get_attribute("href"))
    assert response.ok and response.body().startswith(b"%PDF")
    referral = dispute.referrals.get()
    assert response.headers["x-content-sha256"] == referral.handover_hash
    shot(centre, request, "21-referred")

    # a party follows it on a phone, and rates the mediation
    code = world.credentials(dispute, "applicant").code
    applicant = open_party_page(browse, code, APPLICANT_PHONE)
    expect(applicant.locator("#party-page")).to_have_attribute("data-state", "referred")
    assert_no_contacts_of(applicant, RESPONDENT_PHONE, "枫桥镇村一14号")
    shot(applicant, request, "22-party-referred")


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_the_desk_and_the_party_page_on_a_phone(browse, world, request):
    dispute = world.register()
    centre = browse(world.centre, phone=True)
    centre.goto("/mediation/")
    expect(centre.locator(f'#pile-to_assess li[data-number="{dispute.number}"]')).to_have_count(1)
    shot(centre, request, "30-desk-phone")
    centre.goto(f"/mediation/d/{dispute.number}/")
    expect(centre.locator("#assess-form")).to_be_visible()
    shot(centre, request, "31-dispute-phone")
    page = browse(phone=True)
    page.goto("/mediation/party/")
    page.fill("#id_code", "AAAA-BBBB-CCCC")
    page.fill("#id_phone_last4", "1234")
    page.click("#party-access-submit")
    expect(page.locator("#access-error")).to_be_visible()
    shot(page, request, "32-party-access-phone")
