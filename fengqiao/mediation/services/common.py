"""What the mediation services share: constants, inputs, checks, the generic locked transition and
the parties' access codes."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
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
from fengqiao.mediation import risk
from fengqiao.mediation.events import append_event
from fengqiao.mediation.models import (
    DeadlineStage,
    Dispute,
    IntakeMode,
    MediationSession,
    Mediator,
    Party,
    PartyKind,
    RiskLevel,
    SessionState,
)
from fengqiao.mediation.states import TRANSITIONS, DisputeAction, DisputeState, may_act
from fengqiao.org.permissions import Action, permissions_for

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
