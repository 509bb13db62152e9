"""Report a problem or ask (consult, complain, suggest, praise): the form, its checks and the result page."""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import OperationalError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from fengqiao.cases.deadlines import answer_working_days
from fengqiao.cases.models import Case, Category, Channel, RequestType
from fengqiao.cases.numbering import normalise_tracking_code, tracking_code_display
from fengqiao.cases.selectors import category_tree, iter_tree
from fengqiao.cases.services import Photo, case_report
from fengqiao.core.errors import DomainError, ErrorDetail, InvalidInput
from fengqiao.geo.models import Asset, Grid, Region, RegionLevel
from fengqiao.portal.abuse import captcha_check, captcha_widget, limit_public_form
from fengqiao.portal.views.common import SESSION_REPORTED, errors_by_field, remember, wants_json

# what each request type is called on the form, with a line saying what it is for
REQUEST_TYPE_HELP = {
    RequestType.REPORT: gettext_lazy("Something is broken, dirty, dangerous or wrong in the village."),
    RequestType.CONSULT: gettext_lazy("Ask a question about a service, a rule or a procedure."),
    RequestType.COMPLAINT: gettext_lazy("Something was handled badly, or not at all."),
    RequestType.SUGGESTION: gettext_lazy("An idea to make the village better."),
    RequestType.PRAISE: gettext_lazy("Thank somebody for good work."),
}


def _categories() -> list[dict[str, Any]]:
    """The leaf categories, named with their parent so that residents recognise them."""
    leaves = []
    path: dict[int, str] = {}
    for node in iter_tree(category_tree()):
        path[node.depth] = node.name
        if node.is_leaf:
            parent = path.get(node.depth - 1, "") if node.depth else ""
            leaves.append({"id": node.id, "name": node.name, "parent": parent,
                           "search": f"{node.code} {node.name_zh} {node.name_en.lower()} {parent}"})
    return leaves


def _territory() -> tuple[list[Region], list[Any]]:
    villages = list(Region.objects.filter(level=RegionLevel.VILLAGE).order_by("code").only("code", "name", "name_en"))
    grids = list(Grid.objects.filter(parent__isnull=True).order_by("code").values("code", "name", "region__code"))
    return villages, grids


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """?asset=<code> fills the position, grid and asset; ?region=<village code> the village."""
    values: dict[str, Any] = {}
    asset_code = request.GET.get("asset", "").strip()[:40]
    if asset_code:
        asset = (Asset.objects.select_related("grid", "region").filter(code=asset_code, is_active=True).first())
        if asset is not None:
            values.update(asset=asset.code, lon=f"{asset.lon:.6f}", lat=f"{asset.lat:.6f}",
                          grid=asset.grid.code if asset.grid else "",
                          village=(asset.grid.region.code if asset.grid else asset.region.code if asset.region else ""))
    region_code = request.GET.get("region", "").strip()[:12]
    if region_code and not values.get("village"):
        if Region.objects.filter(code=region_code, level=RegionLevel.VILLAGE).exists():
            values["village"] = region_code
    request_type = request.GET.get("type", "")
    if request_type in RequestType.values:
        values["request_type"] = request_type
    return values


def _context(request: HttpRequest, *, values: dict[str, Any], errors: dict[str, list[str]] | None = None) -> dict:
    villages, grids = _territory()
    asset = None
    if values.get("asset"):
        asset = Asset.objects.select_related("grid", "region").filter(code=values["asset"], is_active=True).first()
    types = [(value, label, REQUEST_TYPE_HELP[RequestType(value)]) for value, label in RequestType.choices]
    return {
        "values": values, "errors": errors or {}, "categories": _categories(), "villages": villages, "grids": grids,
        "asset": asset, "request_types": types, "idempotency_key": values.get("idempotency_key") or uuid.uuid4().hex,
        "captcha": captcha_widget(request), "signed_in": request.user.is_authenticated,
        "answer_days": answer_working_days(),
    }


def _number(text: str | None, errors: list[ErrorDetail]) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.append(ErrorDetail("invalid", _("Give the position as numbers."), "location"))
        return None
    return value


