"""The grid worker's field app (phone first, installable, works offline) and inspections (巡查).

Views parse input, call one service or selector and render. The report endpoint answers JSON to
the app's script (`Accept: application/json`): 201 {number, url}, or the domain error's status
with {"errors": [{field, code, message}]}; a plain form post is redirected or re-rendered.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.cases.models import Case, Category, Channel, Urgency
from fengqiao.cases.selectors import case_get, case_timeline, cases_visible_to, category_tree, iter_tree
from fengqiao.cases.services import Photo, case_report, case_verify
from fengqiao.cases.states import OPEN_STATES, CaseState
from fengqiao.core.errors import DomainError, ErrorDetail, InvalidInput, NotFound
from fengqiao.geo.codes import under
from fengqiao.geo.models import Asset
from fengqiao.inspections.models import InspectionTemplate
from fengqiao.inspections.selectors import (
    inspection_round_get,
    inspections_due,
    inspector_grids,
    round_checklist,
)
from fengqiao.inspections.services import inspection_finish, inspection_record, inspection_start
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.gridshapes import grid_shapes

LIST_LIMIT = 50
FIELD_ACTIONS = (Action.CLOSE_ON_SPOT, Action.VERIFY_CASE)


# -- access --------------------------------------------------------------------------------------
def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def field_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in staff whose roles work in the field (grid workers and chiefs); JSON callers get
    401 instead of a redirect to the sign-in page, so a queued report stays queued."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if _wants_json(request):
                return JsonResponse({"errors": [{"field": None, "code": "login_required",
                                                 "message": _("Sign in again to send your reports.")}]}, status=401)
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path(), reverse("web:login"))
        perms = permissions_for(request.user)
        if not any(perms.may_ever(a) for a in FIELD_ACTIONS):
            if _wants_json(request):
                return JsonResponse({"errors": [{"field": None, "code": "forbidden",
                                                 "message": _("The field app is for grid workers and chiefs.")}]},
                                    status=403)
            return render(request, "web/field/not_field.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _errors_by_field(error: DomainError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for detail in error.errors:
        name = (detail.field or "general").split("[", 1)[0]
        found.setdefault(name, []).append(str(detail.message))
    return found


# -- reads of the worker's grid (scoped by cases_visible_to) ------------------------------------------
def _grid_q(actor: Any) -> Q:
    """Cases in the areas where the actor works as a grid worker or chief."""
    return under(permissions_for(actor).area_codes(Action.CLOSE_ON_SPOT))


def _my_grid_cases(actor: Any) -> QuerySet[Case]:
    return (cases_visible_to(actor).filter(_grid_q(actor))
            .select_related("category", "grid").order_by("-created_at"))


def _to_verify(actor: Any) -> QuerySet[Case]:
    return (cases_visible_to(actor, Action.VERIFY_CASE).filter(_grid_q(actor), state=CaseState.HANDLED)
            .select_related("category", "grid").order_by("handled_at"))


# -- pages ---------------------------------------------------------------------------------------
@require_GET
@field_view
def home(request: HttpRequest) -> HttpResponse:
    actor = request.user
    context = {
        "grids": inspector_grids(actor),
        "to_verify": _to_verify(actor).count(),
        "open_cases": _my_grid_cases(actor).filter(state__in=OPEN_STATES).count(),
        "inspections": len(inspections_due(actor)),
    }
    return render(request, "web/field/home.html", context)


def _report_context(request: HttpRequest, *, values: dict[str, Any] | None = None,
                    errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    values = values or {}
    grids = inspector_grids(request.user)
    return {
        "categories": list(iter_tree(category_tree())),
        "grids": grids,
        "shapes": grid_shapes(grids),
        "urgencies": Urgency.choices,
        "values": values,
        "errors": errors or {},
        "idempotency_key": values.get("idempotency_key") or uuid.uuid4().hex,
    }


def _number(text: str | None, field: str, errors: list[ErrorDetail]) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.append(ErrorDetail("invalid", _("Give the position as numbers."), field))
        return None
    return value


def _photos(request: HttpRequest, name: str, kind: str) -> list[Photo]:
    return [Photo(upload.read(), kind) for upload in request.FILES.getlist(name) if upload.size]


def _parse_report(request: HttpRequest) -> dict[str, Any]:
    """The report form's fields as case_report arguments; raises InvalidInput naming each field."""
    post = request.POST
    errors: list[ErrorDetail] = []
    category = None
    category_id = post.get("category", "").strip()
    if not category_id:
        errors.append(ErrorDetail("required", _("Choose a category."), "category"))
    else:
        category = (Category.objects.filter(pk=int(category_id)).first() if category_id.isdigit() else None)
        if category is None:
            errors.append(ErrorDetail("invalid_choice", _("Choose a category from the list."), "category"))
    lon = _number(post.get("lon"), "location", errors)
    lat = _number(post.get("lat"), "location", errors)
    grid = None
    grid_code = post.get("grid", "").strip()
    if lon is None or lat is None:
        lon = lat = None
        if grid_code:
            grid = next((g for g in inspector_grids(request.user) if g.code == grid_code), None)
            if grid is None:
                errors.append(ErrorDetail("invalid_choice", _("Choose one of your grids."), "grid"))
        else:
            errors.append(ErrorDetail("location_required",
                                      _("Allow the position, enter it, or choose your grid."), "location"))
    urgency = post.get("urgency") or Urgency.NORMAL
    close_on_spot = post.get("close_on_spot") in ("on", "1", "true")
    photos = _photos(request, "photos", "report")
    if close_on_spot:
        photos += _photos(request, "after_photos", "after")
    if errors:
        raise InvalidInput("invalid_case", errors[0].message, errors=errors)
    return {
        "category": category, "description": post.get("description", ""), "lon": lon, "lat": lat, "grid": grid,
        "address": post.get("address", "").strip(), "urgency": urgency, "photos": photos,
        "close_on_spot": close_on_spot,
        "resolution": post.get("resolution", "").strip() if close_on_spot else "",
        "idempotency_key": post.get("idempotency_key", "").strip()[:100] or None,
    }


