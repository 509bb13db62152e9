"""Input and output schemas of the dispute API (fengqiao.mediation.api), one input per operation.

Inputs forbid unknown fields. Every action's input carries `version`: the version of the dispute
the caller saw; a stale one answers 409. Outputs never carry a party's personal data unmasked,
except the logged reveal operation.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from fengqiao.cases.schemas import ERROR_RESPONSES, Checked, In
from fengqiao.mediation.models import Dispute, DisputeEvent, MediationSession
from fengqiao.mediation.services import REASON_MAX, TEXT_MAX, TITLE_MAX

__all__ = ["ERROR_RESPONSES"]

RoleValue = Literal["applicant", "respondent"]
KindValue = Literal["person", "organisation"]
IntakeValue = Literal["application", "grid_worker", "court", "police", "department", "hotline", "case"]
LevelValue = Literal["village", "township", "county"]
RouteValue = Literal["mediation", "arbitration", "administrative_ruling", "reconsideration", "litigation"]


# -- inputs ------------------------------------------------------------------------------------------
class DisputeListQuery(Checked):
    state: list[str] | None = Field(None, description="repeatable: ?state=registered&state=assessed")
    type: str | None = Field(None, max_length=40, description="dispute type code (and its subtypes)")
    area: str | None = Field(None, max_length=18, description="region or grid code: that subtree")
    risk: Literal["low", "medium", "high"] | None = None
    level: LevelValue | None = None
    mine: bool = Field(False, description="only the disputes assigned to you as mediator")
    open: bool = Field(False, description="only open disputes")
    overdue: bool | None = None
    q: str | None = Field(None, max_length=100, description="text in the number or summary")
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(50, ge=1, le=200)


class PartyIn(In):
    role: RoleValue
    kind: KindValue = "person"
    name: str = Field(..., max_length=100)
    phone: str = Field("", max_length=30)
    id_number: str = Field("", max_length=30)
    address: str = Field("", max_length=300)
    representative: str = Field("", max_length=100)


class DisputeCreateIn(In):
    type: str = Field(..., max_length=40, description="dispute type code")
    title: str = Field(..., max_length=TITLE_MAX, description="one line, without personal data")
    facts: str = Field(..., max_length=TEXT_MAX)
    claims: str = Field("", max_length=TEXT_MAX)
    amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2, description="yuan")
    intake_mode: IntakeValue = "application"
    referred_by: str = Field("", max_length=200, description="required for court, police, department, hotline")
    region: str | None = Field(None, max_length=12, description="village or township code (or give a grid)")
    grid: str | None = Field(None, max_length=18)
    level: LevelValue = "township"
    origin_case: str | None = Field(None, max_length=40, description="a case number: the dispute is made from it")
    parties: list[PartyIn] = Field(..., min_length=2, max_length=20)


class ActionIn(In):
    version: int = Field(..., ge=1, strict=True, description="the version of the dispute you saw")


class ReasonIn(ActionIn):
    reason: str = Field(..., max_length=REASON_MAX, description="required")


class OptionalReasonIn(ActionIn):
    reason: str = Field("", max_length=REASON_MAX)


class AssessIn(ActionIn):
    answers: dict[str, bool | int] = Field(..., description="checklist item code -> yes/no or a number")
    note: str = Field("", max_length=REASON_MAX)


class AssignIn(OptionalReasonIn):
    mediator: int = Field(..., description="mediator id (from /matches)")


class ReplaceMediatorIn(ReasonIn):
    mediator: int


class ScheduleIn(ActionIn):
    starts_at: datetime
    ends_at: datetime
    mode: Literal["in_person", "remote"] = "in_person"
    room: int | None = None
    place: str = Field("", max_length=200)
    meeting_link: str = Field("", max_length=300)


class RescheduleIn(OptionalReasonIn):
    session: int
    starts_at: datetime
    ends_at: datetime
    room: int | None = None
    place: str | None = Field(None, max_length=200)


class CancelSessionIn(ReasonIn):
    session: int


class RecordSessionIn(ActionIn):
    session: int
    present: list[int] = Field([], description="ids of the parties who came")
    minutes: str = Field(..., max_length=TEXT_MAX)


class AgreementIn(ActionIn):
    facts: str = Field(..., max_length=TEXT_MAX)
    points_in_dispute: str = Field(..., max_length=TEXT_MAX)
    responsibilities: str = Field(..., max_length=TEXT_MAX)
    obligations: str = Field(..., max_length=TEXT_MAX)
    performance_manner: str = Field(..., max_length=TEXT_MAX)
    performance_deadline: date
    other_terms: str = Field("", max_length=TEXT_MAX)


class SignIn(In):
    agreement: int
    shown_hash: str = Field(..., min_length=64, max_length=64, description="SHA-256 of the PDF you read")
    signature_text: str = Field("", max_length=100)
    signature_image: str = Field("", max_length=400_000, description="a PNG, base64-encoded")


class ReferIn(ReasonIn):
    route: RouteValue
    body: str = Field("", max_length=200, description="the receiving body")
    organisation: str | None = Field(None, max_length=60, description="mediation organisation code")


class FollowUpScheduleIn(ActionIn):
    due_at: datetime


class FollowUpRecordIn(ActionIn):
    follow_up: int
    result: Literal["performed", "partly", "not_performed"]
    note: str = Field("", max_length=REASON_MAX)


class RevealIn(In):
    reason: str = Field(..., max_length=300)


class StatisticsQuery(Checked):
    area: str | None = Field(None, max_length=18)
    date_from: date | None = None
    date_to: date | None = None


class MatchQuery(Checked):
    at: datetime | None = Field(None, description="a proposed session start")
    minutes: int = Field(90, ge=15, le=600)
    languages: str = Field("", max_length=100, description="comma-separated languages or dialects asked for")
    limit: int = Field(3, ge=1, le=20)


# -- outputs ----------------------------------------------------------------------------------------
class RefOut(Schema):
    code: str
    name: str


class DisputeItemOut(Schema):
    number: str
    type: RefOut
    title: str
    state: str
    state_label: str
    risk_level: str
    level: str
    area_code: str
    mediator: str | None
    organisation: str | None
    created_at: datetime
    conclude_due_at: datetime | None
    version: int


class DisputePageOut(Schema):
    items: list[DisputeItemOut]
    next_cursor: str | None


class PartyOut(Schema):
    id: int
    role: str
    kind: str
    name: str
    phone: str
    id_number: str
    address: str
    masked: bool


class EventOut(Schema):
    seq: int
    action: str
    action_label: str
    actor: str
    from_state: str
    to_state: str
    reason: str
    at: datetime
    public: bool


class SessionOut(Schema):
    id: int
    mode: str
    starts_at: datetime
    ends_at: datetime
    state: str
    room: str | None
    place: str
    meeting_link: str
    minutes: str


class SignatureOut(Schema):
    kind: str
    label: str
    signed_at: datetime | None


class AgreementOut(Schema):
    id: int
    revision: int
    state: str
    hash: str
    size: int
    performance_deadline: date
    effective_at: datetime | None
    confirmation_deadline: date | None
    signatures: list[SignatureOut]


class DisputeDetailOut(DisputeItemOut):
    facts: str
    claims: str
    amount: Decimal | None
    intake_mode: str
    referred_by: str
    origin_case: str
    outcome: str
    risk_points: int
    assign_due_at: datetime | None
    session_due_at: datetime | None
    parties: list[PartyOut]
    timeline: list[EventOut]
    sessions: list[SessionOut]
    agreement: AgreementOut | None
    actions: list[str]
    access_codes: dict[int, str] | None = Field(None, description="party id -> access code; only when created")


class ContactOut(Schema):
    id: int
    role: str
    kind: str
    name: str
    phone: str
    id_number: str
    address: str
    representative: str


class MatchOut(Schema):
    mediator: int
    name: str
    organisation: str
    score: float
    parts: dict[str, float]


class ExcludedOut(Schema):
    mediator: int
    name: str
    reason: str


class MatchesOut(Schema):
    proposals: list[MatchOut]
    excluded: list[ExcludedOut]


class RowOut(Schema):
    key: str
    label: str
    count: int
    settled: int


class StatisticsOut(Schema):
    total: int
    open: int
    settled: int
    failed: int
    withdrawn: int
    concluded: int
    success_rate: float | None
    settled_township_or_below: int
    share_township_or_below: float | None
    median_days_to_settlement: float | None
    agreements_followed_up: int
    agreements_performed: int
    performance_rate: float | None
    ratings: int
    mean_rating: float | None
    satisfaction_rate: float | None
    by_type: list[RowOut]
    by_level: list[RowOut]
    by_outcome: list[RowOut]
    by_state: list[RowOut]
    by_month: list[RowOut]


# -- rendering ---------------------------------------------------------------------------------------
def dispute_item(dispute: Dispute) -> dict[str, Any]:
    return {
        "number": dispute.number, "type": {"code": dispute.type.code, "name": dispute.type.name},
        "title": dispute.title, "state": dispute.state, "state_label": dispute.get_state_display(),
        "risk_level": dispute.risk_level, "level": dispute.level, "area_code": dispute.area_code,
        "mediator": dispute.mediator.display_name if dispute.mediator is not None else None,
        "organisation": dispute.organisation.name if dispute.organisation is not None else None,
        "created_at": dispute.created_at, "conclude_due_at": dispute.conclude_due_at, "version": dispute.version,
    }


def _event(event: DisputeEvent) -> dict[str, Any]:
    return {"seq": event.seq, "action": event.action, "action_label": event.get_action_display(),
            "actor": event.actor_label, "from_state": event.from_state, "to_state": event.to_state,
            "reason": event.reason, "at": event.created_at, "public": event.is_public}


def _session(session: MediationSession) -> dict[str, Any]:
    return {"id": session.pk, "mode": session.mode, "starts_at": session.starts_at, "ends_at": session.ends_at,
            "state": session.state, "room": session.room.name if session.room is not None else None, "place": session.place,
            "meeting_link": session.meeting_link, "minutes": session.minutes}


def dispute_detail(dispute: Dispute, *, parties, timeline, sessions, agreement, signatures, actions,
                   access_codes=None) -> dict[str, Any]:
    return {
        **dispute_item(dispute), "facts": dispute.facts, "claims": dispute.claims, "amount": dispute.amount,
        "intake_mode": dispute.intake_mode, "referred_by": dispute.referred_by,
        "origin_case": dispute.origin_case_number, "outcome": dispute.outcome, "risk_points": dispute.risk_points,
        "assign_due_at": dispute.assign_due_at, "session_due_at": dispute.session_due_at,
        "parties": [{"id": p.id, "role": p.role, "kind": p.kind, "name": p.name, "phone": p.phone,
                     "id_number": p.id_number, "address": p.address, "masked": p.masked} for p in parties],
        "timeline": [_event(e) for e in timeline], "sessions": [_session(s) for s in sessions],
        "agreement": None if agreement is None else {
            "id": agreement.pk, "revision": agreement.revision, "state": agreement.state, "hash": agreement.pdf_hash,
            "size": agreement.pdf_size, "performance_deadline": agreement.performance_deadline,
            "effective_at": agreement.effective_at, "confirmation_deadline": agreement.confirmation_deadline,
            "signatures": [{"kind": s.kind, "label": s.label, "signed_at": s.signed_at} for s in signatures]},
        "actions": [str(a) for a in actions], "access_codes": access_codes,
    }