def _parse(request: HttpRequest) -> dict[str, Any]:
    """The form's fields as case_report arguments; raises InvalidInput naming each field at fault."""
    post = request.POST
    errors: list[ErrorDetail] = []
    request_type = post.get("request_type") or RequestType.REPORT
    if request_type not in RequestType.values:
        errors.append(ErrorDetail("invalid_choice", _("Choose what kind of request this is."), "request_type"))
    category = None
    category_id = post.get("category", "").strip()
    if not category_id:
        errors.append(ErrorDetail("required", _("Choose a category."), "category"))
    else:
        category = Category.objects.filter(pk=int(category_id), is_active=True).first() if category_id.isdigit() else None
        if category is None:
            errors.append(ErrorDetail("invalid_choice", _("Choose a category from the list."), "category"))
    asset = None
    if post.get("asset"):
        asset = Asset.objects.filter(code=post["asset"].strip()[:40], is_active=True).first()
    lon, lat = _number(post.get("lon"), errors), _number(post.get("lat"), errors)
    grid = None
    if lon is None or lat is None:
        lon = lat = None
        grid_code = post.get("grid", "").strip()
        if grid_code:
            grid = Grid.objects.select_related("region").filter(code=grid_code).first()
            if grid is None:
                errors.append(ErrorDetail("invalid_choice", _("Choose a grid from the list."), "grid"))
        elif asset is None:
            errors.append(ErrorDetail("location_required", _("Use your position, tap the map, or choose the village "
                                                             "and grid."), "location"))
    anonymous = post.get("anonymous") in ("on", "1", "true")
    email = "" if anonymous else post.get("email", "").strip()
    if email:
        from fengqiao.portal.services import _clean_email

        try:
            email = _clean_email(email)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    photos = [Photo(upload.read()) for upload in request.FILES.getlist("photos") if upload.size]
    if errors:
        raise InvalidInput("invalid_case", errors[0].message, errors=errors)
    return {
        "request_type": request_type, "category": category, "description": post.get("description", ""),
        "lon": lon, "lat": lat, "grid": grid, "asset": asset, "address": post.get("address", "").strip(),
        "is_public": post.get("is_public", "1") != "0", "anonymous": anonymous,
        "reporter_name": "" if anonymous else post.get("name", "").strip(),
        "reporter_phone": "" if anonymous else post.get("phone", "").strip(), "photos": photos,
        "idempotency_key": ("portal:" + post.get("idempotency_key", "").strip()[:80]) if post.get("idempotency_key")
        else None,
        "email": email,
    }


@never_cache
@require_http_methods(["GET", "POST"])
@limit_public_form("portal.report")
def report(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/report.html", _context(request, values=_prefill(request)))
    try:
        captcha_check(request)
        arguments = _parse(request)
        email = arguments.pop("email")
        actor = request.user if request.user.is_authenticated else AnonymousUser()
        with transaction.atomic():
            case = case_report(actor=actor, channel=Channel.RESIDENT, **arguments)
            if email:
                from fengqiao.portal.services import subscription_request

                subscription_request(email=email, case_number=case.number, own_request=True)
    except OperationalError:
        # the database is busy (SQLite's one writer under a burst): nothing was saved; the same form with
        # the same idempotency key may simply be sent again
        return busy(request)
    except DomainError as exc:
        if wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)
        values = request.POST.dict()
        values.pop("csrfmiddlewaretoken", None)
        context = _context(request, values=values, errors=errors_by_field(exc))
        return render(request, "portal/report.html", context, status=exc.status)
    code = case.tracking_code or ""
    url = reverse("portal:report_done", args=[code])
    if wants_json(request):  # the caller has the code in the answer: no session to write
        return JsonResponse({"tracking_code": code, "url": url,
                             "answer_due_at": case.answer_due_at.isoformat() if case.answer_due_at else None},
                            status=201)
    remember(request, SESSION_REPORTED, code)
    return redirect(url)


def busy(request: HttpRequest) -> HttpResponse:
    message = _("Many people are sending reports right now and nothing was saved. Please send it again in a moment.")
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse({"errors": [{"field": None, "code": "busy", "message": message}]}, status=503)
    else:
        response = render(request, "portal/rate_limited.html", {"message": message}, status=503)
    response["Retry-After"] = "2"
    return response


@never_cache
@require_GET
def report_done(request: HttpRequest, code: str) -> HttpResponse:
    """The tracking code, big and copyable, and what happens next; only in the browser that reported."""
    code = normalise_tracking_code(code)
    if code not in request.session.get(SESSION_REPORTED, {}):
        raise Http404(_("No such request."))
    case = Case.objects.filter(tracking_code=code).only("tracking_code", "answer_due_at", "request_type",
                                                         "reporter_phone", "anonymous").first()
    if case is None:
        raise Http404(_("No such request."))
    return render(request, "portal/report_done.html", {
        "case": case, "code": tracking_code_display(code), "raw_code": code,
        "has_phone": bool(case.reporter_phone), "answer_days": answer_working_days(),
    })
