"""Every write to a dispute (DESIGN §6): keyword-only, typed, atomic services.

Each transition locks the dispute row, checks the version the caller saw (stale: 409), the
transition table (states.TRANSITIONS) and the permission resolver (out of scope: 404; in scope but
not allowed: 403), applies the change, writes a hash-chained event and notifies through the outbox
in the same transaction. Nothing is half-saved: every check runs before the first write, and a
failure after it rolls the whole transaction back.

Parties act without an account, through their access code and the last four digits of their phone
(`PartyCredentials`): they sign the agreement, ask for another mediator and rate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.crypto import blind_index
from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.core.masking import normalise_phone
from fengqiao.geo.models import Grid, Region
from fengqiao.mediation import risk
from fengqiao.mediation.events import append_event
from fengqiao.mediation.models import (
    Agreement,
    AgreementSignature,
    AgreementState,
    DeadlineStage,
    Dispute,
    DisputeIdempotencyKey,
    DisputeType,
    FollowUp,
    FollowUpResult,
    FollowUpState,
    IntakeMode,
    Level,
    MediationOrganisation,
    MediationSession,
    Mediator,
    MediatorAbsence,
    MediatorLink,
    MediatorRefusal,
    Outcome,
    Party,
    PartyKind,
    PartyRole,
    Referral,
    ReferralRoute,
    RiskAssessment,
    RiskLevel,
    RiskRule,
    RiskThreshold,
    Room,
    SessionAttendance,
    SessionMode,
    SessionState,
    SignerKind,
)
from fengqiao.mediation.numbering import next_dispute_number
from fengqiao.mediation.states import TRANSITIONS, DisputeAction, DisputeState, may_act
from fengqiao.org.models import Role
from fengqiao.org.permissions import Action, Target, permissions_for

A = DisputeAction
S = DisputeState
TITLE_MAX = 200
TEXT_MAX = 5000
REASON_MAX = 1000
NAME_MAX = 100
PARTIES_MAX = 20
SIGNATURE_TEXT_MAX = 100
SIGNATURE_IMAGE_MAX = 300_000
SESSION_MAX_HOURS = 10
CONFIRMATION_DAYS = 30  # 人民调解法 Art. 33: joint application for judicial confirmation within 30 days
AMOUNT_MAX = Decimal("1000000000000")
REFERRING_MODES = {IntakeMode.COURT, IntakeMode.POLICE, IntakeMode.DEPARTMENT, IntakeMode.HOTLINE}
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 12
ACCESS_PURPOSE = "mediation.access_code"


# -- inputs ------------------------------------------------------------------------------------------
@dataclass
class PartyIn:
    role: str
    name: str
    kind: str = PartyKind.PERSON
    phone: str = ""
    id_number: str = ""
    address: str = ""
    representative: str = ""


@dataclass(frozen=True)
class PartyCredentials:
    """How a party without an account proves who they are: the access code and the last 4 digits
    of the phone they gave."""

    code: str
    phone_last4: str


@dataclass
class AgreementContent:
    """The Art. 29 fields a mediator writes (the parties come from the dispute)."""

    facts: str
    points_in_dispute: str
    responsibilities: str
    obligations: str
    performance_manner: str
    performance_deadline: date
    other_terms: str = ""


@dataclass
class PartyContact:
    id: int
    role: str
    kind: str
    name: str
    phone: str
    id_number: str
    address: str
    representative: str


@dataclass
class IssuedCodes:
    """Access codes made by a service, shown once (to be handed to the parties)."""

    codes: dict[int, str] = field(default_factory=dict)  # party id -> code


# -- helpers -------------------------------------------------------------------------------------------
def _invalid(field_name: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(code, message, field=field_name)


def _raise(errors: list[ErrorDetail]) -> None:
    if errors:
        raise InvalidInput(errors[0].code, errors[0].message, errors=errors)


def _text(errors: list[ErrorDetail], field_name: str, value: str | None, *, required: bool = False,
          limit: int = TEXT_MAX, message: str | None = None) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        errors.append(ErrorDetail("null_character", _("Text may not contain NUL characters."), field_name))
    elif required and not value:
        errors.append(ErrorDetail("required", message or _("This field is required."), field_name))
    elif len(value) > limit:
        errors.append(ErrorDetail("too_long", _("This text is limited to %(n)d characters.") % {"n": limit},
                                  field_name))
    return value


def _phone_ok(phone: str) -> bool:
    digits = normalise_phone(phone).lstrip("+")
    return digits.isdigit() and 7 <= len(digits) <= 15


def _visible(perms: Any, actor: Any, dispute: Dispute) -> bool:
    if perms.can(Action.MANAGE_DISPUTES, dispute):
        return True
    mediator = dispute.mediator
    return bool(mediator is not None and perms.can(Action.MEDIATE, dispute)
                and mediator.user_id == getattr(actor, "pk", None))


def _load_for_update(number: str) -> Dispute:
    dispute = (Dispute.objects.select_for_update(of=("self",))
               .select_related("type", "region", "grid", "mediator", "mediator__user", "organisation")
               .filter(number=number).first())
    if dispute is None:
        raise NotFound("not_found", _("No such dispute."))
    return dispute


def _check(dispute: Dispute, actor: Any, action: DisputeAction, expected_version: int | None, reason: str,
           reason_field: str = "reason") -> None:
    perms = permissions_for(actor)
    if not _visible(perms, actor, dispute):
        raise NotFound("not_found", _("No such dispute."))
    if expected_version is not None and expected_version != dispute.version:
        raise Conflict("stale_version", _("The dispute changed since you saw it (version %(seen)s, now %(now)s). "
                                          "Reload and try again.") % {"seen": expected_version, "now": dispute.version})
    transition = TRANSITIONS[action]
    if dispute.state not in transition.sources:
        raise TransitionNotAllowed("transition_not_allowed", _("A dispute that is %(state)s cannot be: %(action)s.") % {
            "state": S(dispute.state).label, "action": action.label})
    if not may_act(perms, dispute, action, actor):
        raise Forbidden("forbidden", _("Your role does not allow this action on this dispute."))
    if transition.needs_reason and not reason.strip():
        raise _invalid(reason_field, "required", _("Give a reason."))
    if len(reason) > REASON_MAX:
        raise _invalid(reason_field, "too_long", _("This text is limited to %(n)d characters.") % {"n": REASON_MAX})


def _notify(dispute: Dispute, topic: str, key: Any, **extra: Any) -> None:
    from fengqiao.mediation.notifications import notify_dispute

    notify_dispute(dispute=dispute, topic=topic, key=str(key), **extra)


def _end(dispute: Dispute, now: datetime, outcome: str) -> None:
    dispute.outcome = outcome
    dispute.ended_at = now


def _cancel_open_sessions(dispute: Dispute, now: datetime, reason: str, mediator: Mediator | None = None) -> list[int]:
    sessions = dispute.sessions.filter(state=SessionState.SCHEDULED, starts_at__gte=now)
    if mediator is not None:
        sessions = sessions.filter(mediator=mediator)
    ids = list(sessions.values_list("pk", flat=True))
    for session in MediationSession.objects.filter(pk__in=ids):
        session.state, session.cancel_reason = SessionState.CANCELLED, reason[:REASON_MAX]
        session.sequence += 1
        session.updated_at = now
        session.save()
    return ids


def _recompute_deadlines(dispute: Dispute) -> None:
    """Deadlines of the stages from their starts, at the current risk level (high: shorter)."""
    level = dispute.risk_level or RiskLevel.LOW
    dispute.assign_due_at = risk.stage_deadline(risk_level=level, stage=DeadlineStage.ASSIGN,
                                                start=dispute.created_at)
    if dispute.assigned_at is not None:
        dispute.session_due_at = risk.stage_deadline(risk_level=level, stage=DeadlineStage.FIRST_SESSION,
                                                     start=dispute.assigned_at)
        dispute.conclude_due_at = risk.stage_deadline(risk_level=level, stage=DeadlineStage.CONCLUDE,
                                                      start=dispute.assigned_at)


@transaction.atomic
def _transition(
    *, actor: Any, number: str, action: DisputeAction, expected_version: int | None, reason: str = "",
    apply: Callable[[Dispute, datetime], dict[str, Any] | None] | None = None, is_public: bool = True,
    reason_field: str = "reason", after: Callable[[Dispute, Any], None] | None = None,
) -> Dispute:
    dispute = _load_for_update(number)
    _check(dispute, actor, action, expected_version, reason, reason_field)
    now = clock.now()
    from_state = dispute.state
    target = TRANSITIONS[action].target
    if target is not None:
        dispute.state = target
    payload = (apply(dispute, now) if apply else None) or {}
    dispute.version += 1
    dispute.updated_at = now
    event = append_event(dispute=dispute, action=action, actor=actor, from_state=from_state, to_state=dispute.state,
                         reason=reason.strip(), payload=payload, now=now, is_public=is_public)
    dispute.save()
    if after is not None:
        after(dispute, event)
    return dispute


# -- access codes ----------------------------------------------------------------------------------------
def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _code_index(code: str) -> str:
    return blind_index(normalise_code(code), ACCESS_PURPOSE)


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def _issue_code(party: Party, now: datetime) -> str:
    code = _new_code()
    party.access_code_index = _code_index(code)
    party.access_code_issued_at = now
    return code


def party_by_credentials(credentials: PartyCredentials, *, for_update: bool = False) -> Party:
    """The party whose access code and phone's last 4 digits these are; NotFound otherwise (the same
    answer whichever of the two is wrong)."""
    code = normalise_code(credentials.code)
    last4 = "".join(ch for ch in (credentials.phone_last4 or "") if ch.isdigit())
    missing = NotFound("not_found", _("No dispute matches this access code and phone number."))
    if len(code) != CODE_LENGTH or len(last4) != 4:
        raise missing
    parties = Party.objects.filter(access_code_index=_code_index(code)).select_related("dispute")
    if for_update:
        parties = parties.select_for_update(of=("self",))
    party = parties.first()
    if party is None:
        raise missing
    phone_digits = normalise_phone(party.phone).lstrip("+")
    if len(phone_digits) < 4 or not hmac.compare_digest(phone_digits[-4:], last4):
        raise missing
    return party


# -- intake ------------------------------------------------------------------------------------------------
def _request_hash(**fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _check_parties(parties: Sequence[PartyIn], errors: list[ErrorDetail]) -> None:
    if len(parties) > PARTIES_MAX:
        errors.append(ErrorDetail("too_many", _("At most %(n)d parties.") % {"n": PARTIES_MAX}, "parties"))
        return
    roles = [p.role for p in parties]
    if PartyRole.APPLICANT not in roles or PartyRole.RESPONDENT not in roles:
        errors.append(ErrorDetail("parties_required", _("Name at least one applicant and one respondent."),
                                  "parties"))
    for i, party in enumerate(parties):
        prefix = f"parties[{i}]"
        if party.role not in PartyRole.values:
            errors.append(ErrorDetail("invalid_choice", _("Unknown party role."), f"{prefix}.role"))
        if party.kind not in PartyKind.values:
            errors.append(ErrorDetail("invalid_choice", _("Unknown kind of party."), f"{prefix}.kind"))
        party.name = _text(errors, f"{prefix}.name", party.name, required=True, limit=NAME_MAX,
                           message=_("Give the party's name."))
        party.phone = _text(errors, f"{prefix}.phone", party.phone, limit=30)
        if party.phone and not _phone_ok(party.phone):
            errors.append(ErrorDetail("invalid_phone", _("This is not a phone number."), f"{prefix}.phone"))
        party.id_number = _text(errors, f"{prefix}.id_number", party.id_number, limit=30)
        party.address = _text(errors, f"{prefix}.address", party.address, limit=300)
        party.representative = _text(errors, f"{prefix}.representative", party.representative, limit=NAME_MAX)


def _parse_amount(amount: Any, errors: list[ErrorDetail]) -> Decimal | None:
    if amount is None or amount == "":
        return None
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        errors.append(ErrorDetail("invalid_amount", _("Give the amount as a number of yuan."), "amount"))
        return None
    if not value.is_finite() or value < 0 or value >= AMOUNT_MAX:
        errors.append(ErrorDetail("invalid_amount", _("Give the amount as a number of yuan."), "amount"))
        return None
    return value.quantize(Decimal("0.01"))


class _LostRace(Exception):
    pass


def dispute_register(
    *,
    actor: Any,
    type: DisputeType,
    title: str,
    facts: str,
    parties: Sequence[PartyIn],
    intake_mode: str = IntakeMode.APPLICATION,
    claims: str = "",
    amount: Decimal | str | float | None = None,
    referred_by: str = "",
    region: Region | None = None,
    grid: Grid | None = None,
    level: str = Level.TOWNSHIP,
    origin_case_number: str = "",
    idempotency_key: str | None = None,
) -> Dispute:
    """Register a dispute at a centre (MANAGE_DISPUTES over the area of `grid` or `region`).

    Each party with a phone gets an access code for the resident portal; the codes are returned
    once, on the dispute object as `dispute.issued_codes` (party id -> code), to be handed over
    (only keyed hashes are stored). With `idempotency_key` a retry of the same request returns the
    dispute the first one created (without codes); the same key with another request: 409.
    """
    try:
        with transaction.atomic():
            now = clock.now()
            key_hash = None
            if idempotency_key:
                key_hash = _request_hash(
                    type=type.pk, title=title, facts=facts, claims=claims, amount=str(amount), mode=intake_mode,
                    referred_by=referred_by, region=region.pk if region else None, grid=grid.pk if grid else None,
                    level=level, origin=origin_case_number, parties=[p.__dict__ for p in parties])
                existing = DisputeIdempotencyKey.objects.filter(actor=actor, key=idempotency_key).select_related(
                    "dispute").first()
                if existing:
                    if existing.request_hash != key_hash:
                        raise Conflict("idempotency_key_reused", _("This idempotency key was used for another request."))
                    return existing.dispute

            errors: list[ErrorDetail] = []
            title = _text(errors, "title", title, required=True, limit=TITLE_MAX, message=_("Summarise the dispute."))
            facts = _text(errors, "facts", facts, required=True, message=_("Describe the facts."))
            claims = _text(errors, "claims", claims)
            referred_by = _text(errors, "referred_by", referred_by, limit=200)
            value = _parse_amount(amount, errors)
            if intake_mode not in IntakeMode.values:
                errors.append(ErrorDetail("invalid_choice", _("Unknown intake mode."), "intake_mode"))
            elif intake_mode in REFERRING_MODES and not referred_by:
                errors.append(ErrorDetail("required", _("Say who referred the dispute."), "referred_by"))
            if level not in Level.values:
                errors.append(ErrorDetail("invalid_choice", _("Unknown level."), "level"))
            if not type.is_active:
                errors.append(ErrorDetail("inactive", _("This dispute type is no longer in use."), "type"))
            if grid is None and region is None:
                errors.append(ErrorDetail("required", _("Choose the village or grid where the dispute arose."),
                                          "region"))
            elif grid is not None and region is not None and grid.region_id != region.pk:
                errors.append(ErrorDetail("grid_mismatch", _("The grid is not in this region."), "grid"))
            parties = [PartyIn(**p.__dict__) for p in parties]
            _check_parties(parties, errors)
            _raise(errors)
            area_region = grid.region if grid is not None else region
            assert area_region is not None
            area_code = grid.code if grid is not None else area_region.code
            perms = permissions_for(actor)
            if not perms.can(Action.MANAGE_DISPUTES, Target(area_code=area_code)):
                if perms.may_ever(Action.MANAGE_DISPUTES):
                    raise NotFound("not_found", _("This area is not yours to register disputes in."))
                raise Forbidden("forbidden", _("Only a dispute-resolution centre registers disputes."))

            number_region = area_code[:9] if len(area_code) >= 9 else area_code[:6]
            dispute = Dispute.objects.create(
                number=next_dispute_number(region_code=number_region, at=now), type=type, title=title, facts=facts,
                claims=claims, amount=value, intake_mode=intake_mode, referred_by=referred_by,
                origin_case_number=origin_case_number, region=area_region, grid=grid, area_code=area_code,
                level=level, created_by=actor, created_at=now, updated_at=now,
            )
            issued = IssuedCodes()
            for order, item in enumerate(parties):
                party = Party(dispute=dispute, role=item.role, kind=item.kind, order=order, name=item.name,
                              phone=item.phone, id_number=item.id_number, address=item.address,
                              representative=item.representative,
                              phone_index=blind_index(item.phone, "phone") if item.phone else "",
                              id_number_index=blind_index(item.id_number, "id_number") if item.id_number else "")
                code = _issue_code(party, now) if item.phone else None
                party.save()
                if code:
                    issued.codes[party.pk] = code
            _recompute_deadlines(dispute)
            append_event(dispute=dispute, action=A.REGISTER, actor=actor, from_state="", to_state=S.REGISTERED, now=now,
                         payload={"intake_mode": intake_mode, "origin_case": origin_case_number,
                                  "parties": len(parties), "type": type.code})
            dispute.save()
            if idempotency_key:
                try:
                    with transaction.atomic():
                        DisputeIdempotencyKey.objects.create(actor=actor, key=idempotency_key,
                                                             request_hash=key_hash or "", dispute=dispute,
                                                             created_at=now)
                except IntegrityError:
                    raise _LostRace from None
            _notify(dispute, "dispute.registered", dispute.last_event_seq)
            dispute.issued_codes = issued.codes  # type: ignore[attr-defined]
            return dispute
    except _LostRace:
        winner = DisputeIdempotencyKey.objects.filter(actor=actor, key=idempotency_key).select_related("dispute").first()
        if winner is None:
            raise Conflict("retry", _("The same request is being processed; try again.")) from None
        return winner.dispute


def dispute_from_case(
    *, actor: Any, case_number: str, type: DisputeType, parties: Sequence[PartyIn], title: str = "",
    facts: str = "", claims: str = "", amount: Decimal | str | float | None = None,
    idempotency_key: str | None = None,
) -> Dispute:
    """Turn a case (read through the case selectors, so within the actor's scope) into a dispute:
    its category, place and description are copied, and its number is kept as the origin."""
    from fengqiao.cases.selectors import case_get

    case = case_get(actor=actor, number=case_number)
    if Dispute.objects.filter(origin_case_number=case.number).exclude(
            state__in=[S.WITHDRAWN, S.REFERRED]).exists():
        raise Conflict("already_a_dispute", _("This case is already being mediated."))
    return dispute_register(
        actor=actor, type=type, title=title or f"{case.category.name}（{case.number}）"[:TITLE_MAX],
        facts=facts or case.description + (f"\n{case.address}" if case.address else ""), claims=claims,
        amount=amount, intake_mode=IntakeMode.CASE, referred_by=case.number, region=case.region, grid=case.grid,
        origin_case_number=case.number, parties=parties, idempotency_key=idempotency_key,
    )


def dispute_edit(*, actor: Any, number: str, expected_version: int | None = None, title: str | None = None,
                 facts: str | None = None, claims: str | None = None, amount: Any = ..., type: DisputeType | None = None,
                 reason: str = "") -> Dispute:
    """Correct the intake (summary, facts, claims, amount, type) before a mediator is assigned."""
    errors: list[ErrorDetail] = []
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _text(errors, "title", title, required=True, limit=TITLE_MAX)
    if facts is not None:
        changes["facts"] = _text(errors, "facts", facts, required=True)
    if claims is not None:
        changes["claims"] = _text(errors, "claims", claims)
    if amount is not ...:
        changes["amount"] = _parse_amount(amount, errors)
    if type is not None:
        if not type.is_active:
            errors.append(ErrorDetail("inactive", _("This dispute type is no longer in use."), "type"))
        changes["type"] = type
    _raise(errors)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        for name, value in changes.items():
            setattr(dispute, name, value)
        return {"fields": sorted(changes)}

    return _transition(actor=actor, number=number, action=A.EDIT, expected_version=expected_version, reason=reason,
                       apply=apply, is_public=False)


# -- risk ------------------------------------------------------------------------------------------------
def dispute_assess(*, actor: Any, number: str, answers: Mapping[str, Any], note: str = "",
                   expected_version: int | None = None) -> Dispute:
    """Score the risk checklist (RiskRule rows) into a level with its reasons, store the assessment,
    and set the deadlines of that level. A high level notifies the centres over the area."""
    rules = list(RiskRule.objects.filter(is_active=True))
    thresholds = list(RiskThreshold.objects.all())
    try:
        result = risk.evaluate(rules=rules, thresholds=thresholds, answers=dict(answers))
    except risk.UnknownItem as exc:
        raise _invalid(f"answers.{exc.code}", "unknown_item", _("This is not an item of the checklist.")) from None
    except risk.BadAnswer as exc:
        raise _invalid(f"answers.{exc.code}", "invalid_answer", _("Answer with yes/no, or a whole number.")) from None
    errors: list[ErrorDetail] = []
    note = _text(errors, "note", note, limit=REASON_MAX)
    _raise(errors)
    state: dict[str, Any] = {}

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        state["before"] = dispute.risk_level
        if dispute.state == S.REGISTERED:
            dispute.state = S.ASSESSED
        RiskAssessment.objects.create(
            dispute=dispute, answers=dict(answers), points=result.points, level=result.level,
            reasons=[r.as_dict() for r in result.reasons], note=note, assessed_by=actor, assessed_at=now)
        dispute.risk_level, dispute.risk_points, dispute.assessed_at = result.level, result.points, now
        _recompute_deadlines(dispute)
        return {"level": result.level, "points": result.points, "reasons": [r.code for r in result.reasons]}

    def after(dispute: Dispute, event: Any) -> None:
        if result.level == RiskLevel.HIGH and state["before"] != RiskLevel.HIGH:
            from django.utils.translation import get_language

            zh = (get_language() or "zh-hans").startswith("zh")
            _notify(dispute, "dispute.high_risk", event.seq,
                    reasons=[r.text_zh if zh else r.text_en for r in result.reasons])

    return _transition(actor=actor, number=number, action=A.ASSESS, expected_version=expected_version,
                       reason=note, apply=apply, after=after, is_public=False, reason_field="note")


# -- mediators and assignment -------------------------------------------------------------------------------
def _open_load(mediator: Mediator) -> int:
    return Dispute.objects.filter(mediator=mediator, state__in=[S.ASSIGNED, S.IN_MEDIATION, S.AGREED]).count()


def _party_indexes(dispute: Dispute) -> set[str]:
    found: set[str] = set()
    for phone_index, id_index in dispute.parties.values_list("phone_index", "id_number_index"):
        found |= {i for i in (phone_index, id_index) if i}
    return found


def mediator_conflicts(*, mediator: Mediator, dispute: Dispute) -> bool:
    """Whether `mediator` is a party or declared a link to one (same phone or ID blind index)."""
    parties = _party_indexes(dispute)
    own = {i for i in (mediator.phone_index, mediator.id_number_index) if i}
    links = set()
    for phone_index, id_index in mediator.links.values_list("phone_index", "id_number_index"):
        links |= {i for i in (phone_index, id_index) if i}
    return bool((own | links) & parties)


def _check_mediator(dispute: Dispute, mediator: Mediator, field_name: str = "mediator") -> None:
    if mediator_conflicts(mediator=mediator, dispute=dispute):
        raise Conflict("conflict_of_interest", _("%(name)s is linked to a party of this dispute and may not mediate "
                                                 "it.") % {"name": mediator.display_name}, field=field_name)
    if MediatorRefusal.objects.filter(dispute=dispute, mediator=mediator).exists():
        raise Conflict("mediator_refused", _("A party asked for another mediator than %(name)s.")
                       % {"name": mediator.display_name}, field=field_name)
    if not mediator.is_available:
        raise Conflict("mediator_unavailable", _("%(name)s is not available.") % {"name": mediator.display_name},
                       field=field_name)
    if not permissions_for(mediator.user).can(Action.MEDIATE, dispute) or not mediator.user.is_active:
        raise _invalid(field_name, "mediator_out_of_area",
                       _("%(name)s does not mediate in this area.") % {"name": mediator.display_name})
    if _open_load(mediator) >= mediator.capacity:
        raise Conflict("mediator_full", _("%(name)s already has %(n)d open disputes.")
                       % {"name": mediator.display_name, "n": mediator.capacity}, field=field_name)


def dispute_assign(*, actor: Any, number: str, mediator: Mediator, expected_version: int | None = None,
                   reason: str = "") -> Dispute:
    """The centre assigns a mediator (see selectors.match_mediators for proposals). Refused with a
    clear error: a conflict of interest, a mediator a party refused, unavailable, out of area, full."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        Mediator.objects.select_for_update().filter(pk=mediator.pk).first()  # serialise loads of this mediator
        _check_mediator(dispute, mediator)
        dispute.mediator, dispute.organisation = mediator, mediator.organisation
        dispute.level = mediator.organisation.level
        dispute.assigned_at = now
        _recompute_deadlines(dispute)
        return {"mediator": mediator.pk, "mediator_name": mediator.display_name,
                "organisation": mediator.organisation.code, "level": dispute.level}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.assigned", event.seq)

    return _transition(actor=actor, number=number, action=A.ASSIGN, expected_version=expected_version,
                       reason=reason, apply=apply, after=after)


def dispute_replace_mediator(*, actor: Any, number: str, mediator: Mediator, reason: str,
                             expected_version: int | None = None) -> Dispute:
    """Another mediator (a party asked, or the first cannot go on): the former one is kept out of
    this dispute's matching, and their scheduled sessions are cancelled."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        former = dispute.mediator
        if former is not None and former.pk == mediator.pk:
            raise _invalid("mediator", "same_mediator", _("Choose another mediator than the current one."))
        Mediator.objects.select_for_update().filter(pk=mediator.pk).first()
        _check_mediator(dispute, mediator)
        cancelled: list[int] = []
        if former is not None:
            MediatorRefusal.objects.get_or_create(dispute=dispute, mediator=former,
                                                  defaults={"reason": reason.strip(), "created_at": now})
            cancelled = _cancel_open_sessions(dispute, now, reason, mediator=former)
        dispute.mediator, dispute.organisation = mediator, mediator.organisation
        dispute.level = mediator.organisation.level
        return {"from": former.pk if former else None, "to": mediator.pk, "mediator_name": mediator.display_name,
                "cancelled_sessions": cancelled}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.assigned", event.seq)

    return _transition(actor=actor, number=number, action=A.REPLACE_MEDIATOR, expected_version=expected_version,
                       reason=reason, apply=apply, after=after)


@transaction.atomic
def party_ask_for_another(*, credentials: PartyCredentials, reason: str) -> Dispute:
    """A party asks for another mediator: the current one is kept out of this dispute's matching
    and the centre is told to choose again (the assignment stays until it does)."""
    party = party_by_credentials(credentials)
    errors: list[ErrorDetail] = []
    reason = _text(errors, "reason", reason, required=True, limit=REASON_MAX, message=_("Say why."))
    _raise(errors)
    dispute = _load_for_update(party.dispute.number)
    if dispute.state not in TRANSITIONS[A.ASK_FOR_ANOTHER].sources or dispute.mediator is None:
        raise TransitionNotAllowed("transition_not_allowed", _("There is no mediator to replace now."))
    now = clock.now()
    MediatorRefusal.objects.get_or_create(dispute=dispute, mediator=dispute.mediator,
                                          defaults={"reason": reason, "created_at": now})
    dispute.version += 1
    dispute.updated_at = now
    event = append_event(dispute=dispute, action=A.ASK_FOR_ANOTHER, actor=f"party:{party.get_role_display()}",
                         from_state=dispute.state, to_state=dispute.state, reason=reason,
                         payload={"party": party.pk, "mediator": dispute.mediator_id}, now=now, is_public=False)
    dispute.save()
    _notify(dispute, "dispute.replace_requested", event.seq)
    return dispute


# -- mediator profiles ------------------------------------------------------------------------------------
def _manage_org(actor: Any, organisation: MediationOrganisation) -> None:
    perms = permissions_for(actor)
    if not perms.can(Action.MANAGE_DISPUTES, Target(area_code=organisation.region.code)):
        raise NotFound("not_found", _("No such organisation."))


@transaction.atomic
def mediator_save(
    *, actor: Any, user: Any, organisation: MediationOrganisation, region: Region, display_name: str = "",
    specialties: Sequence[DisputeType] = (), languages: str = "", capacity: int = 8, is_available: bool = True,
    bio: str = "", phone: str = "", id_number: str = "",
) -> Mediator:
    """Create or update a mediator's profile. The user must hold an active mediator assignment.
    The phone and ID number are kept only as blind indexes, for conflict-of-interest checks."""
    _manage_org(actor, organisation)
    errors: list[ErrorDetail] = []
    if not user.assignments.filter(role=Role.MEDIATOR, is_active=True).exists():
        errors.append(ErrorDetail("not_a_mediator", _("This user has no mediator assignment."), "user"))
    profile = getattr(user, "staff_profile", None)
    display_name = _text(errors, "display_name", display_name or (profile.display_name if profile else ""),
                         required=True, limit=NAME_MAX)
    languages = _text(errors, "languages", languages, limit=200)
    bio = _text(errors, "bio", bio, limit=TEXT_MAX)
    if not isinstance(capacity, int) or not 1 <= capacity <= 200:
        errors.append(ErrorDetail("out_of_range", _("Capacity is a whole number from 1 to 200."), "capacity"))
    if phone and not _phone_ok(phone):
        errors.append(ErrorDetail("invalid_phone", _("This is not a phone number."), "phone"))
    _raise(errors)
    mediator = Mediator.objects.select_for_update().filter(user=user).first() or Mediator(user=user)
    mediator.display_name, mediator.organisation, mediator.region = display_name, organisation, region
    mediator.languages, mediator.capacity, mediator.is_available, mediator.bio = languages, capacity, is_available, bio
    phone = phone or (profile.phone if profile else "")
    mediator.phone_index = blind_index(phone, "phone") if phone else ""
    if id_number:
        mediator.id_number_index = blind_index(id_number, "id_number")
    mediator.save()
    mediator.specialties.set(specialties)
    return mediator


@transaction.atomic
def mediator_declare_link(*, actor: Any, mediator: Mediator, relation: str, name: str = "", phone: str = "",
                          id_number: str = "") -> MediatorLink:
    """A mediator (for themselves) or the centre declares a person or organisation the mediator is
    linked to; matching and assignment then keep the mediator away from disputes with that party."""
    if getattr(actor, "pk", None) != mediator.user_id:
        _manage_org(actor, mediator.organisation)
    errors: list[ErrorDetail] = []
    relation = _text(errors, "relation", relation, required=True, limit=100)
    name = _text(errors, "name", name, limit=NAME_MAX)
    if not phone and not id_number:
        errors.append(ErrorDetail("required", _("Give a phone number or an ID number to recognise the person by."),
                                  "phone"))
    if phone and not _phone_ok(phone):
        errors.append(ErrorDetail("invalid_phone", _("This is not a phone number."), "phone"))
    _raise(errors)
    return MediatorLink.objects.create(
        mediator=mediator, relation=relation, name=name,
        phone_index=blind_index(phone, "phone") if phone else "",
        id_number_index=blind_index(id_number, "id_number") if id_number else "", declared_at=clock.now())


@transaction.atomic
def mediator_add_absence(*, actor: Any, mediator: Mediator, starts_at: datetime, ends_at: datetime,
                         note: str = "") -> MediatorAbsence:
    if getattr(actor, "pk", None) != mediator.user_id:
        _manage_org(actor, mediator.organisation)
    if ends_at <= starts_at:
        raise _invalid("ends_at", "ends_before_start", _("The end must come after the start."))
    return MediatorAbsence.objects.create(mediator=mediator, starts_at=starts_at, ends_at=ends_at, note=note[:200])


# -- sessions ------------------------------------------------------------------------------------------------
def meeting_link_for(*, dispute: Dispute, session_key: str) -> str:
    """The configured remote meeting link: the organisation's template, else the site's setting
    MEDIATION_MEETING_LINK (environment FENGQIAO_MEDIATION_MEETING_LINK)."""
    import os

    from django.conf import settings

    template = (dispute.organisation.meeting_link_template if dispute.organisation is not None else "") or getattr(
        settings, "MEDIATION_MEETING_LINK", "") or os.environ.get("FENGQIAO_MEDIATION_MEETING_LINK", "")
    if not template:
        return ""
    return template.replace("{number}", dispute.number).replace("{session}", session_key)


def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    errors: list[ErrorDetail] = []
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        errors.append(ErrorDetail("naive_time", _("Give times with their time zone."), "starts_at"))
    elif ends_at <= starts_at:
        errors.append(ErrorDetail("ends_before_start", _("The end must come after the start."), "ends_at"))
    elif ends_at - starts_at > timedelta(hours=SESSION_MAX_HOURS):
        errors.append(ErrorDetail("too_long", _("A session lasts at most %(n)d hours.") % {"n": SESSION_MAX_HOURS},
                                  "ends_at"))
    elif starts_at < now - timedelta(minutes=5):
        errors.append(ErrorDetail("in_the_past", _("A session is scheduled in the future."), "starts_at"))
    _raise(errors)


def _check_free(mediator: Mediator, room: Room | None, starts_at: datetime, ends_at: datetime,
                exclude: int | None = None) -> None:
    """Lock the mediator's (and the room's) row, then refuse an overlap with another session."""
    Mediator.objects.select_for_update().filter(pk=mediator.pk).first()
    overlapping = MediationSession.objects.filter(state=SessionState.SCHEDULED, starts_at__lt=ends_at,
                                                  ends_at__gt=starts_at)
    if exclude is not None:
        overlapping = overlapping.exclude(pk=exclude)
    clash = overlapping.filter(mediator=mediator).select_related("dispute").first()
    if clash is not None:
        raise Conflict("mediator_double_booked", _("%(name)s already has a session from %(start)s to %(end)s.") % {
            "name": mediator.display_name, "start": timezone.localtime(clash.starts_at).strftime("%Y-%m-%d %H:%M"),
            "end": timezone.localtime(clash.ends_at).strftime("%H:%M")}, field="starts_at")
    if MediatorAbsence.objects.filter(mediator=mediator, starts_at__lt=ends_at, ends_at__gt=starts_at).exists():
        raise Conflict("mediator_absent", _("%(name)s is away at that time.") % {"name": mediator.display_name},
                       field="starts_at")
    if room is not None:
        Room.objects.select_for_update().filter(pk=room.pk).first()
        if overlapping.filter(room=room).exists():
            raise Conflict("room_taken", _("The room %(room)s is taken at that time.") % {"room": room.name},
                           field="room")


def _place(dispute: Dispute, mode: str, room: Room | None, place: str, meeting_link: str,
           session_key: str) -> tuple[Room | None, str, str]:
    errors: list[ErrorDetail] = []
    if mode not in SessionMode.values:
        raise _invalid("mode", "invalid_choice", _("Unknown kind of session."))
    place = _text(errors, "place", place, limit=200)
    meeting_link = _text(errors, "meeting_link", meeting_link, limit=300)
    _raise(errors)
    if mode == SessionMode.IN_PERSON:
        if room is not None and (not room.is_active or room.organisation_id != dispute.organisation_id):
            raise _invalid("room", "invalid_room", _("Choose a room of the mediation body."))
        if room is None and not place:
            raise _invalid("room", "required", _("Choose a room or say where the session takes place."))
        return room, place, ""
    link = meeting_link or meeting_link_for(dispute=dispute, session_key=session_key)
    if not link:
        raise _invalid("meeting_link", "required", _("No meeting link is configured: give one."))
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    try:
        URLValidator(schemes=["https", "http"])(link)
    except ValidationError:
        raise _invalid("meeting_link", "invalid_url", _("This is not a web address.")) from None
    return None, "", link


def session_schedule(
    *, actor: Any, number: str, starts_at: datetime, ends_at: datetime, mode: str = SessionMode.IN_PERSON,
    room: Room | None = None, place: str = "", meeting_link: str = "", expected_version: int | None = None,
) -> MediationSession:
    """Schedule a session with the dispute's mediator, in a room (or another place) or remote (the
    configured meeting link). Refused when the mediator (or the room) is booked at an overlapping
    time: the mediator's row is locked while checking. Parties and the mediator are notified; each
    gets the session as an iCalendar file (selectors.session_ics)."""
    created: dict[str, MediationSession] = {}

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        if dispute.mediator is None:
            raise _invalid("mediator", "no_mediator", _("Assign a mediator first."))
        _check_times(starts_at, ends_at, now)
        uid = f"{secrets.token_hex(8)}-{dispute.number}@fengqiao"
        chosen_room, where, link = _place(dispute, mode, room, place, meeting_link, uid[:16])
        _check_free(dispute.mediator, chosen_room, starts_at, ends_at)
        session = MediationSession.objects.create(
            dispute=dispute, mediator=dispute.mediator, mode=mode, room=chosen_room, place=where, meeting_link=link,
            starts_at=starts_at, ends_at=ends_at, uid=uid, created_at=now, updated_at=now)
        created["session"] = session
        if dispute.state == S.ASSIGNED:
            dispute.state = S.IN_MEDIATION
        return {"session": session.pk, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                "mode": mode, "room": chosen_room.name if chosen_room else "", "place": where}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.session_scheduled", event.seq, session=created["session"])

    _transition(actor=actor, number=number, action=A.SCHEDULE, expected_version=expected_version, apply=apply,
                after=after)
    return created["session"]


def _session_for(session_id: int) -> MediationSession:
    session = MediationSession.objects.select_related("dispute").filter(pk=session_id).first()
    if session is None:
        raise NotFound("not_found", _("No such session."))
    return session


def session_reschedule(*, actor: Any, session_id: int, starts_at: datetime, ends_at: datetime,
                       room: Room | None = None, place: str | None = None, expected_version: int | None = None,
                       reason: str = "") -> MediationSession:
    """Move a scheduled session (same checks as scheduling); its iCalendar SEQUENCE goes up."""
    session = _session_for(session_id)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = MediationSession.objects.select_for_update().get(pk=session.pk)
        if current.dispute_id != dispute.pk or current.state != SessionState.SCHEDULED:
            raise TransitionNotAllowed("session_not_scheduled", _("Only a scheduled session can be moved."))
        _check_times(starts_at, ends_at, now)
        new_room = room if room is not None else current.room
        new_place = current.place if place is None else place
        if current.mode == SessionMode.IN_PERSON:
            new_room, new_place, _link = _place(dispute, current.mode, new_room, new_place, "", current.uid[:16])
        _check_free(current.mediator, new_room, starts_at, ends_at, exclude=current.pk)
        current.starts_at, current.ends_at, current.room, current.place = starts_at, ends_at, new_room, new_place
        current.sequence += 1
        current.updated_at = now
        current.save()
        session.__dict__.update(current.__dict__)
        return {"session": current.pk, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.session_moved", event.seq, session=session)

    _transition(actor=actor, number=session.dispute.number, action=A.RESCHEDULE, expected_version=expected_version,
                apply=apply, after=after, reason=reason)
    return session


def session_cancel(*, actor: Any, session_id: int, reason: str, expected_version: int | None = None) -> MediationSession:
    session = _session_for(session_id)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = MediationSession.objects.select_for_update().get(pk=session.pk)
        if current.state != SessionState.SCHEDULED:
            raise TransitionNotAllowed("session_not_scheduled", _("Only a scheduled session can be cancelled."))
        current.state, current.cancel_reason = SessionState.CANCELLED, reason.strip()
        current.sequence += 1
        current.updated_at = now
        current.save()
        session.__dict__.update(current.__dict__)
        return {"session": current.pk}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.session_cancelled", event.seq, session=session)

    _transition(actor=actor, number=session.dispute.number, action=A.CANCEL_SESSION, expected_version=expected_version,
                reason=reason, apply=apply, after=after)
    return session


def session_record(*, actor: Any, session_id: int, attendance: Mapping[int, bool], minutes: str,
                   expected_version: int | None = None) -> MediationSession:
    """The mediator records who came and the minutes, after the session started."""
    session = _session_for(session_id)
    errors: list[ErrorDetail] = []
    minutes = _text(errors, "minutes", minutes, required=True, message=_("Write the minutes."))
    _raise(errors)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = MediationSession.objects.select_for_update().get(pk=session.pk)
        if current.state == SessionState.CANCELLED:
            raise TransitionNotAllowed("session_cancelled", _("This session was cancelled."))
        if current.starts_at > now:
            raise _invalid("session", "not_started", _("A session is recorded once it has started."))
        party_ids = set(dispute.parties.values_list("pk", flat=True))
        unknown = set(attendance) - party_ids
        if unknown:
            raise _invalid("attendance", "unknown_party", _("Attendance names someone who is not a party."))
        for party_id in party_ids:
            SessionAttendance.objects.update_or_create(session=current, party_id=party_id,
                                                       defaults={"present": bool(attendance.get(party_id, False))})
        current.state, current.minutes, current.updated_at = SessionState.HELD, minutes, now
        current.save()
        session.__dict__.update(current.__dict__)
        if dispute.first_session_at is None:
            dispute.first_session_at = current.starts_at
        if dispute.state == S.ASSIGNED:
            dispute.state = S.IN_MEDIATION
        return {"session": current.pk, "present": sorted(pid for pid in party_ids if attendance.get(pid))}

    _transition(actor=actor, number=session.dispute.number, action=A.RECORD_SESSION, expected_version=expected_version,
                apply=apply, is_public=True)
    return session


# -- the agreement --------------------------------------------------------------------------------------------
def agreement_template(*, dispute: Dispute) -> AgreementContent:
    """A first draft from the dispute: the facts and claims as registered, performance in 30 days."""
    return AgreementContent(
        facts=dispute.facts, points_in_dispute=dispute.claims or dispute.title, responsibilities="", obligations="",
        performance_manner="", performance_deadline=timezone.localdate(clock.now()) + timedelta(days=30))


def _check_content(content: AgreementContent) -> AgreementContent:
    errors: list[ErrorDetail] = []
    required = _("This field of the agreement is required (人民调解法 Art. 29).")
    checked = AgreementContent(
        facts=_text(errors, "facts", content.facts, required=True, message=required),
        points_in_dispute=_text(errors, "points_in_dispute", content.points_in_dispute, required=True,
                                message=required),
        responsibilities=_text(errors, "responsibilities", content.responsibilities, required=True, message=required),
        obligations=_text(errors, "obligations", content.obligations, required=True, message=required),
        performance_manner=_text(errors, "performance_manner", content.performance_manner, required=True,
                                 message=required),
        performance_deadline=content.performance_deadline,
        other_terms=_text(errors, "other_terms", content.other_terms),
    )
    if not isinstance(content.performance_deadline, date):
        errors.append(ErrorDetail("required", required, "performance_deadline"))
    elif content.performance_deadline < timezone.localdate(clock.now()):
        errors.append(ErrorDetail("in_the_past", _("The performance deadline cannot be in the past."),
                                  "performance_deadline"))
    _raise(errors)
    return checked


def _render(agreement: Agreement, dispute: Dispute) -> None:
    from fengqiao.mediation.agreements import document_for, render_agreement_pdf

    data = render_agreement_pdf(document_for(agreement=agreement, dispute=dispute))
    agreement.pdf = base64.b64encode(data).decode("ascii")
    agreement.pdf_hash = hashlib.sha256(data).hexdigest()
    agreement.pdf_size = len(data)


def current_agreement(dispute: Dispute) -> Agreement | None:
    return dispute.agreements.exclude(state=AgreementState.VOID).order_by("-revision").first()


def agreement_draft(*, actor: Any, number: str, content: AgreementContent,
                    expected_version: int | None = None) -> Agreement:
    """Write (or rewrite) the agreement and render it as a PDF whose SHA-256 is its hash.

    Rewriting changes the PDF and its hash and voids the signatures given so far; unchanged content
    keeps the PDF, the hash and the signatures. The parties are told it is ready to sign.
    """
    content = _check_content(content)
    result: dict[str, Agreement] = {}

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        agreement = dispute.agreements.select_for_update().exclude(state=AgreementState.VOID).order_by(
            "-revision").first()
        if agreement is None or agreement.state == AgreementState.EFFECTIVE:
            last = dispute.agreements.order_by("-revision").values_list("revision", flat=True).first() or 0
            agreement = Agreement(dispute=dispute, revision=last + 1, created_at=now, updated_at=now,
                                  performance_deadline=content.performance_deadline)
        old_hash = agreement.pdf_hash
        for name, value in content.__dict__.items():
            setattr(agreement, name, value)
        agreement.updated_at = now
        if agreement.pk is not None:
            agreement.version += 1
        _render(agreement, dispute)
        agreement.save()
        voided = 0
        if old_hash and old_hash != agreement.pdf_hash:
            voided = agreement.signatures.filter(voided_at__isnull=True).update(voided_at=now)
        result["agreement"] = agreement
        return {"agreement": agreement.pk, "revision": agreement.revision, "hash": agreement.pdf_hash,
                "signatures_voided": voided}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.agreement_ready", event.seq)

    _transition(actor=actor, number=number, action=A.DRAFT, expected_version=expected_version, apply=apply,
                after=after)
    return result["agreement"]


def _check_signature(signature_text: str, signature_image_png: bytes | None) -> tuple[str, str]:
    errors: list[ErrorDetail] = []
    text = _text(errors, "signature_text", signature_text, limit=SIGNATURE_TEXT_MAX)
    image = ""
    if signature_image_png:
        if len(signature_image_png) > SIGNATURE_IMAGE_MAX or not signature_image_png.startswith(b"\x89PNG\r\n\x1a\n"):
            errors.append(ErrorDetail("invalid_image", _("The drawn signature must be a PNG image of at most %(n)d "
                                                         "kB.") % {"n": SIGNATURE_IMAGE_MAX // 1000},
                                      "signature_image"))
        else:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(signature_image_png)) as picture:
                    picture.verify()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
                errors.append(ErrorDetail("invalid_image", _("The drawn signature is not a readable PNG image."),
                                          "signature_image"))
            image = base64.b64encode(signature_image_png).decode("ascii")
    if not text and not image and not errors:
        errors.append(ErrorDetail("required", _("Type your name or draw your signature."), "signature_text"))
    _raise(errors)
    return text, image


@transaction.atomic
def agreement_sign(*, signer: Any, agreement: Agreement | int, shown_hash: str, signature_text: str = "",
                   signature_image_png: bytes | None = None) -> Agreement:
    """Sign the agreement as it was shown. `signer` is the assigned mediator (a user) or a party
    (`PartyCredentials`). Refused (409 `agreement_changed`) when `shown_hash` is not the current
    hash of the PDF; refused when the signer already signed. When every party and the mediator
    have signed, the agreement and the dispute come into force: the 30-day judicial confirmation
    deadline is stored, everyone is reminded of it, and a follow-up visit is scheduled for the
    performance deadline."""
    agreement_id = agreement.pk if isinstance(agreement, Agreement) else agreement
    party: Party | None = None
    if isinstance(signer, PartyCredentials):
        party = party_by_credentials(signer)
        row = Agreement.objects.filter(pk=agreement_id, dispute_id=party.dispute_id).values_list(
            "dispute__number", flat=True).first()
    else:
        row = Agreement.objects.filter(pk=agreement_id).values_list("dispute__number", flat=True).first()
    if row is None:
        raise NotFound("not_found", _("No such agreement."))
    dispute = _load_for_update(row)
    current = Agreement.objects.select_for_update().get(pk=agreement_id)
    if party is None:
        perms = permissions_for(signer)
        if not _visible(perms, signer, dispute):
            raise NotFound("not_found", _("No such agreement."))
        if dispute.mediator is None or dispute.mediator.user_id != getattr(signer, "pk", None) \
                or not perms.can(Action.MEDIATE, dispute):
            raise Forbidden("forbidden", _("Only the parties and the mediator of this dispute sign its agreement."))
    if current.state != AgreementState.DRAFT or dispute.state != S.AGREED:
        raise TransitionNotAllowed("not_signable", _("This agreement is not open for signing."))
    if not hmac.compare_digest((shown_hash or "").lower(), current.pdf_hash):
        raise Conflict("agreement_changed", _("The agreement changed after it was shown to you. Read the new "
                                              "version and sign again."), field="shown_hash")
    text, image = _check_signature(signature_text, signature_image_png)
    valid = current.signatures.filter(voided_at__isnull=True)
    if party is not None and valid.filter(party=party).exists() or \
            party is None and valid.filter(kind=SignerKind.MEDIATOR).exists():
        raise Conflict("already_signed", _("You have already signed this agreement."))
    now = clock.now()
    AgreementSignature.objects.create(
        agreement=current, kind=SignerKind.PARTY if party else SignerKind.MEDIATOR, party=party,
        user=None if party else signer, signature_text=text, signature_image=image, pdf_hash=current.pdf_hash,
        signed_at=now)
    actor = None if party else signer
    label = f"party:{party.get_role_display()}" if party else None
    dispute.version += 1
    dispute.updated_at = now
    event = append_event(dispute=dispute, action=A.SIGN, actor=actor or label, from_state=dispute.state,
                         to_state=dispute.state, now=now,
                         payload={"agreement": current.pk, "hash": current.pdf_hash,
                                  "signer": "mediator" if party is None else party.role,
                                  "party": party.pk if party else None, "drawn": bool(image)})
    signed_parties = set(current.signatures.filter(voided_at__isnull=True, kind=SignerKind.PARTY)
                         .values_list("party_id", flat=True))
    all_parties = set(dispute.parties.values_list("pk", flat=True))
    mediator_signed = current.signatures.filter(voided_at__isnull=True, kind=SignerKind.MEDIATOR).exists()
    if mediator_signed and all_parties <= signed_parties:
        current.state, current.effective_at = AgreementState.EFFECTIVE, now
        current.confirmation_deadline = timezone.localdate(now) + timedelta(days=CONFIRMATION_DAYS)
        current.save()
        from_state = dispute.state
        dispute.state, dispute.settled_at = S.EFFECTIVE, now
        _end(dispute, now, Outcome.SETTLED)
        due = timezone.make_aware(datetime.combine(current.performance_deadline + timedelta(days=1),
                                                   datetime.min.time().replace(hour=9)))
        FollowUp.objects.create(dispute=dispute, agreement=current, due_at=max(due, now), created_at=now)
        event = append_event(dispute=dispute, action=A.EFFECTIVE, actor=None, from_state=from_state,
                             to_state=dispute.state, now=now,
                             payload={"agreement": current.pk, "hash": current.pdf_hash,
                                      "confirmation_deadline": current.confirmation_deadline.isoformat()})
        dispute.save()
        _notify(dispute, "dispute.effective", event.seq, deadline=current.confirmation_deadline.isoformat())
    else:
        dispute.save()
    return current


# -- endings: failure, referral, withdrawal -------------------------------------------------------------------
def dispute_fail(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Dispute:
    """Mediation did not settle the dispute: scheduled sessions are cancelled, an unsigned draft is
    voided; the centre refers the dispute on (dispute_refer) or reopens it."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        cancelled = _cancel_open_sessions(dispute, now, reason)
        dispute.agreements.filter(state=AgreementState.DRAFT).update(state=AgreementState.VOID)
        _end(dispute, now, Outcome.FAILED)
        return {"cancelled_sessions": cancelled}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.failed", event.seq)

    return _transition(actor=actor, number=number, action=A.FAIL, expected_version=expected_version, reason=reason,
                       apply=apply, after=after)


