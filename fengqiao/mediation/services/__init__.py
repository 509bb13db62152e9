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

from fengqiao.mediation.services.agreement import (
    agreement_draft,
    agreement_sign,
    agreement_template,
    current_agreement,
)
from fengqiao.mediation.services.assignment import (
    dispute_assign,
    dispute_replace_mediator,
    mediator_add_absence,
    mediator_conflicts,
    mediator_declare_link,
    mediator_save,
    party_ask_for_another,
)
from fengqiao.mediation.services.common import (
    ACCESS_PURPOSE,
    AMOUNT_MAX,
    CODE_ALPHABET,
    CODE_LENGTH,
    CONFIRMATION_DAYS,
    NAME_MAX,
    PARTIES_MAX,
    REASON_MAX,
    REFERRING_MODES,
    SESSION_MAX_HOURS,
    SIGNATURE_IMAGE_MAX,
    SIGNATURE_TEXT_MAX,
    TEXT_MAX,
    TITLE_MAX,
    AgreementContent,
    IssuedCodes,
    PartyContact,
    PartyCredentials,
    PartyIn,
    normalise_code,
    party_by_credentials,
)
from fengqiao.mediation.services.endings import (
    dispute_fail,
    dispute_refer,
    dispute_reopen,
    dispute_withdraw,
    follow_up_record,
    follow_up_schedule,
)
from fengqiao.mediation.services.intake import (
    dispute_assess,
    dispute_edit,
    dispute_from_case,
    dispute_register,
)
from fengqiao.mediation.services.parties import (
    party_contacts_reveal,
    party_issue_access_code,
    party_rate,
)
from fengqiao.mediation.services.periodic import (
    remind_due_follow_ups,
    remind_overdue,
)
from fengqiao.mediation.services.sessions import (
    meeting_link_for,
    session_cancel,
    session_record,
    session_reschedule,
    session_schedule,
)

__all__ = [
    "ACCESS_PURPOSE",
    "AMOUNT_MAX",
    "AgreementContent",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "CONFIRMATION_DAYS",
    "IssuedCodes",
    "NAME_MAX",
    "PARTIES_MAX",
    "PartyContact",
    "PartyCredentials",
    "PartyIn",
    "REASON_MAX",
    "REFERRING_MODES",
    "SESSION_MAX_HOURS",
    "SIGNATURE_IMAGE_MAX",
    "SIGNATURE_TEXT_MAX",
    "TEXT_MAX",
    "TITLE_MAX",
    "agreement_draft",
    "agreement_sign",
    "agreement_template",
    "current_agreement",
    "dispute_assess",
    "dispute_assign",
    "dispute_edit",
    "dispute_fail",
    "dispute_from_case",
    "dispute_refer",
    "dispute_register",
    "dispute_reopen",
    "dispute_replace_mediator",
    "dispute_withdraw",
    "follow_up_record",
    "follow_up_schedule",
    "mediator_add_absence",
    "mediator_conflicts",
    "mediator_declare_link",
    "mediator_save",
    "meeting_link_for",
    "normalise_code",
    "party_ask_for_another",
    "party_by_credentials",
    "party_contacts_reveal",
    "party_issue_access_code",
    "party_rate",
    "remind_due_follow_ups",
    "remind_overdue",
    "session_cancel",
    "session_record",
    "session_reschedule",
    "session_schedule",
]
