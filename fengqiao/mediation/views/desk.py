"""The centre desk (矛调中心): the queue, intake, and the statistics.

Reads go through the mediation selectors (scoped by the actor), every write is one service call.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from fengqiao.core.errors import DomainError, InvalidInput, NotFound
from fengqiao.core.masking import mask_name
from fengqiao.geo.models import Grid, Region
from fengqiao.mediation import selectors, services
from fengqiao.mediation.forms import IntakeForm, PartyFormSet
from fengqiao.mediation.models import DisputeType, IntakeMode, Level, PartyRole
from fengqiao.mediation.selectors import DisputeFilters
from fengqiao.mediation.states import DisputeState
from fengqiao.mediation.views.common import is_htmx, is_overdue, next_deadline, put_error, require_centre
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.forms import new_idempotency_key

SEARCH_MAX = 100
LIST_LIMIT = 30


def _annotate(disputes: list[Any]) -> list[Any]:
    for d in disputes:
        d.deadline = next_deadline(d)
        d.late = is_overdue(d)
    return disputes


def _piles(actor: Any) -> list[dict[str, Any]]:
    queue = selectors.centre_queue(actor=actor)
    overdue = selectors.dispute_list(actor=actor, filters=DisputeFilters(open_only=True, overdue=True),
                                     limit=100).items
    piles = [
        ("high_risk", _("High risk, open"), queue["high_risk"]),
        ("overdue", _("Overdue"), overdue),
        ("to_assess", _("New: to assess"), queue["to_assess"]),
        ("to_assign", _("To assign a mediator"), queue["to_assign"]),
        ("replace_requested", _("A party asked for another mediator"), queue["replace_requested"]),
        ("failed", _("Mediation failed: refer or reopen"), queue["failed"]),
        ("not_performed", _("Agreement not performed"), queue["not_performed"]),
    ]
    return [{"key": key, "label": label, "items": _annotate(list(items))} for key, label, items in piles]


def _parse_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


@never_cache
@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """The centre's piles (high risk and overdue first), a search over all its disputes, and the
    statistics panel."""
    require_centre(request.user)
    actor = request.user
    text = request.GET.get("q", "").strip()[:SEARCH_MAX]
    state = request.GET.get("state", "")
    filters = DisputeFilters(text=text or None, states=[state] if state in DisputeState.values else None)
    try:
        page = selectors.dispute_list(actor=actor, filters=filters, cursor=request.GET.get("cursor") or None,
                                      limit=LIST_LIMIT)
        cursor_error = ""
    except InvalidInput as exc:
        page, cursor_error = selectors.dispute_list(actor=actor, filters=filters, limit=LIST_LIMIT), str(exc)
    context = {"q": text, "state": state, "states": DisputeState.choices, "page": page, "cursor_error": cursor_error,
               "found": _annotate(page.items)}
    if is_htmx(request) and request.htmx.target == "dispute-list":  # type: ignore[attr-defined]
        return render(request, "mediation/desk.html#list", context)
    context["piles"] = _piles(actor)
    context["stats"] = selectors.mediation_statistics(actor=actor)
    return render(request, "mediation/desk.html", context)


@never_cache
@login_required
@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    """The statistics of the centre's area for a period (registered in it)."""
    perms = permissions_for(request.user)
    if not (perms.may_ever(Action.MANAGE_DISPUTES) or perms.may_ever(Action.VIEW_STATISTICS)):
        require_centre(request.user)
    date_from, date_to = _parse_date(request.GET.get("from")), _parse_date(request.GET.get("to"))
    error, status = "", 200
    try:
        figures = selectors.mediation_statistics(actor=request.user, date_from=date_from, date_to=date_to)
    except DomainError as exc:
        error, status = str(exc.errors[0].message), exc.status if exc.status != 404 else 422
        figures = selectors.mediation_statistics(actor=request.user)
        date_from = date_to = None
    return render(request, "mediation/stats.html", {
        "stats": figures, "date_from": request.GET.get("from", "")[:10], "date_to": request.GET.get("to", "")[:10],
        "error": error, "period": (date_from, date_to)}, status=status)