@never_cache
@require_http_methods(["GET", "POST"])
@field_view
def report(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "web/field/report.html", _report_context(request))
    try:
        arguments = _parse_report(request)
        try:
            case = case_report(actor=request.user, channel=Channel.GRID_WORKER, **arguments)
        except NotFound as exc:  # a point outside the worker's grids: a fault of the position given
            raise InvalidInput("not_your_grid", exc.errors[0].message, field="location") from exc
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)
        context = _report_context(request, values=request.POST.dict(), errors=_errors_by_field(exc))
        return render(request, "web/field/report.html", context, status=exc.status)
    url = reverse("web:field_case", args=[case.number])
    if _wants_json(request):
        return JsonResponse({"number": case.number, "url": url, "state": case.state}, status=201)
    messages.success(request, _("Reported as case %(number)s.") % {"number": case.number})
    return redirect(url)


@require_GET
@field_view
def my_grid(request: HttpRequest) -> HttpResponse:
    actor = request.user
    context = {
        "grids": inspector_grids(actor),
        "to_verify": list(_to_verify(actor)[:LIST_LIMIT]),
        "open_cases": list(_my_grid_cases(actor).filter(state__in=OPEN_STATES).exclude(
            state=CaseState.HANDLED)[:LIST_LIMIT]),
        "mine": list(_my_grid_cases(actor).filter(reporter_user=actor)[:10]),
        "inspections": inspections_due(actor)[:10],
    }
    return render(request, "web/field/my_grid.html", context)


