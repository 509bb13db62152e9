"""Supervision view for leaders: overdue and flagged open cases in scope, by township and by department."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from fengqiao.cases.selectors import CaseFilters, CasePage, case_list
from fengqiao.cases.states import OPEN_STATES
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.answers import answers_overdue
from fengqiao.web.mapdata import case_url, map_area, supervision_summary

LIST_SIZE = 20
SLUG_RE = re.compile(r"^[-\w]{1,60}$")


def _page(request: HttpRequest, filters: CaseFilters, cursor_param: str) -> CasePage:
    try:
        return case_list(actor=request.user, filters=filters, cursor=request.GET.get(cursor_param) or None,
                         limit=LIST_SIZE)
    except DomainError:  # a forged cursor: start again from the newest
        return case_list(actor=request.user, filters=filters, limit=LIST_SIZE)


@login_required
@require_GET
def leader(request: HttpRequest) -> HttpResponse:
    perms = permissions_for(request.user)
    if not (perms.may_ever(Action.SUPERVISE_CASE) or perms.may_ever(Action.VIEW_STATISTICS)):
        raise PermissionDenied
    area_code = request.GET.get("area") or None
    department = request.GET.get("department") or None
    area = None
    if area_code:
        try:
            area = map_area(actor=request.user, code=area_code)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
    if department and not SLUG_RE.match(department):
        raise Http404
    summary = supervision_summary(actor=request.user, area=area_code, department=department)
    department_name = next((r.name for r in summary.by_department if r.key == department), department)
    open_states = sorted(OPEN_STATES)
    overdue = _page(request, CaseFilters(states=open_states, overdue=True, area=area_code, department=department),
                    "oc")
    flagged = _page(request, CaseFilters(states=open_states, supervised=True, area=area_code, department=department),
                    "fc")
    late_answers, late_answers_total = answers_overdue(actor=request.user, area=area_code, department=department,
                                                       limit=LIST_SIZE)
    chart = {
        "areas": [{"name": r.name, "overdue": r.overdue, "flagged": r.flagged} for r in summary.by_area],
        "departments": [{"name": r.name, "overdue": r.overdue, "flagged": r.flagged} for r in summary.by_department],
    }
    context = {
        "summary": summary, "area": area, "department": department, "department_name": department_name,
        "overdue": [(c, case_url(c.number)) for c in overdue.items], "overdue_next": overdue.next_cursor,
        "flagged": [(c, case_url(c.number)) for c in flagged.items], "flagged_next": flagged.next_cursor,
        "answers_overdue": [(c, case_url(c.number)) for c in late_answers],
        "answers_overdue_total": late_answers_total,
        "chart": chart, "filtered": bool(area or department),
    }
    return render(request, "web/leader/leader.html", context)
