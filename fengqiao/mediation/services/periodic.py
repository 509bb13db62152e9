"""Periodic jobs of mediation (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from fengqiao.core import clock
from fengqiao.mediation.models import (
    Agreement,
    AgreementState,
    FollowUp,
    FollowUpState,
)
from fengqiao.mediation.services.common import (
    _notify,
)


# -- periodic jobs ----------------------------------------------------------------------------------------------
@transaction.atomic
def remind_due_follow_ups() -> int:
    """Tell the mediator and the centre of follow-up visits that are due, once each (idempotent:
    a reminded visit carries `reminded_at`). Also reminds the parties of the judicial confirmation
    window 7 days before it closes. Returns how many reminders were written."""
    now = clock.now()
    count = 0
    due = (FollowUp.objects.select_for_update(skip_locked=True, of=("self",))
           .filter(state=FollowUpState.SCHEDULED, reminded_at__isnull=True, due_at__lte=now)
           .select_related("dispute", "dispute__type", "dispute__mediator", "dispute__mediator__user")[:500])
    for follow_up in due:
        follow_up.reminded_at = now
        follow_up.save(update_fields=["reminded_at"])
        _notify(follow_up.dispute, "dispute.follow_up_due", f"fu{follow_up.pk}",
                due=timezone.localtime(follow_up.due_at).strftime("%Y-%m-%d"))
        count += 1
    soon = timezone.localdate(now) + timedelta(days=7)
    agreements = (Agreement.objects.select_for_update(skip_locked=True, of=("self",))
                  .filter(state=AgreementState.EFFECTIVE, confirmation_reminded_at__isnull=True,
                          confirmation_deadline__lte=soon, confirmation_deadline__gte=timezone.localdate(now))
                  .select_related("dispute", "dispute__type", "dispute__mediator", "dispute__mediator__user")[:500])
    for agreement in agreements:
        agreement.confirmation_reminded_at = now
        agreement.save(update_fields=["confirmation_reminded_at"])
        assert agreement.confirmation_deadline is not None
        _notify(agreement.dispute, "dispute.confirmation_reminder", f"jc{agreement.pk}",
                deadline=agreement.confirmation_deadline.isoformat())
        count += 1
    return count


OVERDUE_WINDOW = timedelta(days=1)


@transaction.atomic
def remind_overdue() -> int:
    """Tell the centre (and the mediator) once when a stage's deadline passes: assigning a mediator,
    the first session, concluding. Looks only at deadlines passed within the last day (the job runs
    every minute), so its cost grows with what just became due; the outbox's deduplication key
    (dispute, stage, deadline) makes a second run write nothing."""
    from django.db.models import Q

    from fengqiao.mediation.models import DeadlineStage, Dispute
    from fengqiao.mediation.states import DisputeState as S

    now = clock.now()
    since = now - OVERDUE_WINDOW
    checks = [
        (DeadlineStage.ASSIGN, "assign_due_at", [S.REGISTERED, S.ASSESSED]),
        (DeadlineStage.FIRST_SESSION, "session_due_at", [S.ASSIGNED]),
        (DeadlineStage.CONCLUDE, "conclude_due_at", [S.ASSIGNED, S.IN_MEDIATION, S.AGREED]),
    ]
    count = 0
    for stage, field_name, states in checks:
        due = Dispute.objects.filter(Q(**{f"{field_name}__gt": since, f"{field_name}__lte": now}),
                                     state__in=states).select_related("type", "mediator", "mediator__user")
        for dispute in due[:500]:
            moment = getattr(dispute, field_name)
            _notify(dispute, "dispute.overdue", f"{stage}:{moment.isoformat()}", stage=stage.value)
            count += 1
    return count
