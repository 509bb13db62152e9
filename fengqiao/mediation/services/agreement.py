"""The agreement: drafting (a new PDF and hash), signing against the hash, coming into force."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.mediation.events import append_event
from fengqiao.mediation.models import (
    Agreement,
    AgreementSignature,
    AgreementState,
    Dispute,
    FollowUp,
    Outcome,
    Party,
    SignerKind,
)
from fengqiao.mediation.services.common import (
    CONFIRMATION_DAYS,
    SIGNATURE_IMAGE_MAX,
    SIGNATURE_TEXT_MAX,
    A,
    AgreementContent,
    PartyCredentials,
    S,
    _end,
    _load_for_update,
    _notify,
    _raise,
    _text,
    _transition,
    _visible,
    party_by_credentials,
)
from fengqiao.org.permissions import Action, permissions_for


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
