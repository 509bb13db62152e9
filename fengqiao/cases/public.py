"""Reads for residents and the public: a request found by its tracking code, its timeline in plain
words, and the public list and map of cases.

Nothing here returns personal data: no reporter name, phone or account, no address text, and the
point of a case is blurred to the middle of its grid. Free texts (the description, answers) pass
through `public_text`: long numbers are hidden, and so are the reporter's own name and address where
the text repeats them (residents write them in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from fengqiao.cases.models import Case, CaseEvent, RequestType
from fengqiao.cases.numbering import normalise_tracking_code, tracking_code_display
from fengqiao.cases.states import CaseAction, CaseState
from fengqiao.core.errors import NotFound
from fengqiao.core.masking import normalise_phone, redact_text

__all__ = ["PublicEntry", "case_for_resident", "public_timeline", "public_event_text", "public_cases",
           "public_case_card", "public_text", "tracking_code_display", "PUBLIC_STATE_GROUPS"]

A = CaseAction
S = CaseState

# What a resident sees of the state, in three words
PUBLIC_STATE_GROUPS: dict[str, frozenset[str]] = {
    "received": frozenset({S.REPORTED, S.ACCEPTED}),
    "in_hand": frozenset({S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.SUSPENDED, S.PARKED}),
    "done": frozenset({S.CLOSED, S.RATED}),
}
HIDDEN_STATES = frozenset({S.MERGED, S.REJECTED})  # not listed publicly (the reporter still sees theirs)


def public_text(text: str, case: Case) -> str:
    """A free text of `case` fit for public pages (see the module's docstring)."""
    text = redact_text(text)
    for secret in (case.reporter_name, case.address):
        secret = (secret or "").strip()
        if len(secret) >= 2:
            text = text.replace(secret, "***")
    return text


def public_state_label(state: str) -> str:
    if state in PUBLIC_STATE_GROUPS["received"]:
        return _("received")
    if state in PUBLIC_STATE_GROUPS["in_hand"]:
        return _("being handled")
    if state in PUBLIC_STATE_GROUPS["done"]:
        return _("done")
    if state == S.REJECTED:
        return _("not taken up")
    return _("combined with another report")


def case_for_resident(*, code: str, phone_last4: str = "", user: Any = None) -> Case:
    """The case with this tracking code, for the resident who made it: the code must match and,
    when the report left a phone number, its last four digits too, unless the signed-in user is the
    reporter. Any mismatch is the same "not found", so nothing tells which part was wrong."""
    not_found = NotFound("not_found", _("No request matches this code and phone number."))
    normalised = normalise_tracking_code(code)
    if not normalised:
        raise not_found
    case = (Case.objects.select_related("category", "grid", "region", "lead_department")
            .filter(tracking_code=normalised).first())
    if case is None:
        raise not_found
    if getattr(user, "is_authenticated", False) and case.reporter_user_id == user.pk:
        return case
    phone = normalise_phone(case.reporter_phone or "")
    if phone and (len(phone_last4 or "") != 4 or not phone.endswith(phone_last4)):
        raise not_found
    return case


def cases_of_resident(*, user: Any) -> QuerySet[Case]:
    """The requests a signed-in resident made, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Case.objects.none()
    return Case.objects.filter(reporter_user=user).select_related("category").order_by("-created_at")


@dataclass(frozen=True)
class PublicEntry:
    at: datetime
    action: str
    text: str  # what happened, in words a resident understands
    detail: str = ""  # the answer or the result, where there is one
    highlight: bool = False  # an answer to the resident


def _words(event: CaseEvent, departments: dict[str, str]) -> tuple[str, str] | None:
    action, payload = event.action, event.payload or {}
    if action == A.REPORT:
        return _("We received your request."), ""
    if action == A.CLOSE_ON_SPOT:
        return _("The grid worker fixed the matter on the spot."), event.reason
    if action == A.ACCEPT:
        return _("Your request was accepted and registered."), ""
    if action == A.REJECT:
        return _("Your request could not be taken up."), event.reason
    if action == A.MERGE:
        return _("Your request was combined with an earlier report of the same matter."), ""
    if action == A.DISPATCH:
        name = departments.get(str(payload.get("department", "")), "")
        return (_("Sent to %(department)s to handle.") % {"department": name} if name
                else _("Sent to the responsible department.")), ""
    if action == A.START:
        return _("Work on the matter has started."), ""
    if action == A.REPORT_BACK:
        return _("The department reports the matter handled; it is being checked on the spot."), ""
    if action == A.VERIFY:
        if payload.get("passed"):
            return _("Checked on the spot and closed."), ""
        return _("Checked on the spot: more work is needed."), ""
    if action == A.ANSWER:
        return _("Answer"), event.reason
    if action == A.RATE:
        return _("Rated %(rating)s out of 5.") % {"rating": payload.get("rating", "?")}, ""
    if action == A.REOPEN:
        return _("Reopened for review."), ""
    if action == A.ESCALATE:
        return _("Passed up a level to be handled there."), ""
    if action == A.SUSPEND:
        return _("Paused for now."), ""
    if action == A.RESUME:
        return _("Work resumed."), ""
    if action == A.PARK:
        return _("It cannot be solved right now; it stays on the list and is followed up."), ""
    if action == A.UNPARK:
        return _("Taken up again."), ""
    if action == A.DECIDE_EXTENSION and payload.get("approved"):
        return _("More time was given to handle it."), ""
    return None


def _departments(events: list[CaseEvent]) -> dict[str, str]:
    from fengqiao.org.models import Department

    codes = {str((e.payload or {}).get("department", "")) for e in events if e.action == A.DISPATCH}
    return {d.code: str(d) for d in Department.objects.filter(code__in=codes - {""})}


def _entry(event: CaseEvent, departments: dict[str, str]) -> PublicEntry | None:
    words = _words(event, departments) if event.is_public else None
    if words is None:
        return None
    text, detail = words
    return PublicEntry(at=event.created_at, action=event.action, text=text,
                       detail=public_text(detail, event.case), highlight=event.action == A.ANSWER)


def public_timeline(case: Case) -> list[PublicEntry]:
    """The case's public events in plain words, oldest first; internal steps are left out."""
    events = list(case.events.filter(is_public=True).order_by("seq"))
    for event in events:
        event.case = case
    departments = _departments(events)
    return [entry for entry in (_entry(event, departments) for event in events) if entry is not None]


def public_event_text(event: CaseEvent) -> str:
    """One event in a sentence for a resident (e-mails about a followed case); "" for internal steps."""
    entry = _entry(event, _departments([event]))
    if entry is None:
        return ""
    return f"{entry.text} {entry.detail}".strip() if entry.detail else entry.text


def public_cases(*, area_code: str | None = None, state_group: str | None = None,
                 request_type: str | None = None, category_ids: list[int] | None = None) -> QuerySet[Case]:
    """Public cases, newest first, without merged or rejected ones; slice the result to page it."""
    cases = (Case.objects.filter(is_public=True).exclude(state__in=HIDDEN_STATES)
             .select_related("category", "grid", "region").order_by("-created_at", "-pk"))
    if area_code:
        cases = cases.filter(area_code__startswith=area_code)
    if state_group in PUBLIC_STATE_GROUPS:
        cases = cases.filter(state__in=PUBLIC_STATE_GROUPS[state_group])
    if request_type in RequestType.values:
        cases = cases.filter(request_type=request_type)
    if category_ids:
        cases = cases.filter(category_id__in=category_ids)
    return cases


def blurred_point(case: Case) -> tuple[float, float] | None:
    """The middle of the case's grid (of its bounding box), never the case's own point."""
    grid = case.grid
    if grid is None:
        return None
    return round((grid.min_lon + grid.max_lon) / 2, 5), round((grid.min_lat + grid.max_lat) / 2, 5)


def public_case_card(case: Case) -> dict[str, Any]:
    """What the public may know of a case (for pages and JSON)."""
    point = blurred_point(case)
    return {
        "number": case.number,
        "request_type": case.request_type,
        "request_type_label": str(RequestType(case.request_type).label),
        "category": case.category.name,
        "state": case.state,
        "state_label": public_state_label(case.state),
        "village": case.region.name if case.region_id else "",
        "grid": case.grid.name if case.grid else "",
        "grid_code": case.grid.code if case.grid else "",
        "point": point,
        "description": public_text(case.description, case),
        "reported_at": case.created_at,
        "closed_at": case.closed_at,
        "rating": case.rating,
    }