# -- intake ------------------------------------------------------------------------------------------------
def _areas(actor: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(villages and townships, grids) in which the actor registers disputes."""
    perms = permissions_for(actor)
    regions = Region.objects.filter(level__in=["township", "village"]).order_by("code")
    grids = Grid.objects.select_related("region").order_by("code")
    if not perms.is_superuser:
        prefixes = perms.area_codes(Action.MANAGE_DISPUTES)
        scope_r, scope_g = Q(pk__in=[]), Q(pk__in=[])
        for prefix in prefixes:
            scope_r |= Q(code__startswith=prefix)
            scope_g |= Q(code__startswith=prefix)
        regions, grids = regions.filter(scope_r), grids.filter(scope_g)
    return ([(r.code, f"{r.name} ({r.code})") for r in regions],
            [(g.code, f"{g.region.name} · {g.name} ({g.code})") for g in grids])


def _types() -> list[tuple[int, str]]:
    return [(t.pk, ("\u3000" if t.parent_id else "") + t.name) for t in selectors.dispute_types()]


PARTY_FIELD = {"role", "kind", "name", "phone", "id_number", "address", "representative"}


def _apply_party_errors(formset: Any, exc: DomainError) -> list[str]:
    """Errors on parties[i].field go onto that party's form; the rest are returned."""
    rest = []
    for detail in exc.errors:
        name = detail.field or ""
        if name.startswith("parties[") and "]." in name:
            index_text, field_name = name[len("parties["):].split("].", 1)
            if index_text.isdigit() and int(index_text) < len(formset.forms) and field_name in PARTY_FIELD:
                form = formset.forms[int(index_text)]
                if not form.has_error(field_name):
                    form.add_error(field_name, str(detail.message))
                continue
        if name == "parties":
            rest.append(str(detail.message))
    return rest


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest) -> HttpResponse:
    """Register a dispute: type, summary, facts, claims, amount, intake mode, where, level, and the
    parties with their (protected) contact data. The parties' access codes are shown once."""
    require_centre(request.user)
    actor = request.user
    regions, grids = _areas(actor)
    types = _types()
    status = 200
    party_errors: list[str] = []
    if request.method == "POST":
        data = request.POST
        if "add_party" in data:
            # one more (empty) party form, keeping what was typed, without checking anything yet
            total = data.get("parties-TOTAL_FORMS", "2")
            count = min(int(total) if total.isdigit() else 2, 19)
            rows = [{k: data.get(f"parties-{i}-{k}", "") for k in PARTY_FIELD} for i in range(count)]
            form = IntakeForm(initial=data.dict(), types=types, regions=regions, grids=grids)
            formset = PartyFormSet(prefix="parties", initial=rows + [{"role": PartyRole.RESPONDENT}])
            return render(request, "mediation/intake.html", {"form": form, "formset": formset})
        form = IntakeForm(data, types=types, regions=regions, grids=grids)
        formset = PartyFormSet(data, prefix="parties")
        if form.is_valid() and formset.is_valid():
            d = form.cleaned_data
            dispute_type = DisputeType.objects.filter(pk=d["type"], is_active=True).first()
            grid = Grid.objects.select_related("region").filter(code=d["grid"]).first() if d["grid"] else None
            region = Region.objects.filter(code=d["region"]).first() if d["region"] else None
            parties = [services.PartyIn(**{k: f.cleaned_data.get(k, "") for k in PARTY_FIELD})
                       for f in formset.forms if f.cleaned_data]
            try:
                if dispute_type is None:
                    raise InvalidInput("invalid_choice", _("Choose the type of dispute."), field="type")
                dispute = services.dispute_register(
                    actor=actor, type=dispute_type, title=d["title"], facts=d["facts"], claims=d["claims"],
                    amount=d["amount"], intake_mode=d["intake_mode"], referred_by=d["referred_by"],
                    origin_case_number=d["origin_case_number"], region=region, grid=grid, level=d["level"],
                    parties=parties, idempotency_key=d["idempotency_key"] or None)
            except DomainError as exc:
                status = 422 if isinstance(exc, NotFound) else exc.status
                party_errors = _apply_party_errors(formset, exc)
                others = [e for e in exc.errors if not (e.field or "").startswith("parties")]
                if others:
                    put_error(form, type(exc)(others[0].code, others[0].message, errors=others))
                if exc.code == "idempotency_key_reused":
                    fresh = request.POST.copy()
                    fresh["idempotency_key"] = new_idempotency_key()
                    form.data = fresh
            else:
                codes = getattr(dispute, "issued_codes", {}) or {}
                handed = [{"role": p.get_role_display(), "name": mask_name(p.name), "code": codes.get(p.pk, ""),
                           "has_phone": bool(p.phone)} for p in dispute.parties.all()]
                return render(request, "mediation/registered.html", {"dispute": dispute, "handed": handed,
                                                                     "repeat": not codes})
        else:
            status = 422
            party_errors = [str(e) for e in formset.non_form_errors()]
    else:
        form = IntakeForm(initial={"idempotency_key": new_idempotency_key(), "intake_mode": IntakeMode.APPLICATION,
                                   "level": Level.TOWNSHIP}, types=types, regions=regions, grids=grids)
        formset = PartyFormSet(prefix="parties", initial=[{"role": PartyRole.APPLICANT},
                                                          {"role": PartyRole.RESPONDENT}])
    return render(request, "mediation/intake.html", {"form": form, "formset": formset, "party_errors": party_errors},
                  status=status)