def dispute_refer(*, actor: Any, number: str, route: str, body: str, reason: str,
                  organisation: MediationOrganisation | None = None,
                  expected_version: int | None = None) -> Referral:
    """Refer the dispute along the ladder (another mediation body, arbitration, administrative
    ruling, administrative reconsideration, litigation). The file (a PDF of the dispute, its
    events, sessions and agreement) is handed over and kept on the referral; the dispute ends as
    referred and records where it went."""
    errors: list[ErrorDetail] = []
    if route not in ReferralRoute.values:
        errors.append(ErrorDetail("invalid_choice", _("Unknown way of referral."), "route"))
    body = _text(errors, "body", body or (organisation.name if organisation else ""), required=True, limit=200,
                 message=_("Name the body the dispute goes to."))
    if organisation is not None and route != ReferralRoute.MEDIATION:
        errors.append(ErrorDetail("invalid_choice", _("Only a referral to mediation names a mediation body."),
                                  "organisation"))
    _raise(errors)
    made: dict[str, Referral] = {}

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        from fengqiao.mediation.agreements import render_handover_pdf

        if organisation is not None and organisation.pk == dispute.organisation_id:
            raise _invalid("organisation", "same_body", _("Refer to another body than the one mediating now."))
        _cancel_open_sessions(dispute, now, reason)
        dispute.agreements.filter(state=AgreementState.DRAFT).update(state=AgreementState.VOID)
        dispute.follow_ups.filter(state=FollowUpState.SCHEDULED).update(state=FollowUpState.CANCELLED)
        if not dispute.outcome or dispute.outcome == Outcome.SETTLED:
            # referred without a settlement that held: not settled
            _end(dispute, now, Outcome.FAILED)
        referral = Referral(dispute=dispute, route=route, body=body, organisation=organisation, reason=reason.strip(),
                            referred_by=actor, referred_at=now)
        data = render_handover_pdf(dispute=dispute, referral=referral)
        referral.handover_pdf = base64.b64encode(data).decode("ascii")
        referral.handover_hash = hashlib.sha256(data).hexdigest()
        referral.save()
        made["referral"] = referral
        return {"route": route, "body": body, "organisation": organisation.code if organisation else None,
                "handover_hash": referral.handover_hash}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.referred", event.seq)

    _transition(actor=actor, number=number, action=A.REFER, expected_version=expected_version, reason=reason,
                apply=apply, after=after)
    return made["referral"]


