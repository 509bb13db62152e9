"""The dispute page for staff (centre and the assigned mediator) and its actions.

The page shows what the actor may do now (selectors.allowed_actions) as forms; each form posts to
one action, which calls one service with the version the page showed. A domain error shows the
page again with the form as typed and the error beside the field; success redirects back with a
notice. Secrets (a new access code, revealed contact data) are shown once, in the answer itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.core import clock
from fengqiao.core.errors import Conflict, DomainError, InvalidInput, NotFound
from fengqiao.mediation import matching, selectors, services
from fengqiao.mediation.forms import (
    AccessCodeForm,
    AgreementForm,
    AssessForm,
    AssignForm,
    CancelSessionForm,
    FollowUpForm,
    FollowUpScheduleForm,
    MediatorSignForm,
    ReasonForm,
    RecordForm,
    ReferForm,
    ReplaceForm,
    RevealForm,
    ScheduleForm,
)
from fengqiao.mediation.models import (
    Dispute,
    FollowUpState,
    Mediator,
    ReferralRoute,
    Room,
    SessionMode,
    SessionState,
    SignerKind,
)
from fengqiao.mediation.states import DisputeAction as A
from fengqiao.mediation.views.common import (
    dispute_or_404,
    is_overdue,
    put_error,
    require_staff,
    staff_next_step,
)
from fengqiao.org.permissions import Action, permissions_for

MORE_MAX = 10

EXCLUSION_TEXT = {
    matching.CONFLICT: gettext_lazy("conflict of interest: linked to a party"),
    matching.REFUSED: gettext_lazy("a party asked for another mediator"),
    matching.UNAVAILABLE: gettext_lazy("not available"),
    matching.BUSY: gettext_lazy("busy or away at that time"),
    matching.FULL: gettext_lazy("has as many open disputes as they can take"),
}
PART_TEXT = {
    "specialty": gettext_lazy("specialty"),
    "area": gettext_lazy("area"),
    "load": gettext_lazy("load"),
    "languages": gettext_lazy("languages"),
    "free_day": gettext_lazy("free that day"),
}

FORMS: dict[str, type[forms.Form]] = {
    "assess": AssessForm, "assign": AssignForm, "replace_mediator": ReplaceForm, "schedule": ScheduleForm,
    "record_session": RecordForm, "cancel_session": CancelSessionForm, "sign": MediatorSignForm,
    "fail": ReasonForm, "refer": ReferForm, "withdraw": ReasonForm, "reopen": ReasonForm,
    "schedule_follow_up": FollowUpScheduleForm, "follow_up": FollowUpForm, "access_code": AccessCodeForm,
    "reveal": RevealForm,
}

SUCCESS = {
    "assess": gettext_lazy("Risk assessed."),
    "assign": gettext_lazy("Mediator assigned."),
    "replace_mediator": gettext_lazy("Mediator replaced."),
    "schedule": gettext_lazy("Session scheduled; the parties and the mediator are told."),
    "record_session": gettext_lazy("Session recorded."),
    "cancel_session": gettext_lazy("Session cancelled."),
    "sign": gettext_lazy("You signed the agreement."),
    "fail": gettext_lazy("Recorded that mediation failed."),
    "refer": gettext_lazy("Referred, with the file handed over."),
    "withdraw": gettext_lazy("Dispute withdrawn."),
    "reopen": gettext_lazy("Mediation reopened."),
    "schedule_follow_up": gettext_lazy("Follow-up visit scheduled."),
    "follow_up": gettext_lazy("Follow-up visit recorded."),
}


def _reasons_text(assessment: Any) -> list[dict[str, Any]]:
    if assessment is None:
        return []
    zh = (get_language() or "zh-hans").startswith("zh")
    return [{"text": r.get("text_zh") if zh else r.get("text_en") or r.get("text_zh"), "points": r.get("points"),
             "floor": r.get("floor")} for r in assessment.reasons or []]


def _proposals(actor: Any, dispute: Dispute, more: int) -> dict[str, Any]:
    """The proposed mediators with their scores and why, and those left out with the reason."""
    found = selectors.match_mediators(actor=actor, number=dispute.number, limit=3 + more)
    rows = []
    for match in found.result.proposals:
        mediator = found.mediators.get(match.candidate.id)
        rows.append({"id": match.candidate.id, "name": match.candidate.name, "score": match.score,
                     "organisation": mediator.organisation.name if mediator else "",
                     "load": match.candidate.open_load, "capacity": match.candidate.capacity,
                     "parts": [(str(PART_TEXT.get(k, k)), v) for k, v in match.parts.items()]})
    excluded = [{"name": e.candidate.name, "reason": str(EXCLUSION_TEXT.get(e.reason, e.reason)),
                 "conflict": e.reason == matching.CONFLICT} for e in found.result.excluded]
    return {"rows": rows, "excluded": excluded, "more": more + 1 if len(found.result.ranked) > len(rows) else None,
            "conflicts": sum(1 for e in excluded if e["conflict"])}


def _context(request: HttpRequest, dispute: Dispute, *, bound: tuple[str, forms.Form, Any] | None = None,
             alert: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    actor = request.user
    perms = permissions_for(actor)
    allowed = {a.value for a in selectors.allowed_actions(actor=actor, dispute=dispute)}
    is_centre = perms.can(Action.MANAGE_DISPUTES, dispute)
    is_mine = dispute.mediator is not None and dispute.mediator.user_id == actor.pk
    if is_centre and dispute.state in {"registered", "assessed", "assigned", "in_mediation", "agreed", "effective",
                                       "failed"}:
        allowed.add("access_code")
    if perms.can(Action.VIEW_PERSONAL_DATA, dispute) or is_mine:
        allowed.add("reveal")
    version = {"version": dispute.version}
    assessment = selectors.latest_assessment(dispute=dispute)
    rules = selectors.risk_checklist() if "assess" in allowed else []
    initial_answers = {}
    if assessment is not None:
        initial_answers = {f"answer_{k}": v for k, v in (assessment.answers or {}).items()}
    built: dict[str, Any] = {
        "assess": AssessForm(initial={**version, **initial_answers}, rules=rules),
        "assign": AssignForm(initial=version), "replace_mediator": ReplaceForm(initial=version),
        "schedule": ScheduleForm(initial={**version, "mode": SessionMode.IN_PERSON}),
        "fail": ReasonForm(initial=version), "refer": ReferForm(initial={**version, "route": ReferralRoute.LITIGATION}),
        "withdraw": ReasonForm(initial=version), "reopen": ReasonForm(initial=version),
        "schedule_follow_up": FollowUpScheduleForm(initial=version), "reveal": RevealForm(),
        "sign": MediatorSignForm(),
    }
    bound_key = None
    if bound is not None:
        built[bound[0]] = bound[1]
        bound_key = (bound[0], bound[2])
    try:
        more = max(0, min(int(request.GET.get("more", "0")), MORE_MAX))
    except ValueError:
        more = 0
    proposals = _proposals(actor, dispute, more) if is_centre and allowed & {"assign", "replace_mediator"} else None
    agreement = selectors.current_agreement(dispute=dispute)
    signatures = selectors.signing_state(agreement=agreement) if agreement else []
    mediator_signed = any(s.kind == SignerKind.MEDIATOR and s.signed_at for s in signatures)
    sessions = selectors.dispute_sessions(dispute=dispute)
    now = clock.now()
    for item in sessions:
        session: Any = item
        session.present_ids = {a.party_id for a in session.attendance.all() if a.present}
        session.recordable = "record_session" in allowed and session.state != SessionState.CANCELLED \
            and session.starts_at <= now
        session.cancellable = "cancel_session" in allowed and session.state == SessionState.SCHEDULED
    follow_ups = selectors.follow_ups(dispute=dispute)
    parties = selectors.dispute_parties(actor=actor, dispute=dispute)
    context = {
        "dispute": dispute, "allowed": allowed, "is_centre": is_centre, "is_mine": is_mine, "forms": built,
        "bound_key": bound_key, "alert": alert, "overdue": is_overdue(dispute), "next_step": staff_next_step(dispute),
        "parties": parties, "timeline": _timeline(dispute),
        "assessment": assessment, "reasons": _reasons_text(assessment), "proposals": proposals,
        "sessions": sessions, "rooms": selectors.rooms_for(dispute=dispute) if "schedule" in allowed else [],
        "modes": SessionMode.choices, "agreement": agreement, "signatures": signatures,
        "may_sign": "sign" in allowed and agreement is not None and agreement.state == "draft"
        and not mediator_signed and is_mine,
        "follow_ups": follow_ups, "open_follow_ups": [f for f in follow_ups if f.state == FollowUpState.SCHEDULED],
        "referrals": list(dispute.referrals.order_by("-referred_at")), "routes": ReferralRoute.choices,
        "organisations": selectors.organisations_list(actor=actor) if "refer" in allowed else [],
        "follow_up_results": FollowUpForm.base_fields["result"].choices,  # type: ignore[attr-defined]
        "default_start": timezone.localtime(now + timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                                              microsecond=0),
    }
    context.update(extra or {})
    return context


def _timeline(dispute: Dispute) -> list[Any]:
    """The events with who acted, in words: a user's name, a party's role, or the system."""
    events: list[Any] = selectors.dispute_timeline(dispute=dispute)
    for event in events:
        label = event.actor_label or ""
        if event.actor is not None:
            event.who = event.actor.get_full_name() or event.actor.get_username()
        elif label.startswith("party:"):
            event.who = label[len("party:"):]
        elif label in ("", "system"):
            event.who = _("automatically")
        else:
            event.who = label
    return events


@never_cache
@login_required
@require_GET
def dispute_page(request: HttpRequest, number: str) -> HttpResponse:
    require_staff(request.user)
    dispute = dispute_or_404(request.user, number)
    return render(request, "mediation/dispute.html", _context(request, dispute))


def _mediator_for(pk: int) -> Mediator:
    mediator = Mediator.objects.select_related("organisation", "user").filter(pk=pk).first()
    if mediator is None:
        raise InvalidInput("invalid_choice", _("Choose a mediator."), field="mediator")
    return mediator


def _perform(action: str, request: HttpRequest, dispute: Dispute, form: forms.Form) -> Any:
    actor, data = request.user, form.cleaned_data
    common: dict[str, Any] = {"actor": actor, "number": dispute.number, "expected_version": data.get("version")}
    if action == "assess":
        assert isinstance(form, AssessForm)
        return services.dispute_assess(answers=form.answers(), note=data["note"], **common)
    if action == "assign":
        return services.dispute_assign(mediator=_mediator_for(data["mediator"]), reason=data.get("reason") or "",
                                       **common)
    if action == "replace_mediator":
        return services.dispute_replace_mediator(mediator=_mediator_for(data["mediator"]), reason=data["reason"],
                                                 **common)
    if action == "schedule":
        room = None
        if data.get("room"):
            room = Room.objects.filter(pk=data["room"]).first()
            if room is None:
                raise InvalidInput("invalid_room", _("Choose a room of the mediation body."), field="room")
        return services.session_schedule(starts_at=data["starts_at"], ends_at=data["ends_at"], mode=data["mode"],
                                         room=room, place=data["place"], meeting_link=data["meeting_link"], **common)
    if action == "record_session":
        assert isinstance(form, RecordForm)
        party_ids = list(dispute.parties.values_list("pk", flat=True))
        _own_session(dispute, data["session"])
        return services.session_record(actor=actor, session_id=data["session"], minutes=data["minutes"],
                                       attendance=form.attendance(request.POST, party_ids),
                                       expected_version=data["version"])
    if action == "cancel_session":
        _own_session(dispute, data["session"])
        return services.session_cancel(actor=actor, session_id=data["session"], reason=data["reason"],
                                       expected_version=data["version"])
    if action == "sign":
        if not dispute.agreements.filter(pk=data["agreement"]).exists():
            raise NotFound("not_found", _("No such agreement."))
        return services.agreement_sign(signer=actor, agreement=data["agreement"], shown_hash=data["shown_hash"],
                                       signature_text=data["signature_text"],
                                       signature_image_png=data["signature_image"])
    if action == "fail":
        return services.dispute_fail(reason=data["reason"], **common)
    if action == "withdraw":
        return services.dispute_withdraw(reason=data["reason"], **common)
    if action == "reopen":
        return services.dispute_reopen(reason=data["reason"], **common)
    if action == "refer":
        organisation = None
        if data.get("organisation"):
            organisation = next((o for o in selectors.organisations_list(actor=actor)
                                 if o.pk == data["organisation"]), None)
            if organisation is None:
                raise InvalidInput("invalid_choice", _("Choose a mediation body."), field="organisation")
        return services.dispute_refer(route=data["route"], body=data["body"], reason=data["reason"],
                                      organisation=organisation, **common)
    if action == "schedule_follow_up":
        return services.follow_up_schedule(due_at=data["due_at"], **common)
    if action == "follow_up":
        if not dispute.follow_ups.filter(pk=data["follow_up"]).exists():
            raise NotFound("not_found", _("No such follow-up visit."))
        return services.follow_up_record(actor=actor, follow_up_id=data["follow_up"], result=data["result"],
                                         note=data["note"], expected_version=data["version"])
    raise Http404


def _own_session(dispute: Dispute, session_id: int) -> None:
    if not dispute.sessions.filter(pk=session_id).exists():
        raise NotFound("not_found", _("No such session."))


BOUND_ID = {"record_session": "session", "cancel_session": "session", "follow_up": "follow_up"}


@never_cache
@login_required
@require_POST
def dispute_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """One action on the dispute with the version the page showed."""
    require_staff(request.user)
    if action not in FORMS:
        raise Http404
    actor = request.user
    dispute = dispute_or_404(actor, number)
    extra: dict[str, Any] = {}
    if action == "assess":
        extra["rules"] = selectors.risk_checklist()
    form = FORMS[action](request.POST, **extra)
    form.present_list = request.POST.getlist("present")  # type: ignore[attr-defined]
    alert, status = "", 422
    bound_id = request.POST.get(BOUND_ID.get(action, ""), "")
    if form.is_valid():
        if action == "access_code":
            return _access_code(request, dispute, form)
        if action == "reveal":
            return _reveal(request, dispute, form)
        try:
            _perform(action, request, dispute, form)
        except DomainError as exc:
            if isinstance(exc, NotFound) and not exc.errors[0].field:
                raise Http404(str(exc)) from exc
            status = 422 if isinstance(exc, NotFound) else exc.status
            if isinstance(exc, Conflict) and exc.code == "stale_version":
                alert = _("Someone changed this dispute while you had it open. It is shown below as it is now; "
                          "check it and try again.")
            else:
                fields = set(form.fields) - {"version"}
                if not any((e.field or "") in fields for e in exc.errors):
                    alert = "; ".join(str(e.message) for e in exc.errors)
                put_error(form, exc, {"answers": "note", "signature_image": "signature_text",
                                      "session": "minutes" if action == "record_session" else "reason",
                                      "attendance": "minutes", "mediator": "mediator"})
        else:
            messages.success(request, str(SUCCESS[action]))
            return redirect("mediation:dispute", number=number)
    elif "version" in form.errors:
        alert = " ".join(str(e) for e in form.errors["version"])
    dispute = dispute_or_404(actor, number)
    return render(request, "mediation/dispute.html",
                  _context(request, dispute, bound=(action, form, _int(bound_id)), alert=alert), status=status)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _access_code(request: HttpRequest, dispute: Dispute, form: forms.Form) -> HttpResponse:
    party_id = form.cleaned_data["party"]
    try:
        code = services.party_issue_access_code(actor=request.user, number=dispute.number, party_id=party_id)
    except DomainError as exc:
        if isinstance(exc, NotFound) and not exc.errors[0].field:
            raise Http404(str(exc)) from exc
        dispute = dispute_or_404(request.user, dispute.number)
        return render(request, "mediation/dispute.html",
                      _context(request, dispute, alert="; ".join(str(e.message) for e in exc.errors)),
                      status=exc.status)
    dispute = dispute_or_404(request.user, dispute.number)
    party = next((p for p in selectors.dispute_parties(actor=request.user, dispute=dispute) if p.id == party_id), None)
    return render(request, "mediation/dispute.html",
                  _context(request, dispute, extra={"issued": {"party": party, "code": code}}))


def _reveal(request: HttpRequest, dispute: Dispute, form: forms.Form) -> HttpResponse:
    try:
        contacts = services.party_contacts_reveal(actor=request.user, number=dispute.number,
                                                  reason=form.cleaned_data["reason"])
    except DomainError as exc:
        if isinstance(exc, NotFound) and not exc.errors[0].field:
            raise Http404(str(exc)) from exc
        put_error(form, exc)
        return render(request, "mediation/dispute.html", _context(request, dispute, bound=("reveal", form, None)),
                      status=exc.status)
    return render(request, "mediation/dispute.html", _context(request, dispute, extra={"contacts": contacts}))


# -- the agreement ------------------------------------------------------------------------------------------
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def draft(request: HttpRequest, number: str) -> HttpResponse:
    """Write or rewrite the agreement (人民调解法 Art. 29 fields), starting from the template or the
    current text. Saving renders the PDF, and the parties are told it is ready to sign."""
    require_staff(request.user)
    actor = request.user
    dispute = dispute_or_404(actor, number)
    allowed = {a.value for a in selectors.allowed_actions(actor=actor, dispute=dispute)}
    if A.DRAFT.value not in allowed:
        raise Http404(_("You cannot draft the agreement of this dispute now."))
    current = selectors.current_agreement(dispute=dispute)
    status, alert = 200, ""
    if request.method == "POST":
        form = AgreementForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            content = services.AgreementContent(
                facts=d["facts"], points_in_dispute=d["points_in_dispute"], responsibilities=d["responsibilities"],
                obligations=d["obligations"], performance_manner=d["performance_manner"],
                performance_deadline=d["performance_deadline"], other_terms=d["other_terms"])
            try:
                agreement = services.agreement_draft(actor=actor, number=number, content=content,
                                                     expected_version=d["version"])
            except DomainError as exc:
                if isinstance(exc, NotFound) and not exc.errors[0].field:
                    raise Http404(str(exc)) from exc
                status = exc.status
                if isinstance(exc, Conflict) and exc.code == "stale_version":
                    alert = _("Someone changed this dispute while you had it open. Check the text and save again.")
                    data = request.POST.copy()
                    data["version"] = str(dispute.version)
                    form = AgreementForm(data)
                    form.is_valid()
                else:
                    put_error(form, exc)
            else:
                messages.success(request, _("Agreement saved (revision %(n)s). The parties are told it is ready "
                                            "to sign.") % {"n": agreement.revision})
                return redirect("mediation:dispute", number=number)
        else:
            status = 422
    else:
        if current is not None and current.state == "draft":
            source: Any = current
        else:
            source = services.agreement_template(dispute=dispute)
        form = AgreementForm(initial={
            "version": dispute.version, "facts": source.facts, "points_in_dispute": source.points_in_dispute,
            "responsibilities": source.responsibilities, "obligations": source.obligations,
            "performance_manner": source.performance_manner, "performance_deadline": source.performance_deadline,
            "other_terms": source.other_terms})
    signatures = selectors.signing_state(agreement=current) if current is not None and current.state == "draft" else []
    return render(request, "mediation/draft.html", {
        "dispute": dispute, "form": form, "agreement": current, "alert": alert,
        "parties": selectors.dispute_parties(actor=actor, dispute=dispute),
        "signed_any": any(s.signed_at for s in signatures)}, status=status)


def _pdf(data: bytes, filename: str, digest: str = "") -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    if digest:
        response["X-Content-SHA256"] = digest
    return response


@never_cache
@login_required
@require_GET
def agreement_pdf(request: HttpRequest, number: str, agreement_id: int) -> HttpResponse:
    require_staff(request.user)
    dispute = dispute_or_404(request.user, number)
    if not dispute.agreements.filter(pk=agreement_id).exists():
        raise Http404
    try:
        data, filename = selectors.agreement_pdf(actor=request.user, agreement_id=agreement_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    import hashlib

    return _pdf(data, filename, hashlib.sha256(data).hexdigest())


@never_cache
@login_required
@require_GET
def handover_pdf(request: HttpRequest, number: str, referral_id: int) -> HttpResponse:
    """The file handed over with a referral (read through the dispute the actor may see)."""
    require_staff(request.user)
    dispute = dispute_or_404(request.user, number)
    referral = dispute.referrals.filter(pk=referral_id).first()
    if referral is None or not referral.handover_pdf:
        raise Http404
    return _pdf(referral.handover_bytes, f"{dispute.number}-handover.pdf", referral.handover_hash)


@never_cache
@login_required
@require_GET
def session_ics(request: HttpRequest, session_id: int) -> HttpResponse:
    require_staff(request.user)
    try:
        data = selectors.session_ics(actor=request.user, session_id=session_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(data, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="session-{session_id}.ics"'
    return response

