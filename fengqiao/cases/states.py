"""The case loop as one transition table (DESIGN §7).

Each action names the states it may start from, the state it leads to (None: the state does not
change, or the service decides, as verify does), and the permission actions of which the actor
needs one over the case. Services look their action up here; nothing else decides transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.org.permissions import Action as P


class CaseState(models.TextChoices):
    REPORTED = "reported", _("reported")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")
    DISPATCHED = "dispatched", _("dispatched")
    IN_PROGRESS = "in_progress", _("in progress")
    HANDLED = "handled", _("handled")
    CLOSED = "closed", _("closed")
    RATED = "rated", _("rated")
    SUSPENDED = "suspended", _("suspended")
    PARKED = "parked", _("parked")
    MERGED = "merged", _("merged")


S = CaseState
OPEN_STATES = frozenset({S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.SUSPENDED, S.PARKED})
FINAL_STATES = frozenset({S.REJECTED, S.CLOSED, S.RATED, S.MERGED})
# states in which the case's clock runs (parked and suspended cases wait; closed ones are done)
CLOCK_STATES = frozenset({S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.HANDLED})
WORKING = frozenset({S.DISPATCHED, S.IN_PROGRESS})


class CaseAction(models.TextChoices):
    REPORT = "report", _("report")
    CLOSE_ON_SPOT = "close_on_spot", _("close on the spot")
    ACCEPT = "accept", _("accept")
    REJECT = "reject", _("reject")
    RECATEGORISE = "recategorise", _("correct the category")
    MERGE = "merge", _("merge as duplicate")
    DISPATCH = "dispatch", _("dispatch")
    RETURN = "return", _("return to the command centre")
    START = "start", _("start handling")
    REPORT_BACK = "report_back", _("report back")
    VERIFY = "verify", _("verify")
    RATE = "rate", _("rate")
    REOPEN = "reopen", _("reopen")
    REQUEST_EXTENSION = "request_extension", _("request an extension")
    DECIDE_EXTENSION = "decide_extension", _("decide on an extension")
    SUSPEND = "suspend", _("suspend")
    RESUME = "resume", _("resume")
    PARK = "park", _("park")
    UNPARK = "unpark", _("take out of parking")
    ESCALATE = "escalate", _("escalate")
    REQUEST_ASSIST = "request_assist", _("ask a department to assist")
    ASSIST_REPORT = "assist_report", _("report the assisting part")
    FLAG = "flag", _("flag for supervision")
    REMIND = "remind", _("send a reminder")
    WARN = "warn", _("deadline warning")
    OVERDUE = "overdue", _("deadline passed")
    ANSWER = "answer", _("answer the resident")


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseState]
    target: CaseState | None
    permissions: tuple[P, ...]
    needs_reason: bool = False


A = CaseAction
SUPERVISABLE = OPEN_STATES
TRANSITIONS: dict[CaseAction, Transition] = {
    A.ACCEPT: Transition(frozenset({S.REPORTED}), S.ACCEPTED, (P.INTAKE_CASE,)),
    A.REJECT: Transition(frozenset({S.REPORTED}), S.REJECTED, (P.INTAKE_CASE,), needs_reason=True),
    A.RECATEGORISE: Transition(frozenset({S.REPORTED, S.ACCEPTED}), None, (P.INTAKE_CASE,)),
    A.MERGE: Transition(frozenset({S.REPORTED, S.ACCEPTED}), S.MERGED, (P.INTAKE_CASE,)),
    A.DISPATCH: Transition(frozenset({S.ACCEPTED}), S.DISPATCHED, (P.DISPATCH_CASE,)),
    A.RETURN: Transition(frozenset({S.DISPATCHED}), S.ACCEPTED, (P.HANDLE_CASE,), needs_reason=True),
    A.START: Transition(frozenset({S.DISPATCHED}), S.IN_PROGRESS, (P.HANDLE_CASE,)),
    A.REPORT_BACK: Transition(frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.HANDLED, (P.HANDLE_CASE,)),
    A.VERIFY: Transition(frozenset({S.HANDLED}), None, (P.VERIFY_CASE, P.INTAKE_CASE)),
    A.RATE: Transition(frozenset({S.CLOSED}), S.RATED, (P.INTAKE_CASE, P.REPORT_CASE)),
    A.REOPEN: Transition(frozenset({S.CLOSED, S.RATED}), S.DISPATCHED, (P.INTAKE_CASE, P.SUPERVISE_CASE),
                         needs_reason=True),
    A.REQUEST_EXTENSION: Transition(WORKING, None, (P.HANDLE_CASE,), needs_reason=True),
    A.DECIDE_EXTENSION: Transition(WORKING, None, (P.SUPERVISE_CASE,)),
    A.SUSPEND: Transition(frozenset({S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS}), S.SUSPENDED, (P.SUPERVISE_CASE,),
                          needs_reason=True),
    A.RESUME: Transition(frozenset({S.SUSPENDED}), None, (P.SUPERVISE_CASE,)),
    A.PARK: Transition(frozenset({S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED}), S.PARKED,
                       (P.SUPERVISE_CASE,), needs_reason=True),
    A.UNPARK: Transition(frozenset({S.PARKED}), S.ACCEPTED, (P.SUPERVISE_CASE,)),
    A.ESCALATE: Transition(frozenset({S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS}), S.ACCEPTED,
                           (P.SUPERVISE_CASE, P.DISPATCH_CASE, P.HANDLE_CASE), needs_reason=True),
    A.REQUEST_ASSIST: Transition(WORKING, None, (P.DISPATCH_CASE, P.HANDLE_CASE)),
    A.ASSIST_REPORT: Transition(WORKING, None, (P.HANDLE_CASE,)),
    A.FLAG: Transition(SUPERVISABLE, None, (P.SUPERVISE_CASE,)),
    A.REMIND: Transition(SUPERVISABLE, None, (P.SUPERVISE_CASE,)),
    # the answer to the resident may be given, or given again, at any point but after a merge
    A.ANSWER: Transition(OPEN_STATES | {S.REJECTED, S.CLOSED, S.RATED}, None,
                         (P.INTAKE_CASE, P.DISPATCH_CASE, P.HANDLE_CASE), needs_reason=True),
}

# The stage whose deadline runs in each state.
STAGE_OF_STATE = {
    S.REPORTED: "accept",
    S.ACCEPTED: "dispatch",
    S.DISPATCHED: "handle",
    S.IN_PROGRESS: "handle",
    S.HANDLED: "verify",
}

# Actions of the lead department only: an assisting department reports its own part instead.
# The answer to the resident comes from the lead department or the command centre, not an assistant.
LEAD_ONLY = frozenset({A.START, A.REPORT_BACK, A.RETURN, A.REQUEST_EXTENSION, A.REQUEST_ASSIST, A.ESCALATE,
                       A.ANSWER})


def may_act(perms, case, action: CaseAction) -> bool:
    """Whether the resolver `perms` allows `action` on `case` (its state aside)."""
    from fengqiao.org.permissions import Target

    target = case
    if action in LEAD_ONLY:
        target = Target(area_code=case.area_code,
                        department_ids=frozenset({case.lead_department_id} if case.lead_department_id else ()))
    return any(perms.can(p, target) for p in TRANSITIONS[action].permissions)
