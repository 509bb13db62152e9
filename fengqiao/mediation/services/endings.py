"""Endings and after: failure, referral along the ladder, withdrawal, reopening, follow-up visits."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.core.errors import (
    ErrorDetail,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.mediation.models import (
    AgreementState,
    Dispute,
    FollowUp,
    FollowUpResult,
    FollowUpState,
    MediationOrganisation,
    Outcome,
    Referral,
    ReferralRoute,
)
from fengqiao.mediation.services.agreement import current_agreement
from fengqiao.mediation.services.common import (
    REASON_MAX,
    A,
    S,
    _cancel_open_sessions,
    _end,
    _invalid,
    _notify,
    _raise,
    _recompute_deadlines,
    _text,
    _transition,
)


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
