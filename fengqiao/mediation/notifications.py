"""Who hears about what happens to a dispute. Written to the outbox in the event's transaction.

Staff get inbox (and e-mail) messages; parties get an SMS on the phone they gave, when they gave
one. Messages carry the dispute number, the state and the type, never a party's personal data, and
never the access code (it is handed to the party at intake).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fengqiao.mediation.models import Dispute, MediationSession
from fengqiao.notify.models import Channel
from fengqiao.notify.services import PhoneNumber, notify
from fengqiao.org.permissions import Action, Target
from fengqiao.org.selectors import users_who_may

CENTRE = "centre"  # MANAGE_DISPUTES over the dispute's area (village, township and county centres)
MEDIATOR = "mediator"
PARTIES = "parties"

STAFF = (Channel.INBOX, Channel.EMAIL)
AUDIENCES: dict[str, tuple[str, ...]] = {
    "dispute.registered": (CENTRE,),
    "dispute.high_risk": (CENTRE,),
    "dispute.assigned": (MEDIATOR, PARTIES),
    "dispute.replace_requested": (CENTRE,),
    "dispute.session_scheduled": (MEDIATOR, PARTIES),
    "dispute.session_moved": (MEDIATOR, PARTIES),
    "dispute.session_cancelled": (MEDIATOR, PARTIES),
    "dispute.agreement_ready": (PARTIES,),
    "dispute.effective": (MEDIATOR, PARTIES, CENTRE),
    "dispute.confirmation_reminder": (PARTIES, MEDIATOR),
    "dispute.failed": (CENTRE, PARTIES),
    "dispute.referred": (PARTIES, MEDIATOR),
    "dispute.withdrawn": (MEDIATOR, CENTRE),
    "dispute.follow_up_due": (MEDIATOR, CENTRE),
    "dispute.not_performed": (CENTRE, MEDIATOR),
    "dispute.reopened": (MEDIATOR, PARTIES, CENTRE),
    "dispute.overdue": (CENTRE, MEDIATOR),
}

_muted = threading.local()


@contextmanager
def muted():
    """Write no notifications inside this block (generating the demo's history)."""
    _muted.on = True
    try:
        yield
    finally:
        _muted.on = False


def _staff(dispute: Dispute, audiences: Iterable[str]) -> list[Any]:
    users: dict[int, Any] = {}
    for who in audiences:
        if who == CENTRE:
            found = list(users_who_may(Action.MANAGE_DISPUTES, Target(area_code=dispute.area_code)))
        elif who == MEDIATOR and dispute.mediator is not None:
            found = [dispute.mediator.user]
        else:
            found = []
        users.update({u.pk: u for u in found})
    return list(users.values())


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _texts(topic: str, dispute: Dispute, session: MediationSession | None, extra: dict[str, Any]) -> tuple[str, str]:
    number = dispute.number
    subject = _("Dispute %(number)s: %(state)s") % {"number": number, "state": dispute.get_state_display()}
    body = _("%(type)s. %(title)s") % {"type": dispute.type.name, "title": dispute.title}
    if topic == "dispute.high_risk":
        subject = _("High-risk dispute %(number)s") % {"number": number}
        body = _("Risk assessed as high: %(reasons)s. The deadlines are shortened.") % {
            "reasons": "；".join(extra.get("reasons", []))}
    elif topic in ("dispute.session_scheduled", "dispute.session_moved") and session is not None:
        subject = _("Mediation session for %(number)s on %(when)s") % {"number": number, "when": _when(session.starts_at)}
        where = session.meeting_link or (session.room.name if session.room is not None else session.place)
        body = _("From %(start)s to %(end)s, %(where)s.") % {"start": _when(session.starts_at),
                                                             "end": _when(session.ends_at), "where": where}
    elif topic == "dispute.session_cancelled" and session is not None:
        subject = _("Session of %(when)s for %(number)s cancelled") % {"number": number,
                                                                       "when": _when(session.starts_at)}
    elif topic == "dispute.agreement_ready":
        subject = _("Mediation agreement for %(number)s ready to sign") % {"number": number}
        body = _("Read and sign it on the resident portal with your access code.")
    elif topic == "dispute.effective":
        subject = _("Mediation agreement for %(number)s is in force") % {"number": number}
        body = _("Within 30 days (by %(deadline)s) the parties may jointly apply to the people's court for "
                 "judicial confirmation of the agreement.") % {"deadline": extra.get("deadline", "")}
    elif topic == "dispute.confirmation_reminder":
        subject = _("Judicial confirmation of %(number)s: until %(deadline)s") % {
            "number": number, "deadline": extra.get("deadline", "")}
        body = _("The 30 days for applying jointly to the people's court for judicial confirmation end on "
                 "%(deadline)s.") % {"deadline": extra.get("deadline", "")}
    elif topic == "dispute.follow_up_due":
        subject = _("Follow-up visit due for %(number)s") % {"number": number}
        body = _("Check whether the agreement was performed (due %(due)s).") % {"due": extra.get("due", "")}
    elif topic == "dispute.overdue":
        from fengqiao.mediation.models import DeadlineStage

        stage = extra.get("stage", "")
        label = DeadlineStage(stage).label if stage in DeadlineStage.values else stage
        subject = _("Dispute %(number)s is overdue: %(stage)s") % {"number": number, "stage": label}
    return subject, body


def notify_dispute(*, dispute: Dispute, topic: str, key: str, session: MediationSession | None = None,
                   **extra: Any) -> None:
    """Tell whom `topic` concerns. `key` names the event, so a retry writes nothing twice."""
    if getattr(_muted, "on", False):
        return
    audiences = AUDIENCES.get(topic, ())
    staff = _staff(dispute, audiences)
    phones = []
    if PARTIES in audiences:
        phones = [PhoneNumber(p.phone) for p in dispute.parties.all() if _sms_ok(p.phone)]
    with translation.override(settings.LANGUAGE_CODE):  # the site's language, not the actor's
        subject, body = _texts(topic, dispute, session, extra)
    payload = {"number": dispute.number, "state": dispute.state, "type": dispute.type.code,
               "area_code": dispute.area_code, "level": dispute.level, "risk": dispute.risk_level,
               "version": dispute.version}
    if staff:
        notify(topic=topic, recipients=staff, subject=subject, body=body, channels=STAFF, payload=payload,
               dedup_key_base=f"dispute:{dispute.number}:{topic}:{key}")
    if phones:
        notify(topic=topic, recipients=phones, subject=subject, body=body, channels=(Channel.SMS,),
               payload={"number": dispute.number}, dedup_key_base=f"dispute:{dispute.number}:{topic}:{key}:sms",
               webhooks=False)


def _sms_ok(phone: str) -> bool:
    from fengqiao.core.masking import normalise_phone

    digits = normalise_phone(phone or "").lstrip("+")
    return 5 <= len(digits) <= 20 and digits.isdigit()
