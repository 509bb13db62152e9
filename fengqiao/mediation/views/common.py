"""What the mediation pages share: access checks, 404s, plain-language next steps, form errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.mediation import selectors
from fengqiao.mediation.models import Dispute
from fengqiao.mediation.states import DisputeState as S
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.forms import apply_domain_error

STAFF_ACTIONS = (Action.MANAGE_DISPUTES, Action.MEDIATE)


def require_centre(user: Any) -> None:
    if not permissions_for(user).may_ever(Action.MANAGE_DISPUTES):
        raise PermissionDenied


def require_mediator(user: Any) -> None:
    if not permissions_for(user).may_ever(Action.MEDIATE):
        raise PermissionDenied


def require_staff(user: Any) -> None:
    perms = permissions_for(user)
    if not any(perms.may_ever(a) for a in STAFF_ACTIONS):
        raise PermissionDenied


def dispute_or_404(actor: Any, number: str) -> Dispute:
    try:
        return selectors.dispute_get(actor=actor, number=number)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx)


def put_error(form: forms.BaseForm, exc: DomainError, field_map: dict[str, str] | None = None) -> None:
    """The domain's error on the form's field (or the form), in the user's language."""
    apply_domain_error(form, exc, field_map)


def is_overdue(dispute: Dispute) -> bool:
    now = clock.now()
    if dispute.state in (S.REGISTERED, S.ASSESSED):
        return bool(dispute.assign_due_at and dispute.assign_due_at < now)
    if dispute.state == S.ASSIGNED and dispute.session_due_at and dispute.session_due_at < now:
        return True
    return dispute.state in (S.ASSIGNED, S.IN_MEDIATION, S.AGREED) and bool(
        dispute.conclude_due_at and dispute.conclude_due_at < now)


def next_deadline(dispute: Dispute) -> tuple[str, Any] | None:
    """(what, when) of the deadline that matters in the dispute's state, for lists."""
    if dispute.state in (S.REGISTERED, S.ASSESSED):
        return (_("assign by"), dispute.assign_due_at) if dispute.assign_due_at else None
    if dispute.state == S.ASSIGNED and dispute.session_due_at:
        return _("first session by"), dispute.session_due_at
    if dispute.state in (S.ASSIGNED, S.IN_MEDIATION, S.AGREED) and dispute.conclude_due_at:
        return _("conclude by"), dispute.conclude_due_at
    return None


def staff_next_step(dispute: Dispute) -> str:
    """A sentence saying what should happen next, for the staff pages."""
    steps = {
        S.REGISTERED: _("Assess the risk with the checklist."),
        S.ASSESSED: _("Choose a mediator from the proposals and assign them."),
        S.ASSIGNED: _("The mediator schedules the first session."),
        S.IN_MEDIATION: _("Hold the sessions and record them; when the parties agree, draft the agreement."),
        S.AGREED: _("The parties and the mediator sign the agreement; it is in force when all have signed."),
        S.EFFECTIVE: _("The agreement is in force. Visit the parties after the performance deadline and record "
                       "whether it was performed."),
        S.PERFORMED: _("The agreement was performed. Nothing more to do."),
        S.FAILED: _("Mediation failed: the centre refers the dispute on, or reopens mediation."),
        S.REFERRED: _("Referred elsewhere with the file. Nothing more to do here."),
        S.WITHDRAWN: _("Withdrawn. Nothing more to do."),
    }
    return steps.get(S(dispute.state), "")


def party_progress(state: str) -> str:
    """Where the dispute stands, in plain words for a party."""
    texts = {
        S.REGISTERED: _("Your dispute has been registered. The centre is looking at it."),
        S.ASSESSED: _("The centre is choosing a mediator for your dispute."),
        S.ASSIGNED: _("A mediator has been assigned. You will be told when the first meeting is."),
        S.IN_MEDIATION: _("Mediation is under way. Come to the meetings listed below."),
        S.AGREED: _("An agreement has been written. Read it carefully; sign it if you agree."),
        S.EFFECTIVE: _("The agreement is in force. Do what it says by its deadline; the centre will check with "
                       "you afterwards."),
        S.PERFORMED: _("The agreement has been carried out. The matter is settled."),
        S.FAILED: _("Mediation did not settle the dispute. The centre will tell you where it can go next."),
        S.REFERRED: _("The dispute was passed on to another body, which will contact you."),
        S.WITHDRAWN: _("The dispute was withdrawn."),
    }
    return texts.get(S(state), "")


PARTY_STEPS = [
    (S.REGISTERED, "registered"),
    (S.ASSIGNED, "mediator"),
    (S.IN_MEDIATION, "meetings"),
    (S.AGREED, "agreement"),
    (S.EFFECTIVE, "in force"),
    (S.PERFORMED, "performed"),
]


def progress_steps(state: str) -> list[dict[str, Any]]:
    """The steps of a settled path with the current one marked (for the party's progress bar)."""
    labels = {
        S.REGISTERED: _("Registered"), S.ASSIGNED: _("Mediator"), S.IN_MEDIATION: _("Meetings"),
        S.AGREED: _("Agreement"), S.EFFECTIVE: _("In force"), S.PERFORMED: _("Carried out"),
    }
    order = [S.REGISTERED, S.ASSESSED, S.ASSIGNED, S.IN_MEDIATION, S.AGREED, S.EFFECTIVE, S.PERFORMED]
    position = order.index(S(state)) if state in order else -1
    out = []
    for step, _key in PARTY_STEPS:
        index = order.index(step)
        out.append({"label": labels[step], "done": position > index or (position == index and step == S.PERFORMED),
                    "current": position == index or (step == S.REGISTERED and state == S.ASSESSED)})
    return out


def local(dt: Any) -> Any:
    return timezone.localtime(dt) if dt else dt
