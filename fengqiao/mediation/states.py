"""The life of a dispute as one transition table (the mediation counterpart of cases/states.py).

    registered ─assess→ assessed ─assign→ assigned ─schedule→ in_mediation ─draft→ agreed
      agreed ─(all signed)→ effective ─follow-up: performed→ performed
      assigned | in_mediation | agreed ─fail→ failed ─refer→ referred
      effective ─follow-up: not performed→ reopen → in_mediation, or refer → referred
      any open state ─withdraw→ withdrawn

Each action names the states it may start from, the state it leads to (None: unchanged, or the
service decides), and the permission actions of which the actor needs one over the dispute.
Services look their action up here; nothing else decides transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.org.permissions import Action as P


class DisputeState(models.TextChoices):
    REGISTERED = "registered", _("registered")
    ASSESSED = "assessed", _("risk assessed")
    ASSIGNED = "assigned", _("mediator assigned")
    IN_MEDIATION = "in_mediation", _("in mediation")
    AGREED = "agreed", _("agreement being signed")
    EFFECTIVE = "effective", _("agreement in force")
    PERFORMED = "performed", _("performed")
    FAILED = "failed", _("mediation failed")
    REFERRED = "referred", _("referred")
    WITHDRAWN = "withdrawn", _("withdrawn")


S = DisputeState
OPEN_STATES = frozenset({S.REGISTERED, S.ASSESSED, S.ASSIGNED, S.IN_MEDIATION, S.AGREED})
# the mediation ended; EFFECTIVE is settled but still followed up
SETTLED_STATES = frozenset({S.EFFECTIVE, S.PERFORMED})
FINAL_STATES = frozenset({S.PERFORMED, S.REFERRED, S.WITHDRAWN})
# states in which the mediator works on the dispute (sessions, drafting)
WORKING = frozenset({S.ASSIGNED, S.IN_MEDIATION, S.AGREED})
# parties may rate once the mediation has ended one way or another
RATEABLE = frozenset({S.EFFECTIVE, S.PERFORMED, S.FAILED, S.REFERRED})


class DisputeAction(models.TextChoices):
    REGISTER = "register", _("register")
    EDIT = "edit", _("correct the intake")
    ASSESS = "assess", _("assess the risk")
    ASSIGN = "assign", _("assign a mediator")
    REPLACE_MEDIATOR = "replace_mediator", _("replace the mediator")
    SCHEDULE = "schedule", _("schedule a session")
    RESCHEDULE = "reschedule", _("move a session")
    CANCEL_SESSION = "cancel_session", _("cancel a session")
    RECORD_SESSION = "record_session", _("record attendance and minutes")
    DRAFT = "draft", _("draft the agreement")
    SIGN = "sign", _("sign the agreement")
    EFFECTIVE = "effective", _("agreement in force")
    FAIL = "fail", _("record that mediation failed")
    REFER = "refer", _("refer elsewhere")
    WITHDRAW = "withdraw", _("withdraw")
    SCHEDULE_FOLLOW_UP = "schedule_follow_up", _("schedule a follow-up visit")
    FOLLOW_UP = "follow_up", _("record a follow-up visit")
    REOPEN = "reopen", _("reopen mediation")
    RATE = "rate", _("rate")
    ASK_FOR_ANOTHER = "ask_for_another", _("ask for another mediator")
    REVEAL = "reveal", _("view personal data")
    ACCESS_CODE = "access_code", _("issue a party's access code")
    NOTE = "note", _("note")


@dataclass(frozen=True)
class Transition:
    sources: frozenset[DisputeState]
    target: DisputeState | None
    permissions: tuple[P, ...]
    needs_reason: bool = False


A = DisputeAction
M, C = P.MEDIATE, P.MANAGE_DISPUTES
TRANSITIONS: dict[DisputeAction, Transition] = {
    A.EDIT: Transition(frozenset({S.REGISTERED, S.ASSESSED}), None, (C,)),
    A.ASSESS: Transition(frozenset({S.REGISTERED, S.ASSESSED, S.ASSIGNED, S.IN_MEDIATION}), None, (C, M)),
    A.ASSIGN: Transition(frozenset({S.ASSESSED}), S.ASSIGNED, (C,)),
    A.REPLACE_MEDIATOR: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION}), None, (C,), needs_reason=True),
    A.SCHEDULE: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION, S.AGREED}), None, (M, C)),
    A.RESCHEDULE: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION, S.AGREED}), None, (M, C)),
    A.CANCEL_SESSION: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION, S.AGREED}), None, (M, C), needs_reason=True),
    A.RECORD_SESSION: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION, S.AGREED}), None, (M,)),
    A.DRAFT: Transition(frozenset({S.IN_MEDIATION, S.AGREED}), S.AGREED, (M,)),
    A.SIGN: Transition(frozenset({S.AGREED}), None, (M,)),
    A.FAIL: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION, S.AGREED}), S.FAILED, (M, C), needs_reason=True),
    A.REFER: Transition(frozenset({S.REGISTERED, S.ASSESSED, S.FAILED, S.EFFECTIVE}), S.REFERRED, (C,),
                        needs_reason=True),
    A.WITHDRAW: Transition(OPEN_STATES, S.WITHDRAWN, (C,), needs_reason=True),
    A.SCHEDULE_FOLLOW_UP: Transition(frozenset({S.EFFECTIVE}), None, (M, C)),
    A.FOLLOW_UP: Transition(frozenset({S.EFFECTIVE}), None, (M, C)),
    A.REOPEN: Transition(frozenset({S.EFFECTIVE, S.FAILED}), S.IN_MEDIATION, (C, M), needs_reason=True),
    A.RATE: Transition(RATEABLE, None, ()),  # parties only, through their access code
    A.ASK_FOR_ANOTHER: Transition(frozenset({S.ASSIGNED, S.IN_MEDIATION}), None, ()),  # parties only
    A.ACCESS_CODE: Transition(OPEN_STATES | SETTLED_STATES | {S.FAILED}, None, (C,)),
}

# Actions the assigned mediator may take only on their own disputes (MEDIATE is about oneself).
MEDIATOR_OWN = frozenset({A.ASSESS, A.SCHEDULE, A.RESCHEDULE, A.CANCEL_SESSION, A.RECORD_SESSION, A.DRAFT, A.SIGN,
                          A.FAIL, A.SCHEDULE_FOLLOW_UP, A.FOLLOW_UP, A.REOPEN})


def may_act(perms, dispute, action: DisputeAction, actor=None) -> bool:
    """Whether the resolver `perms` allows `action` on `dispute` (its state aside).

    MEDIATE counts only for the mediator assigned to the dispute; MANAGE_DISPUTES counts over the
    centre's area.
    """
    for permission in TRANSITIONS[action].permissions:
        if not perms.can(permission, dispute):
            continue
        if permission == P.MEDIATE and not perms.is_superuser:
            if dispute.mediator_id is None or dispute.mediator.user_id != getattr(actor or perms.user, "pk", None):
                continue
        return True
    return False
