"""Who hears about what happens to a case. Written to the outbox in the event's transaction.

Messages carry the case number, state and category, never the reporter's personal data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fengqiao.cases.models import Case
from fengqiao.cases.states import CaseState
from fengqiao.notify.models import Channel, Message
from fengqiao.notify.services import OutboxBatch, build_messages, write_messages
from fengqiao.org.permissions import Action, Target
from fengqiao.org.selectors import recipients_who_may

AREA = "area"
LEAD = "lead"
ASSISTS = "assists"
REPORTER = "reporter"

# topic -> (audiences, channels). An audience is a permission over the case's area or department.
AUDIENCES: dict[str, tuple[tuple[tuple[str, Action | None], ...], tuple[str, ...]]] = {
    "case.reported": (((AREA, Action.INTAKE_CASE),), (Channel.INBOX,)),
    "case.escalate": (((AREA, Action.DISPATCH_CASE),), (Channel.INBOX,)),
    "case.escalated": (((AREA, Action.DISPATCH_CASE), (LEAD, Action.HANDLE_CASE)), (Channel.INBOX,)),
    "case.return": (((AREA, Action.DISPATCH_CASE),), (Channel.INBOX,)),
    "case.unpark": (((AREA, Action.DISPATCH_CASE),), (Channel.INBOX,)),
    "case.dispatch": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX, Channel.EMAIL)),
    "case.rework": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX, Channel.EMAIL)),
    "case.reopen": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX, Channel.EMAIL)),
    "case.remind": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX, Channel.EMAIL)),
    "case.flag": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX, Channel.EMAIL)),
    "case.decide_extension": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX,)),
    "case.request_extension": (((AREA, Action.SUPERVISE_CASE),), (Channel.INBOX,)),
    "case.request_assist": (((ASSISTS, Action.HANDLE_CASE),), (Channel.INBOX, Channel.EMAIL)),
    "case.assist_report": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX,)),
    "case.report_back": (((AREA, Action.VERIFY_CASE),), (Channel.INBOX,)),
    "case.warning": (((LEAD, Action.HANDLE_CASE),), (Channel.INBOX,)),
    "case.overdue": (((LEAD, Action.HANDLE_CASE), (AREA, Action.SUPERVISE_CASE)), (Channel.INBOX, Channel.EMAIL)),
    "case.closed": (((REPORTER, None),), (Channel.INBOX, Channel.EMAIL)),
    "case.closed_on_spot": (((REPORTER, None),), (Channel.INBOX,)),
    "case.reject": (((REPORTER, None),), (Channel.INBOX, Channel.EMAIL)),
    "case.answer": (((REPORTER, None),), (Channel.INBOX, Channel.EMAIL)),
    "case.review": (((AREA, Action.DISPATCH_CASE), (LEAD, Action.HANDLE_CASE)), (Channel.INBOX, Channel.EMAIL)),
    "case.answer_warning": (((LEAD, Action.HANDLE_CASE), (AREA, Action.INTAKE_CASE)), (Channel.INBOX,)),
    "case.answer_overdue": (((LEAD, Action.HANDLE_CASE), (AREA, Action.SUPERVISE_CASE)),
                            (Channel.INBOX, Channel.EMAIL)),
}


def _recipients(case: Case, audiences) -> list[Any]:
    users: dict[int, Any] = {}
    for who, action in audiences:
        if who == REPORTER:
            found = [case.reporter_user] if case.reporter_user is not None else []
        elif who == AREA:
            found = recipients_who_may(action, Target(area_code=case.area_code))
        elif who == LEAD:
            found = recipients_who_may(action, Target(department_ids=frozenset({case.lead_department_id})))\
                if case.lead_department_id else []
        else:
            ids = frozenset(case.assists.values_list("department_id", flat=True))
            found = recipients_who_may(action, Target(department_ids=ids)) if ids else []
        users.update({u.pk: u for u in found})
    return list(users.values())


_muted = threading.local()


@contextmanager
def muted():
    """Write no notifications inside this block (generating history, bulk imports)."""
    _muted.on = True
    try:
        yield
    finally:
        _muted.on = False


def is_muted() -> bool:
    return getattr(_muted, "on", False)


@dataclass
class Notice:
    """Who hears of an event of a case, resolved before the event's rows are written."""

    topic: str
    recipients: list[Any] = field(default_factory=list)
    channels: tuple[str, ...] = ()

    def messages(self, *, case: Case, event_seq: int | None = None) -> list[Message]:
        """The outbox rows of the event (unsaved); the case has its number and new state by now."""
        return build_messages(**self._content(case, event_seq)) if self.channels else []

    def add_to(self, batch: OutboxBatch, *, case: Case, event_seq: int) -> None:
        """The same rows, added to a batch of new events' rows (the deadline sweep)."""
        if self.channels:
            batch.add(**self._content(case, event_seq))

    def _content(self, case: Case, event_seq: int | None) -> dict[str, Any]:
        with translation.override(settings.LANGUAGE_CODE):  # the site's language, not the actor's
            subject = _("Case %(number)s: %(state)s") % {"number": case.number, "state": CaseState(case.state).label}
            body = _("%(category)s. Deadline: %(due)s.") % {
                "category": case.category.name,
                "due": timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M") if case.due_at else "—"}
        return dict(
            topic=self.topic, recipients=self.recipients, subject=subject, body=body, channels=self.channels,
            payload={"number": case.number, "state": case.state, "category": case.category.code,
                     "area_code": case.area_code, "level": case.level, "version": case.version},
            case_number=case.number,
            dedup_key_base=f"case:{case.number}:{self.topic}:{event_seq or case.last_event_seq}",
        )

    def send(self, *, case: Case, event_seq: int | None = None) -> None:
        write_messages(self.messages(case=case, event_seq=event_seq), returning=False)


def prepare(*, case: Case, topic: str) -> Notice:
    """Resolve who hears of `topic` on `case` (nobody while notifications are muted)."""
    if is_muted():
        return Notice(topic)
    audiences, channels = AUDIENCES.get(topic, ((), ()))
    return Notice(topic, _recipients(case, audiences), channels)


def write_notices(notices: Iterable[tuple[Case, str, int]]) -> None:
    """The outbox rows of many events, (case, topic, event seq) each, written together in the
    caller's transaction (bulk intake; the sweep's pending notices)."""
    outbox = OutboxBatch()
    with translation.override(settings.LANGUAGE_CODE):  # once for the batch, not once a message
        for case, topic, seq in notices:
            prepare(case=case, topic=topic).add_to(outbox, case=case, event_seq=seq)
    outbox.write()


def fan_out_notices(*, batch_size: int = 500, limit: int = 50_000) -> int:
    """Turn the deadline sweep's pending notices into outbox rows: who hears of each event, on
    which channels (the worker runs it right after the sweep). Each batch is one transaction that
    writes the rows and deletes its notices, so a crash loses nothing and a second run writes
    nothing twice (the rows' dedup keys name the event, too). The texts describe the case as it is
    when the notice goes out. Returns how many notices went out."""
    from django.db import transaction

    from fengqiao.cases.models import PendingNotice
    from fengqiao.core.db import commit_without_waiting_for_disk

    done = 0
    while done < limit:
        with transaction.atomic():
            commit_without_waiting_for_disk()  # lost in a crash, the notices are still there
            pending = list(PendingNotice.objects.select_for_update(skip_locked=True, of=("self",))
                           .select_related("case__category").order_by("pk")[: min(batch_size, limit - done)])
            if not pending:
                break
            write_notices((notice.case, notice.topic, notice.event_seq) for notice in pending)
            PendingNotice.objects.filter(pk__in=[notice.pk for notice in pending]).delete()
        done += len(pending)
    return done


def notify_case(*, case: Case, topic: str, event_seq: int | None = None) -> None:
    prepare(case=case, topic=topic).send(case=case, event_seq=event_seq)
