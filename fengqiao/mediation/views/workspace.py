"""The mediator's workspace: my disputes with their next step and deadline, my sessions as an agenda
(one or two weeks, each with its .ics), and the follow-up visits that are due."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from fengqiao.core import clock
from fengqiao.mediation import selectors
from fengqiao.mediation.models import SessionState
from fengqiao.mediation.views.common import is_overdue, next_deadline, require_mediator, staff_next_step

AGENDA_DAYS = 14


def _week_start(text: str | None) -> date:
    today = timezone.localdate(clock.now())
    try:
        day = date.fromisoformat(text) if text else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


@never_cache
@login_required
@require_GET
def workspace(request: HttpRequest) -> HttpResponse:
    require_mediator(request.user)
    actor = request.user
    disputes = selectors.my_disputes(actor=actor)
    for item in disputes:
        d: Any = item
        d.deadline = next_deadline(d)
        d.step = staff_next_step(d)
        d.late = is_overdue(d)
    start_day = _week_start(request.GET.get("week"))
    start = timezone.make_aware(datetime.combine(start_day, datetime.min.time()))
    sessions = [s for s in selectors.mediator_calendar(actor=actor, start=start,
                                                        end=start + timedelta(days=AGENDA_DAYS))
                if s.state != SessionState.CANCELLED]
    days = [(day, list(items)) for day, items in groupby(sessions, key=lambda s: timezone.localdate(s.starts_at))]
    return render(request, "mediation/workspace.html", {
        "disputes": disputes, "days": days, "start": start_day, "end": start_day + timedelta(days=AGENDA_DAYS - 1),
        "previous": start_day - timedelta(days=7), "next": start_day + timedelta(days=7),
        "today": timezone.localdate(clock.now()), "follow_ups": selectors.due_follow_ups(
            actor=actor, until=clock.now() + timedelta(days=7)),
        "mediator": selectors.mediator_for_user(actor=actor)})