def dispute_withdraw(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Dispute:
    """The applicant withdraws (recorded by the centre): sessions are cancelled, the dispute ends."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        cancelled = _cancel_open_sessions(dispute, now, reason)
        dispute.agreements.filter(state=AgreementState.DRAFT).update(state=AgreementState.VOID)
        _end(dispute, now, Outcome.WITHDRAWN)
        return {"cancelled_sessions": cancelled}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.withdrawn", event.seq)

    return _transition(actor=actor, number=number, action=A.WITHDRAW, expected_version=expected_version,
                       reason=reason, apply=apply, after=after)


def dispute_reopen(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Dispute:
    """Back to mediation: after a failed mediation, or when a follow-up found the agreement not
    performed. The settlement no longer counts; scheduled follow-ups are cancelled."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        if dispute.mediator is None:
            raise _invalid("mediator", "no_mediator", _("Assign a mediator first."))
        dispute.follow_ups.filter(state=FollowUpState.SCHEDULED).update(state=FollowUpState.CANCELLED)
        was = dispute.outcome
        dispute.outcome, dispute.ended_at, dispute.settled_at = "", None, None
        dispute.assigned_at = now  # the stages' clocks start again
        _recompute_deadlines(dispute)
        return {"previous_outcome": was}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.reopened", event.seq)

    return _transition(actor=actor, number=number, action=A.REOPEN, expected_version=expected_version, reason=reason,
                       apply=apply, after=after)


# -- follow-up visits -----------------------------------------------------------------------------------------
def follow_up_schedule(*, actor: Any, number: str, due_at: datetime, expected_version: int | None = None) -> FollowUp:
    made: dict[str, FollowUp] = {}

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        if timezone.is_naive(due_at):
            raise _invalid("due_at", "naive_time", _("Give times with their time zone."))
        if due_at < now - timedelta(minutes=5):
            raise _invalid("due_at", "in_the_past", _("A follow-up visit is scheduled in the future."))
        made["follow_up"] = FollowUp.objects.create(dispute=dispute, agreement=current_agreement(dispute),
                                                    due_at=due_at, created_at=now)
        return {"follow_up": made["follow_up"].pk, "due_at": due_at.isoformat()}

    _transition(actor=actor, number=number, action=A.SCHEDULE_FOLLOW_UP, expected_version=expected_version,
                apply=apply, is_public=False)
    return made["follow_up"]


def follow_up_record(*, actor: Any, follow_up_id: int, result: str, note: str = "",
                     expected_version: int | None = None) -> FollowUp:
    """Record a follow-up visit. Performed: the dispute is done (performed). Partly performed:
    another visit in 14 days. Not performed: the centre and the mediator are told, to reopen the
    mediation (dispute_reopen) or refer the dispute (dispute_refer)."""
    follow_up = FollowUp.objects.select_related("dispute").filter(pk=follow_up_id).first()
    if follow_up is None:
        raise NotFound("not_found", _("No such follow-up visit."))
    errors: list[ErrorDetail] = []
    if result not in FollowUpResult.values:
        errors.append(ErrorDetail("invalid_choice", _("Say whether the agreement was performed."), "result"))
    note = _text(errors, "note", note, required=result != FollowUpResult.PERFORMED, limit=REASON_MAX,
                 message=_("Say what was not done."))
    _raise(errors)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if current.dispute_id != dispute.pk or current.state != FollowUpState.SCHEDULED:
            raise TransitionNotAllowed("follow_up_done", _("This follow-up visit is already recorded."))
        current.state, current.result, current.note, current.done_at, current.done_by = (
            FollowUpState.DONE, result, note, now, actor)
        current.save()
        follow_up.__dict__.update(current.__dict__)
        payload: dict[str, Any] = {"follow_up": current.pk, "result": result}
        if result == FollowUpResult.PERFORMED:
            dispute.state = S.PERFORMED
            dispute.follow_ups.filter(state=FollowUpState.SCHEDULED).update(state=FollowUpState.CANCELLED)
        elif result == FollowUpResult.PARTLY:
            again = FollowUp.objects.create(dispute=dispute, agreement=current.agreement,
                                            due_at=now + timedelta(days=14), created_at=now)
            payload["next_follow_up"] = again.pk
        return payload

    def after(dispute: Dispute, event: Any) -> None:
        if result == FollowUpResult.NOT_PERFORMED:
            _notify(dispute, "dispute.not_performed", event.seq)

    _transition(actor=actor, number=follow_up.dispute.number, action=A.FOLLOW_UP, expected_version=expected_version,
                reason=note, apply=apply, after=after, reason_field="note")
    return follow_up


# -- parties -------------------------------------------------------------------------------------------------
@transaction.atomic
def party_rate(*, credentials: PartyCredentials, rating: int, comment: str = "") -> Party:
    """A party rates the mediation (1–5) once it has ended (settled, failed or referred)."""
    party = party_by_credentials(credentials)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise _invalid("rating", "out_of_range", _("A rating is a whole number from 1 to 5."))
    errors: list[ErrorDetail] = []
    comment = _text(errors, "comment", comment, limit=REASON_MAX)
    _raise(errors)
    dispute = _load_for_update(party.dispute.number)
    party = Party.objects.select_for_update().get(pk=party.pk)
    if dispute.state not in TRANSITIONS[A.RATE].sources:
        raise TransitionNotAllowed("not_rateable", _("You can rate the mediation once it has ended."))
    if party.rating is not None:
        raise Conflict("already_rated", _("You have already rated this mediation."))
    now = clock.now()
    party.rating, party.rating_comment, party.rated_at = rating, comment, now
    party.save()
    dispute.version += 1
    dispute.updated_at = now
    append_event(dispute=dispute, action=A.RATE, actor=f"party:{party.get_role_display()}", from_state=dispute.state,
                 to_state=dispute.state, now=now, payload={"party": party.pk, "rating": rating}, is_public=False)
    dispute.save()
    return party


@transaction.atomic
def party_issue_access_code(*, actor: Any, number: str, party_id: int) -> str:
    """A new access code for a party (the old one stops working); returned once, to hand over."""
    dispute = _load_for_update(number)
    _check(dispute, actor, A.ACCESS_CODE, None, "")
    party = Party.objects.select_for_update().filter(pk=party_id, dispute=dispute).first()
    if party is None:
        raise NotFound("not_found", _("No such party."))
    if not party.phone:
        raise _invalid("phone", "phone_required", _("A party needs a phone number to use the resident portal."))
    now = clock.now()
    code = _issue_code(party, now)
    party.save()
    append_event(dispute=dispute, action=A.ACCESS_CODE, actor=actor, from_state=dispute.state, to_state=dispute.state,
                 now=now, payload={"party": party.pk}, is_public=False)
    dispute.updated_at = now
    dispute.save()
    return code


def party_contacts_reveal(*, actor: Any, number: str, reason: str) -> list[PartyContact]:
    """The parties' contact data in full, for a centre with VIEW_PERSONAL_DATA or the assigned
    mediator, with the reason logged (core.PersonalDataAccess)."""
    from fengqiao.core.models import PersonalDataAccess

    dispute = Dispute.objects.select_related("mediator").filter(number=number).first()
    perms = permissions_for(actor)
    if dispute is None or not _visible(perms, actor, dispute):
        raise NotFound("not_found", _("No such dispute."))
    is_mediator = dispute.mediator is not None and dispute.mediator.user_id == getattr(actor, "pk", None)
    if not perms.can(Action.VIEW_PERSONAL_DATA, dispute) and not is_mediator:
        raise Forbidden("forbidden", _("Your role does not see the parties' contact data."))
    errors: list[ErrorDetail] = []
    reason = _text(errors, "reason", reason, required=True, limit=300,
                   message=_("Say why you need the parties' contact data."))
    _raise(errors)
    PersonalDataAccess.objects.create(actor=actor, subject=f"dispute {dispute.number}",
                                      fields="parties: name,phone,id_number,address,representative", reason=reason,
                                      at=clock.now())
    return [PartyContact(id=p.pk, role=p.role, kind=p.kind, name=p.name, phone=p.phone, id_number=p.id_number,
                         address=p.address, representative=p.representative) for p in dispute.parties.all()]


# -- periodic jobs ----------------------------------------------------------------------------------------------
@transaction.atomic
def remind_due_follow_ups() -> int:
    """Tell the mediator and the centre of follow-up visits that are due, once each (idempotent:
    a reminded visit carries `reminded_at`). Also reminds the parties of the judicial confirmation
    window 7 days before it closes. Returns how many reminders were written."""
    now = clock.now()
    count = 0
    due = (FollowUp.objects.select_for_update(skip_locked=True, of=("self",))
           .filter(state=FollowUpState.SCHEDULED, reminded_at__isnull=True, due_at__lte=now)
           .select_related("dispute", "dispute__type", "dispute__mediator", "dispute__mediator__user")[:500])
    for follow_up in due:
        follow_up.reminded_at = now
        follow_up.save(update_fields=["reminded_at"])
        _notify(follow_up.dispute, "dispute.follow_up_due", f"fu{follow_up.pk}",
                due=timezone.localtime(follow_up.due_at).strftime("%Y-%m-%d"))
        count += 1
    soon = timezone.localdate(now) + timedelta(days=7)
    agreements = (Agreement.objects.select_for_update(skip_locked=True, of=("self",))
                  .filter(state=AgreementState.EFFECTIVE, confirmation_reminded_at__isnull=True,
                          confirmation_deadline__lte=soon, confirmation_deadline__gte=timezone.localdate(now))
                  .select_related("dispute", "dispute__type", "dispute__mediator", "dispute__mediator__user")[:500])
    for agreement in agreements:
        agreement.confirmation_reminded_at = now
        agreement.save(update_fields=["confirmation_reminded_at"])
        assert agreement.confirmation_deadline is not None
        _notify(agreement.dispute, "dispute.confirmation_reminder", f"jc{agreement.pk}",
                deadline=agreement.confirmation_deadline.isoformat())
        count += 1
    return count