def _case_or_404(request: HttpRequest, number: str) -> Case:
    try:
        return case_get(actor=request.user, number=number)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def _case_page(request: HttpRequest, case: Case, *, errors: dict[str, list[str]] | None = None,
               values: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    perms = permissions_for(request.user)
    context = {
        "case": case,
        "events": case_timeline(case=case),
        "can_verify": case.state == CaseState.HANDLED and perms.can(Action.VERIFY_CASE, case),
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "web/field/case.html", context, status=status)


@require_GET
@field_view
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _case_page(request, _case_or_404(request, number))


@require_POST
@field_view
def case_verify_view(request: HttpRequest, number: str) -> HttpResponse:
    case = _case_or_404(request, number)
    post = request.POST
    outcome = post.get("passed", "")
    version = post.get("expected_version", "")
    try:
        if outcome not in ("yes", "no"):
            raise InvalidInput("required", _("Say whether the matter is resolved."), field="passed")
        case = case_verify(actor=request.user, number=case.number, passed=outcome == "yes",
                           note=post.get("note", ""), photos=_photos(request, "photo", "verify"),
                           expected_version=int(version) if version.isdigit() else None)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        return _case_page(request, case, errors=_errors_by_field(exc), values=post.dict(), status=exc.status)
    messages.success(request, _("Verification recorded: case %(number)s is %(state)s.")
                     % {"number": case.number, "state": CaseState(case.state).label})
    return redirect("web:field_my_grid")


# -- inspections ---------------------------------------------------------------------------------
@require_GET
@field_view
def inspections(request: HttpRequest) -> HttpResponse:
    return render(request, "web/field/inspections.html",
                  {"due": inspections_due(request.user, include_later=True)})


@require_POST
@field_view
def inspection_begin(request: HttpRequest) -> HttpResponse:
    post = request.POST
    template = InspectionTemplate.objects.filter(pk=post.get("template", "0") if post.get(
        "template", "").isdigit() else 0, is_active=True).first()
    grids = {g.code: g for g in inspector_grids(request.user)}
    grid = grids.get(post.get("grid", ""))
    asset_id = post.get("asset", "")
    asset = (Asset.objects.select_related("grid", "region").filter(pk=int(asset_id), grid__in=grids.values()).first()
             if asset_id.isdigit() else None)
    if template is None or (grid is None and asset is None):
        raise Http404(_("No such checklist or grid."))
    try:
        started = inspection_start(actor=request.user, template=template, grid=grid, asset=asset)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        for detail in exc.errors:
            messages.error(request, str(detail.message))
        return redirect("web:field_inspections")
    return redirect("web:field_inspection", started.pk)


def _round_page(request: HttpRequest, round_id: int, *, error_item: int | None = None,
                item_errors: dict[str, list[str]] | None = None, values: dict[str, Any] | None = None,
                status: int = 200) -> HttpResponse:
    try:
        found = inspection_round_get(actor=request.user, round_id=round_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    lines = round_checklist(inspection_round=found)
    context = {"round": found, "lines": lines, "error_item": error_item, "item_errors": item_errors or {},
               "values": values or {},
               "done": sum(1 for line in lines if line.result is not None)}
    return render(request, "web/field/inspection.html", context, status=status)


@require_GET
@field_view
def inspection(request: HttpRequest, round_id: int) -> HttpResponse:
    return _round_page(request, round_id)


@require_POST
@field_view
def inspection_item(request: HttpRequest, round_id: int, item_id: int) -> HttpResponse:
    pk = _round_or_404(request, round_id)
    post = request.POST
    upload = request.FILES.get("photo")
    errors: list[ErrorDetail] = []
    lon = _number(post.get("lon"), "location", errors)
    lat = _number(post.get("lat"), "location", errors)
    try:
        if post.get("passed") not in ("yes", "no"):
            raise InvalidInput("required", _("Choose passed or failed."), field="passed")
        result = inspection_record(actor=request.user, round_id=pk, item_id=item_id,
                                   passed=post["passed"] == "yes", note=post.get("note", ""),
                                   photo=upload.read() if upload and upload.size else None,
                                   lon=lon if lat is not None else None, lat=lat if lon is not None else None)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        return _round_page(request, round_id, error_item=item_id, item_errors=_errors_by_field(exc),
                           values=post.dict(), status=exc.status)
    if result.case_id:
        messages.success(request, _("Reported as case %(number)s.") % {"number": result.case.number})
    return redirect(reverse("web:field_inspection", args=[round_id]) + f"#item-{item_id}")


def _round_or_404(request: HttpRequest, round_id: int) -> int:
    try:
        return inspection_round_get(actor=request.user, round_id=round_id).pk
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require_POST
@field_view
def inspection_end(request: HttpRequest, round_id: int) -> HttpResponse:
    pk = _round_or_404(request, round_id)
    try:
        inspection_finish(actor=request.user, round_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        for detail in exc.errors:
            messages.error(request, str(detail.message))
        return redirect("web:field_inspection", pk)
    messages.success(request, _("Inspection finished."))
    return redirect("web:field_inspections")


# -- installable app -----------------------------------------------------------------------------
SHELL_ASSETS = ["web/fengqiao.css", "web/field.css", "web/field.js", "web/signout.js", "web/gridpick.js",
                "web/icons/icon-192.png", "web/icons/icon-512.png"]
# loaded by a page only when needed (1.1 MB), kept by the worker once used rather than at install
LAZY_ASSETS = ["vendor/echarts/echarts.min.js"]


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    data = {
        "name": _("Fengqiao field app"),
        "short_name": _("Fengqiao"),
        "description": _("Report matters, verify on site and inspect your grid."),
        "start_url": reverse("web:field_home"),
        "scope": reverse("web:field_home"),
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f5f7fa",
        "theme_color": "#0b5cad",
        "lang": request.LANGUAGE_CODE,
        "icons": [
            {"src": static("web/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("web/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static("web/icons/icon-512-maskable.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, with the shell's asset URLs (hashed names in production) filled in; its
    scope is /field/ (the path it is served from)."""
    path = finders.find("web/sw.js")
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    shell = [reverse("web:field_home"), reverse("web:field_report")] + [static(name) for name in SHELL_ASSETS]
    lazy = [static(name) for name in LAZY_ASSETS]
    version = hashlib.sha256((source + json.dumps(shell) + json.dumps(lazy)).encode()).hexdigest()[:12]
    source = (source.replace("__SHELL__", json.dumps(shell)).replace("__LAZY__", json.dumps(lazy))
              .replace("__VERSION__", version))
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("web:field_home")
    response["Cache-Control"] = "no-cache"
    return response
