"""The grid map: shapes coloured by open and overdue cases, drill-down, case pins, cases of an area."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from fengqiao.cases.selectors import CaseFilters, case_list
from fengqiao.cases.states import OPEN_STATES
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.mapdata import case_url, map_area, map_data

CASES_PER_PAGE = 30


def _require_viewer(request: HttpRequest) -> None:
    if not permissions_for(request.user).may_ever(Action.VIEW_CASE):
        raise PermissionDenied


def _map_data(request: HttpRequest):
    try:
        return map_data(actor=request.user, area=request.GET.get("area") or None)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@login_required
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    """The map of the area in `?area=` (or the actor's own territory). An HTMX request gets the panel only."""
    _require_viewer(request)
    data = _map_data(request)
    context = {"data": data, "json": data.as_json()}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "web/map/panel.html", context)
    else:
        response = render(request, "web/map/map.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def map_data_json(request: HttpRequest) -> JsonResponse:
    """The same data as JSON: GeoJSON shapes with their counts, breadcrumb, pins."""
    _require_viewer(request)
    return JsonResponse(_map_data(request).as_json())


@login_required
@require_GET
def area_cases(request: HttpRequest, code: str) -> HttpResponse:
    """The cases of one grid or region (open ones unless `?all=1`), newest first, a page at a time."""
    _require_viewer(request)
    try:
        area = map_area(actor=request.user, code=code)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    show_all = request.GET.get("all") == "1"
    filters = CaseFilters(states=None if show_all else sorted(OPEN_STATES), area=area.code)
    try:
        page = case_list(actor=request.user, filters=filters, cursor=request.GET.get("cursor") or None,
                         limit=CASES_PER_PAGE)
    except DomainError:  # a forged cursor: start again from the newest
        page = case_list(actor=request.user, filters=filters, limit=CASES_PER_PAGE)
    rows = [(case, case_url(case.number)) for case in page.items]
    context = {"area": area, "rows": rows, "next_cursor": page.next_cursor, "show_all": show_all,
               "first_page": not request.GET.get("cursor")}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "web/map/cases.html#list", context)
    else:
        response = render(request, "web/map/cases.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
