"""Intake and risk: register a dispute (or make one from a case), correct it, assess its risk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.crypto import blind_index
from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    NotFound,
)
from fengqiao.geo.models import Grid, Region
from fengqiao.mediation import risk
from fengqiao.mediation.events import append_event
from fengqiao.mediation.models import (
    Dispute,
    DisputeIdempotencyKey,
    DisputeType,
    IntakeMode,
    Level,
    Party,
    PartyKind,
    PartyRole,
    RiskAssessment,
    RiskLevel,
    RiskRule,
    RiskThreshold,
)
from fengqiao.mediation.numbering import next_dispute_number
from fengqiao.mediation.services.common import (
    AMOUNT_MAX,
    NAME_MAX,
    PARTIES_MAX,
    REASON_MAX,
    REFERRING_MODES,
    TITLE_MAX,
    A,
    IssuedCodes,
    PartyIn,
    S,
    _invalid,
    _issue_code,
    _notify,
    _phone_ok,
    _raise,
    _recompute_deadlines,
    _text,
    _transition,
)
from fengqiao.org.permissions import Action, Target, permissions_for


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
