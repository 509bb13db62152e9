"""Public cases: list, map data and one case's public page, with no personal data; e-mail subscriptions."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from fengqiao.cases import selectors as case_selectors
from fengqiao.cases.models import RequestType
from fengqiao.cases.public import PUBLIC_STATE_GROUPS
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.portal import selectors
from fengqiao.portal.abuse import captcha_check, captcha_widget, limit_public_form
from fengqiao.portal.services import (
    subscription_cancel,
    subscription_confirm,
    subscription_request,
    target_label,
)
from fengqiao.portal.views.common import errors_by_field

LIST_LIMIT = 50
MAP_LIMIT = 500


def _state_filters() -> list[tuple[str, str]]:
    """What a resident filters by: the three public state groups."""
    return [("received", _("received")), ("in_hand", _("being handled")), ("done", _("done"))]


def _filters(request: HttpRequest) -> dict[str, Any]:
    village = request.GET.get("village", "").strip()
    village = village if village.isdigit() and len(village) <= 12 else ""
    state = request.GET.get("state", "")
    request_type = request.GET.get("type", "")
    return {"area_code": village or None,
            "state_group": state if state in PUBLIC_STATE_GROUPS else None,
            "request_type": request_type if request_type in RequestType.values else None}


def _cards(filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    cases = case_selectors.public_cases(**filters)[:limit]
    return [selectors.scrubbed_card(case) for case in cases]


@require_GET
def public_cases(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    return render(request, "portal/public_cases.html", {
        "cards": _cards(filters, LIST_LIMIT), "villages": selectors.villages(), "filters": filters,
        "states": _state_filters(), "types": RequestType.choices,
        "query": request.GET.urlencode(),
    })


def _pin(card: dict[str, Any]) -> dict[str, Any]:
    lon, lat = card["point"]
    return {"number": card["number"], "category": card["category"], "state": card["state"],
            "state_label": card["state_label"], "request_type_label": card["request_type_label"],
            "grid": card["grid"], "lon": lon, "lat": lat}


@require_GET
def map_data(request: HttpRequest) -> JsonResponse:
    """The grids of the territory and the public cases' blurred pins (JSON for the ECharts map)."""
    filters = _filters(request)
    data: dict[str, Any] = {"grids": selectors.grids_geojson(area_code=filters["area_code"] or "")}
    if request.GET.get("pins", "1") != "0":
        data["pins"] = [_pin(card) for card in _cards(filters, MAP_LIMIT) if card.get("point")]
    response = JsonResponse(data)
    response["Cache-Control"] = "public, max-age=60"
    return response


@require_GET
def public_case(request: HttpRequest, number: str) -> HttpResponse:
    case = case_selectors.public_cases().filter(number=number[:40]).first()
    if case is None:
        raise Http404(_("No such public case."))
    return render(request, "portal/public_case.html", {
        "card": selectors.scrubbed_card(case), "timeline": selectors.scrubbed_timeline(case),
        "number": case.number,
    })


@never_cache
@require_http_methods(["GET", "POST"])
@limit_public_form("portal.subscribe")
def subscribe(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    case_number, grid_code = source.get("case", "").strip()[:40], source.get("grid", "").strip()[:18]
    context: dict[str, Any] = {"case_number": case_number, "grid_code": grid_code, "values": {}, "errors": {},
                               "captcha": captcha_widget(request)}
    if not case_number and not grid_code:
        context["grids"] = selectors.grids_geojson()["features"]
    if request.method == "POST":
        context["values"] = {"email": request.POST.get("email", "")[:254]}
        try:
            captcha_check(request)
            subscription_request(email=request.POST.get("email", ""), case_number=case_number, grid_code=grid_code)
        except DomainError as exc:
            context["errors"] = errors_by_field(exc)
            return render(request, "portal/subscribe.html", context, status=exc.status)
        return render(request, "portal/subscribe_sent.html", {})
    return render(request, "portal/subscribe.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def subscription_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners that open links confirm nothing); POST confirms."""
    if request.method == "GET":
        return render(request, "portal/subscription_link.html", {"confirm": True})
    try:
        subscription = subscription_confirm(token=token)
    except NotFound:
        raise Http404(_("This link is not valid (any more).")) from None
    return render(request, "portal/subscription_done.html", {"confirmed": True, "target": target_label(subscription),
                                                              "token": subscription.token})


@never_cache
@require_http_methods(["GET", "POST"])
def subscription_cancel_view(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/subscription_link.html", {"confirm": False})
    try:
        subscription = subscription_cancel(token=token)
    except NotFound:
        raise Http404(_("This link is not valid (any more).")) from None
    return render(request, "portal/subscription_done.html", {"confirmed": False, "target": target_label(subscription)})



