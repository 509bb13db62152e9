"""The REST operations of dispute mediation, mounted at /api/v1/disputes by fengqiao.api.root.

In the style of the case API: list and detail within scope (out of scope: 404), create with an
Idempotency-Key, actions as POST /disputes/{number}/{action} with the version the caller saw (409
when stale), statistics. Operations are thin: they parse input (codes and ids to objects), call
one service or selector and render. Errors are structured by fengqiao.api.errors.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router, Status

from fengqiao.core.errors import ErrorDetail, InvalidInput
from fengqiao.geo.models import Grid, Region
from fengqiao.mediation import selectors, services
from fengqiao.mediation.models import Dispute, DisputeType, MediationOrganisation, Mediator, Room
from fengqiao.mediation.schemas import (
    ERROR_RESPONSES,
    AgreementIn,
    AssessIn,
    AssignIn,
    CancelSessionIn,
    ContactOut,
    DisputeCreateIn,
    DisputeDetailOut,
    DisputeListQuery,
    DisputePageOut,
    FollowUpRecordIn,
    FollowUpScheduleIn,
    MatchesOut,
    MatchQuery,
    ReasonIn,
    RecordSessionIn,
    ReferIn,
    ReplaceMediatorIn,
    RescheduleIn,
    RevealIn,
    ScheduleIn,
    SignIn,
    StatisticsOut,
    StatisticsQuery,
    dispute_detail,
    dispute_item,
)

router = Router(tags=["mediation"])

IDEMPOTENCY_KEY_MAX = 100
DisputeNumber = Annotated[str, Path(..., max_length=40, pattern=r"^[0-9A-Za-z_-]+$")]


def _actor(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _raise(errors: list[ErrorDetail]) -> None:
    if errors:
        raise InvalidInput(errors[0].code, errors[0].message, errors=errors)


def _unknown(field: str, value: Any) -> ErrorDetail:
    return ErrorDetail("invalid_choice", _("Unknown value: %(value)s.") % {"value": value}, field)


def _detail(request: HttpRequest, dispute: Dispute, access_codes: dict[int, str] | None = None) -> dict[str, Any]:
    actor = _actor(request)
    dispute = selectors.dispute_get(actor=actor, number=dispute.number)
    agreement = selectors.current_agreement(dispute=dispute)
    return dispute_detail(
        dispute, parties=selectors.dispute_parties(actor=actor, dispute=dispute),
        timeline=selectors.dispute_timeline(dispute=dispute), sessions=selectors.dispute_sessions(dispute=dispute),
        agreement=agreement, signatures=selectors.signing_state(agreement=agreement) if agreement else [],
        actions=selectors.allowed_actions(actor=actor, dispute=dispute), access_codes=access_codes)


def _mediator(mediator_id: int, field: str = "mediator") -> Mediator:
    mediator = Mediator.objects.select_related("organisation", "user").filter(pk=mediator_id).first()
    if mediator is None:
        raise InvalidInput("invalid_choice", _("No such mediator."), field=field)
    return mediator


def _room(room_id: int | None) -> Room | None:
    if room_id is None:
        return None
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        raise InvalidInput("invalid_choice", _("No such room."), field="room")
    return room


# -- reads --------------------------------------------------------------------------------------------------
@router.get("", response={200: DisputePageOut, **ERROR_RESPONSES}, operation_id="disputes_list",
            summary="List the disputes you may see")
def list_disputes(request: HttpRequest, filters: Query[DisputeListQuery]):
    wanted = selectors.DisputeFilters(states=filters.state, type=filters.type, area=filters.area, risk=filters.risk,
                                      level=filters.level, mine=filters.mine, open_only=filters.open,
                                      overdue=filters.overdue, text=filters.q)
    page = selectors.dispute_list(actor=_actor(request), filters=wanted, cursor=filters.cursor, limit=filters.limit)
    return {"items": [dispute_item(d) for d in page.items], "next_cursor": page.next_cursor}


@router.get("/statistics", response={200: StatisticsOut, **ERROR_RESPONSES}, operation_id="disputes_statistics",
            summary="Counts by type, level and outcome; success, township share, median days, performance, "
                    "satisfaction")
def statistics(request: HttpRequest, query: Query[StatisticsQuery]):
    return selectors.mediation_statistics(actor=_actor(request), area_code=query.area, date_from=query.date_from,
                                          date_to=query.date_to).as_dict()


@router.get("/{number}", response={200: DisputeDetailOut, **ERROR_RESPONSES}, operation_id="disputes_get",
            summary="A dispute with its parties (masked), timeline, sessions and agreement")
def get_dispute(request: HttpRequest, number: DisputeNumber):
    return _detail(request, selectors.dispute_get(actor=_actor(request), number=number))


@router.get("/{number}/matches", response={200: MatchesOut, **ERROR_RESPONSES}, operation_id="disputes_matches",
            summary="The best mediators for the dispute, and who is left out and why")
def matches(request: HttpRequest, number: DisputeNumber, query: Query[MatchQuery]):
    found = selectors.match_mediators(actor=_actor(request), number=number, at=query.at,
                                      duration_minutes=query.minutes, languages=query.languages, limit=query.limit)
    orgs = {m.pk: m.organisation.name for m in found.mediators.values()}
    return {
        "proposals": [{"mediator": m.candidate.id, "name": m.candidate.name, "organisation": orgs.get(m.candidate.id, ""),
                       "score": m.score, "parts": m.parts} for m in found.result.proposals],
        "excluded": [{"mediator": e.candidate.id, "name": e.candidate.name, "reason": e.reason}
                     for e in found.result.excluded],
    }


@router.post("/{number}/parties/reveal", response={200: list[ContactOut], **ERROR_RESPONSES},
             operation_id="disputes_reveal_parties",
             summary="The parties' contact data in full (centres and the mediator; every view is logged)")
def reveal(request: HttpRequest, number: DisputeNumber, payload: RevealIn):
    return [c.__dict__ for c in services.party_contacts_reveal(actor=_actor(request), number=number,
                                                               reason=payload.reason)]


@router.get("/{number}/agreement.pdf", response={200: None, **ERROR_RESPONSES}, operation_id="disputes_agreement_pdf",
            summary="The current agreement's exact PDF (its SHA-256 is the hash to sign)")
def agreement_pdf(request: HttpRequest, number: DisputeNumber):
    dispute = selectors.dispute_get(actor=_actor(request), number=number)
    agreement = selectors.current_agreement(dispute=dispute)
    if agreement is None:
        from fengqiao.core.errors import NotFound

        raise NotFound("not_found", _("There is no agreement yet."))
    data, name = selectors.agreement_pdf(actor=_actor(request), agreement_id=agreement.pk)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["X-Content-SHA256"] = agreement.pdf_hash
    return response


@router.get("/sessions/{session_id}.ics", response={200: None, **ERROR_RESPONSES}, operation_id="disputes_session_ics",
            summary="A session as an iCalendar file")
def session_ics(request: HttpRequest, session_id: int):
    response = HttpResponse(selectors.session_ics(actor=_actor(request), session_id=session_id),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="session-{session_id}.ics"'
    return response


# -- intake -------------------------------------------------------------------------------------------------
@router.post("", response={201: DisputeDetailOut, **ERROR_RESPONSES}, operation_id="disputes_create",
             summary="Register a dispute (or make one from a case with origin_case)")
def create_dispute(request: HttpRequest, payload: DisputeCreateIn,
                   idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_MAX)):
    """The answer carries the parties' access codes once (`access_codes`), to be handed to them.
    With an `Idempotency-Key`, a retry answers 201 with the same dispute (without the codes)."""
    errors: list[ErrorDetail] = []
    dispute_type = DisputeType.objects.filter(code=payload.type).first()
    if dispute_type is None:
        errors.append(_unknown("type", payload.type))
    region = grid = None
    if payload.grid:
        grid = Grid.objects.select_related("region").filter(code=payload.grid).first()
        if grid is None:
            errors.append(_unknown("grid", payload.grid))
    if payload.region:
        region = Region.objects.filter(code=payload.region).first()
        if region is None:
            errors.append(_unknown("region", payload.region))
    _raise(errors)
    assert dispute_type is not None
    parties = [services.PartyIn(**p.model_dump()) for p in payload.parties]
    if payload.origin_case:
        dispute = services.dispute_from_case(
            actor=_actor(request), case_number=payload.origin_case, type=dispute_type, parties=parties,
            title=payload.title, facts=payload.facts, claims=payload.claims, amount=payload.amount,
            idempotency_key=idempotency_key or None)
    else:
        dispute = services.dispute_register(
            actor=_actor(request), type=dispute_type, title=payload.title, facts=payload.facts, claims=payload.claims,
            amount=payload.amount, intake_mode=payload.intake_mode, referred_by=payload.referred_by, region=region,
            grid=grid, level=payload.level, parties=parties, idempotency_key=idempotency_key or None)
    return Status(201, _detail(request, dispute, getattr(dispute, "issued_codes", None)))


# -- actions: POST /disputes/{number}/{action} -----------------------------------------------------------------
def _act(request: HttpRequest, service: Callable[..., Any], number: str, version: int, **arguments: Any):
    service(actor=_actor(request), number=number, expected_version=version, **arguments)
    return _detail(request, Dispute(number=number))


def _action(name: str, summary: str):
    return router.post(f"/{{number}}/{name}", response={200: DisputeDetailOut, **ERROR_RESPONSES},
                       operation_id=f"disputes_{name}", summary=summary)


@_action("assess", "Assess the risk with the checklist")
def assess(request: HttpRequest, number: DisputeNumber, payload: AssessIn):
    return _act(request, services.dispute_assess, number, payload.version, answers=payload.answers, note=payload.note)


@_action("assign", "Assign a mediator (centre)")
def assign(request: HttpRequest, number: DisputeNumber, payload: AssignIn):
    return _act(request, services.dispute_assign, number, payload.version, mediator=_mediator(payload.mediator),
                reason=payload.reason)


@_action("replace_mediator", "Replace the mediator (a party asked, or the mediator cannot go on)")
def replace_mediator(request: HttpRequest, number: DisputeNumber, payload: ReplaceMediatorIn):
    return _act(request, services.dispute_replace_mediator, number, payload.version,
                mediator=_mediator(payload.mediator), reason=payload.reason)


@_action("schedule", "Schedule a session (refused when the mediator or the room is booked)")
def schedule(request: HttpRequest, number: DisputeNumber, payload: ScheduleIn):
    return _act(request, services.session_schedule, number, payload.version, starts_at=payload.starts_at,
                ends_at=payload.ends_at, mode=payload.mode, room=_room(payload.room), place=payload.place,
                meeting_link=payload.meeting_link)


def _session_act(request: HttpRequest, service: Callable[..., Any], number: str, session_id: int, **arguments: Any):
    session = selectors.dispute_sessions(dispute=selectors.dispute_get(actor=_actor(request), number=number))
    if session_id not in {s.pk for s in session}:
        raise InvalidInput("invalid_choice", _("No such session."), field="session")
    service(actor=_actor(request), session_id=session_id, **arguments)
    return _detail(request, Dispute(number=number))


@_action("reschedule", "Move a session")
def reschedule(request: HttpRequest, number: DisputeNumber, payload: RescheduleIn):
    return _session_act(request, services.session_reschedule, number, payload.session, starts_at=payload.starts_at,
                        ends_at=payload.ends_at, room=_room(payload.room), place=payload.place,
                        expected_version=payload.version, reason=payload.reason)


@_action("cancel_session", "Cancel a session")
def cancel_session(request: HttpRequest, number: DisputeNumber, payload: CancelSessionIn):
    return _session_act(request, services.session_cancel, number, payload.session, reason=payload.reason,
                        expected_version=payload.version)


@_action("record_session", "Record attendance and minutes")
def record_session(request: HttpRequest, number: DisputeNumber, payload: RecordSessionIn):
    dispute = selectors.dispute_get(actor=_actor(request), number=number)
    present = set(payload.present)
    attendance = {pk: pk in present for pk in dispute.parties.values_list("pk", flat=True)}
    unknown = present - set(attendance)
    if unknown:
        raise InvalidInput("unknown_party", _("Attendance names someone who is not a party."), field="present")
    return _session_act(request, services.session_record, number, payload.session, attendance=attendance,
                        minutes=payload.minutes, expected_version=payload.version)


@_action("draft_agreement", "Write or rewrite the agreement (a new text voids the signatures given)")
def draft_agreement(request: HttpRequest, number: DisputeNumber, payload: AgreementIn):
    content = services.AgreementContent(**payload.model_dump(exclude={"version"}))
    return _act(request, services.agreement_draft, number, payload.version, content=content)


@router.post("/{number}/sign", response={200: DisputeDetailOut, **ERROR_RESPONSES}, operation_id="disputes_sign",
             summary="Sign the agreement as the mediator, against the hash of the PDF you read (409 if it changed)")
def sign(request: HttpRequest, number: DisputeNumber, payload: SignIn):
    dispute = selectors.dispute_get(actor=_actor(request), number=number)
    if not dispute.agreements.filter(pk=payload.agreement).exists():
        raise InvalidInput("invalid_choice", _("No such agreement."), field="agreement")
    image = None
    if payload.signature_image:
        try:
            image = base64.b64decode(payload.signature_image.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("invalid_base64", _("This is not a base64-encoded file."),
                               field="signature_image") from None
    services.agreement_sign(signer=_actor(request), agreement=payload.agreement, shown_hash=payload.shown_hash,
                            signature_text=payload.signature_text, signature_image_png=image)
    return _detail(request, dispute)


@_action("fail", "Record that mediation failed; a reason is required")
def fail(request: HttpRequest, number: DisputeNumber, payload: ReasonIn):
    return _act(request, services.dispute_fail, number, payload.version, reason=payload.reason)


@_action("refer", "Refer along the ladder, handing over the file; a reason is required")
def refer(request: HttpRequest, number: DisputeNumber, payload: ReferIn):
    organisation = None
    if payload.organisation:
        organisation = MediationOrganisation.objects.filter(code=payload.organisation, is_active=True).first()
        if organisation is None:
            raise InvalidInput("invalid_choice", _("No such mediation organisation."), field="organisation")
    return _act(request, services.dispute_refer, number, payload.version, route=payload.route, body=payload.body,
                reason=payload.reason, organisation=organisation)


@_action("withdraw", "Record the applicant's withdrawal; a reason is required")
def withdraw(request: HttpRequest, number: DisputeNumber, payload: ReasonIn):
    return _act(request, services.dispute_withdraw, number, payload.version, reason=payload.reason)


@_action("reopen", "Back to mediation after a failure or non-performance; a reason is required")
def reopen(request: HttpRequest, number: DisputeNumber, payload: ReasonIn):
    return _act(request, services.dispute_reopen, number, payload.version, reason=payload.reason)


@_action("schedule_follow_up", "Schedule a follow-up visit")
def schedule_follow_up(request: HttpRequest, number: DisputeNumber, payload: FollowUpScheduleIn):
    return _act(request, services.follow_up_schedule, number, payload.version, due_at=payload.due_at)


@_action("follow_up", "Record a follow-up visit: performed, partly, not performed")
def follow_up(request: HttpRequest, number: DisputeNumber, payload: FollowUpRecordIn):
    dispute = selectors.dispute_get(actor=_actor(request), number=number)
    if not dispute.follow_ups.filter(pk=payload.follow_up).exists():
        raise InvalidInput("invalid_choice", _("No such follow-up visit."), field="follow_up")
    services.follow_up_record(actor=_actor(request), follow_up_id=payload.follow_up, result=payload.result,
                              note=payload.note, expected_version=payload.version)
    return _detail(request, dispute)
