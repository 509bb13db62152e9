"""The command-centre desk (综合信息指挥室) for operators and dispatchers.

- the queue: new reports and accepted cases waiting for dispatch in the actor's scope, oldest first;
- the case panel: accept or reject, correct the category, merge a duplicate, dispatch with the
  routing suggestion and its reason, flag for supervision;
- the hotline entry form;
- bulk intake from a CSV file (checked first, then all rows or none).

Every write is one service call with the version the page showed; domain errors are shown on the
form that caused them, keeping what the user typed. HTMX swaps the queue and the panel in place;
without JavaScript every form is a plain post followed by a redirect.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.cases import services
from fengqiao.cases.catalogue import decode_csv
from fengqiao.cases.importing import COLUMNS, describe, take_in_file
from fengqiao.cases.models import Case, CaseAttachment, Category, Channel, Level, RequestType, Urgency
from fengqiao.cases.numbering import tracking_code_display
from fengqiao.cases.selectors import (
    CASE_LIST_RELATED,
    allowed_actions,
    case_get,
    case_scope_q,
    case_timeline,
    cases_visible_to,
    category_subtree_ids,
    category_tree,
    iter_tree,
)
from fengqiao.cases.states import CaseAction, CaseState
from fengqiao.core.errors import Conflict, DomainError, NotFound
from fengqiao.core.masking import mask_name, mask_phone
from fengqiao.geo.models import Grid
from fengqiao.org.models import Department, Platform
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.answers import ANSWER_FILTERS, clean_answer_filter, filter_by_answer, takes_answer
from fengqiao.web.forms import IdempotencyKeyField, VersionField, apply_domain_error, new_idempotency_key
from fengqiao.web.gridshapes import grid_shapes

DESK_ACTIONS = (Action.INTAKE_CASE, Action.DISPATCH_CASE)
QUEUE_STATES = (CaseState.REPORTED, CaseState.ACCEPTED)
QUEUE_PAGE_SIZE = 25
SEARCH_MAX = 100
PANEL_TARGETS = {"desk-detail", "desk-case"}
QUEUE_CHANGED = "deskQueueChanged"  # the HTMX event that makes the queue reload itself


def _require_desk(user: Any) -> None:
    """Only actors who may take in or dispatch cases somewhere work at the desk."""
    perms = permissions_for(user)
    if not any(perms.may_ever(action) for action in DESK_ACTIONS):
        raise PermissionDenied


# -- reads (read-only, scoped by the actor) ---------------------------------------------------------
@dataclass
class QueueFilters:
    state: str = ""  # "" both, or one of QUEUE_STATES
    category: str = ""  # a category code: that category and those below it
    platform: str = ""  # a platform code
    q: str = ""  # number, description or address contains
    answer: str = ""  # "", or a value of web.answers.ANSWER_FILTERS


def desk_queue(*, actor: Any, filters: QueueFilters, categories: list | None = None) -> QuerySet[Case]:
    """The desk's queue, oldest first: reported cases the actor may take in and accepted cases the
    actor may dispatch. `categories` is the category tree when the caller has it already."""
    intake = case_scope_q(actor, Action.INTAKE_CASE)
    dispatch = case_scope_q(actor, Action.DISPATCH_CASE)
    wanted = (Q(state=CaseState.REPORTED) & (intake if intake is not None else Q())) | (
        Q(state=CaseState.ACCEPTED) & (dispatch if dispatch is not None else Q()))
    qs = Case.objects.filter(wanted).select_related(*CASE_LIST_RELATED)
    if filters.state in QUEUE_STATES:
        qs = qs.filter(state=filters.state)
    if filters.category:
        tree = categories if categories is not None else category_tree()
        qs = qs.filter(category_id__in=category_subtree_ids(code=filters.category, tree=tree))
    if filters.platform:
        qs = qs.filter(platform__code=filters.platform)
    if filters.q:
        qs = qs.filter(Q(number__icontains=filters.q) | Q(description__icontains=filters.q)
                       | Q(address__icontains=filters.q))
    qs = filter_by_answer(qs, filters.answer)
    return qs.order_by("created_at", "pk")


def desk_duplicates(*, actor: Any, case: Case) -> list[Case]:
    """The possible duplicates found when the case was reported (its report event), as far as the
    actor may see them, in the order intake gave."""
    event = case.events.filter(action=CaseAction.REPORT).order_by("seq").only("payload").first()
    numbers = [str(n) for n in ((event.payload or {}).get("possible_duplicates") or [])] if event else []
    if not numbers:
        return []
    found = {c.number: c for c in cases_visible_to(actor).filter(number__in=numbers)
             .select_related(*CASE_LIST_RELATED).prefetch_related("attachments")}
    return [found[n] for n in numbers if n in found]


def desk_departments(*, case: Case, suggested: Department | None) -> list[Department]:
    """Active departments serving the case's township, village or county (township first), with
    the suggested department in any case."""
    codes = [case.area_code[:length] for length in (9, 12, 6) if len(case.area_code) >= length]
    rows = list(Department.objects.filter(is_active=True, region__code__in=codes)
                .select_related("region").order_by("code"))
    rank = {code: i for i, code in enumerate(codes)}
    rows.sort(key=lambda d: (rank.get(d.region.code, 99), d.code))
    if suggested is not None and all(d.pk != suggested.pk for d in rows):
        rows.insert(0, suggested)
    return rows


def desk_grids(*, actor: Any) -> list[Grid]:
    """The grids in which the actor takes hotline reports."""
    perms = permissions_for(actor)
    qs = Grid.objects.select_related("region").order_by("code")
    if not perms.is_superuser:
        prefixes = perms.area_codes(Action.INTAKE_CASE)
        if not prefixes:
            return []
        scope = Q()
        for prefix in prefixes:
            scope |= Q(code__startswith=prefix)
        qs = qs.filter(scope)
    return list(qs.only("code", "name", "parent", "region__name", "min_lon", "min_lat", "max_lon", "max_lat",
                        "geometry"))


def _category_options() -> list[tuple[int, str, str]]:
    """(id, code, label) of every active category, parents before children."""
    return [(node.id, node.code, "\u3000" * node.depth + f"{node.code} {node.name}")
            for node in iter_tree(category_tree())]


# -- forms -----------------------------------------------------------------------------------------
class _ActionForm(forms.Form):
    version = VersionField()
    reason = forms.CharField(required=False, max_length=services.REASON_MAX, strip=True)


class AcceptForm(_ActionForm):
    pass


class RejectForm(_ActionForm):
    reason = forms.CharField(max_length=services.REASON_MAX, strip=True,
                             error_messages={"required": gettext_lazy("Give a reason.")})


class FlagForm(_ActionForm):
    pass


class MergeForm(_ActionForm):
    master_number = forms.CharField(max_length=40)


class RecategoriseForm(_ActionForm):
    category = forms.TypedChoiceField(coerce=int, error_messages={
        "required": gettext_lazy("Choose a category."), "invalid_choice": gettext_lazy("Choose a category.")})

    def __init__(self, *args, categories: list[tuple[int, str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(pk, label) for pk, _code, label in categories]  # type: ignore[attr-defined]


class DispatchForm(_ActionForm):
    department = forms.TypedChoiceField(coerce=int, error_messages={
        "required": gettext_lazy("Choose a department."), "invalid_choice": gettext_lazy("Choose a department.")})

    def __init__(self, *args, departments: list[Department], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [(d.pk, str(d)) for d in departments]  # type: ignore[attr-defined]


ACTION_FORMS: dict[str, type[_ActionForm]] = {
    "accept": AcceptForm, "reject": RejectForm, "recategorise": RecategoriseForm, "merge": MergeForm,
    "dispatch": DispatchForm, "flag": FlagForm,
}


class HotlineForm(forms.Form):
    caller_name = forms.CharField(label=gettext_lazy("Caller's name"), max_length=100, required=False,
                                  widget=forms.TextInput(attrs={"autocomplete": "off"}))
    caller_phone = forms.CharField(label=gettext_lazy("Caller's phone"), max_length=40, required=False,
                                   widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    category = forms.TypedChoiceField(label=gettext_lazy("Category"), coerce=int, error_messages={
        "required": gettext_lazy("Choose a category."), "invalid_choice": gettext_lazy("Choose a category.")})
    description = forms.CharField(label=gettext_lazy("What is the matter?"), max_length=services.DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 4}), error_messages={"required": gettext_lazy("Describe the matter.")})
    urgency = forms.ChoiceField(label=gettext_lazy("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    address = forms.CharField(label=gettext_lazy("Address"), max_length=300, required=False)
    lon = forms.FloatField(label=gettext_lazy("Longitude"), required=False, min_value=-180, max_value=180,
                           widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    lat = forms.FloatField(label=gettext_lazy("Latitude"), required=False, min_value=-90, max_value=90,
                           widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    grid = forms.ChoiceField(label=gettext_lazy("Grid"), required=False)
    idempotency_key = IdempotencyKeyField()

    # the services' field names -> this form's
    FIELD_MAP = {"reporter_name": "caller_name", "reporter_phone": "caller_phone", "location": "lon"}

    def __init__(self, *args, categories: list[tuple[int, str, str]], grids: list[Grid], **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Choose a category"))] + [  # type: ignore[attr-defined]
            (pk, label) for pk, _code, label in categories]
        self.fields["grid"].choices = [("", _("Located by the point"))] + [  # type: ignore[attr-defined]
            (g.code, f"{g.region.name} · {g.name} ({g.code})") for g in grids]


IMPORT_CHANNELS = (Channel.IMPORT, Channel.HOTLINE, Channel.SENSOR, Channel.API, Channel.OPEN311)
# a page waits for its answer: larger files go through `fengqiao cases import`
WEB_IMPORT_MAX_ROWS = 5000
WEB_IMPORT_MAX_BYTES = 2 * 1024 * 1024


class ImportForm(forms.Form):
    """A CSV file, or the text of one checked before (sent back with the page, so that taking it
    in needs no second upload; it is checked again in full)."""

    file = forms.FileField(label=gettext_lazy("CSV file"), required=False,
                           error_messages={"empty": gettext_lazy("The file is empty.")},
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    text = forms.CharField(widget=forms.HiddenInput, required=False, strip=False)
    file_name = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)
    channel = forms.ChoiceField(label=gettext_lazy("The reports came through"), initial=Channel.IMPORT,
                                required=False, choices=[(c.value, c.label) for c in IMPORT_CHANNELS])
    # a second click, or the browser sending the form again, takes the file in once
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload, text = cleaned.get("file"), cleaned.get("text") or ""
        too_large = _("The file is larger than %(mb)d MB; take it in with the command line.") % {
            "mb": WEB_IMPORT_MAX_BYTES // (1024 * 1024)}
        if upload:
            if upload.size > WEB_IMPORT_MAX_BYTES:
                self.add_error("file", too_large)
                return cleaned
            try:
                cleaned["text"], cleaned["file_name"] = decode_csv(upload.read()), upload.name
            except DomainError as exc:
                self.add_error("file", str(exc))
        elif len(text.encode()) > WEB_IMPORT_MAX_BYTES:
            self.add_error("file", too_large)
        elif not text and not self.has_error("file"):
            self.add_error("file", _("Choose a file."))
        cleaned["channel"] = cleaned.get("channel") or Channel.IMPORT
        return cleaned


# -- rendering helpers -----------------------------------------------------------------------------
def _is_panel_request(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and htmx.target in PANEL_TARGETS


def _case_or_404(actor: Any, number: str) -> Case:
    try:
        return case_get(actor=actor, number=number)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def _suggestion(case: Case):
    return services.suggest_route(case=case, min_level=Level(case.level) if case.level != Level.GRID else None)


def _panel_context(request: HttpRequest, case: Case, *, bound: tuple[str, forms.Form] | None = None,
                   notice: str = "", alert: str = "") -> dict[str, Any]:
    actor = request.user
    may = {a.value for a in allowed_actions(actor=actor, case=case)}
    allowed = may & set(ACTION_FORMS)  # what this panel offers
    # the forms the Actions section shows (merging is offered beside each possible duplicate)
    shown = allowed & {"accept", "reject", "dispatch", "recategorise"}
    if "flag" in allowed and not case.supervised:
        shown.add("flag")
    suggestion = _suggestion(case) if "dispatch" in allowed else None
    departments = desk_departments(case=case, suggested=suggestion.department if suggestion else None) \
        if "dispatch" in allowed else []
    categories = _category_options() if "recategorise" in allowed else []
    initial = {"version": case.version}
    built: dict[str, forms.Form] = {
        "accept": AcceptForm(initial=initial), "reject": RejectForm(initial=initial),
        "flag": FlagForm(initial=initial), "merge": MergeForm(initial=initial),
        "recategorise": RecategoriseForm(initial={**initial, "category": case.category_id}, categories=categories),
        "dispatch": DispatchForm(initial={**initial, "department": suggestion.department.pk if suggestion else None},
                                 departments=departments),
    }
    if bound is not None:
        built[bound[0]] = bound[1]
    attachments = list(case.attachments.order_by("created_at", "pk"))
    return {
        "case": case, "allowed": allowed, "forms": built, "suggestion": suggestion, "departments": departments,
        "categories": categories, "duplicates": desk_duplicates(actor=actor, case=case) if allowed & {"merge"} else [],
        "report_photos": [a for a in attachments if a.kind == CaseAttachment.Kind.REPORT],
        "other_photos": [a for a in attachments if a.kind != CaseAttachment.Kind.REPORT],
        "timeline": case_timeline(case=case), "notice": notice, "alert": alert,
        "shown": shown, "next_step": "" if shown & {"accept", "reject", "dispatch"} else _next_step(case),
        "tracking_code": tracking_code_display(case.tracking_code), "takes_answer": takes_answer(case),
        "may_answer": CaseAction.ANSWER.value in may and takes_answer(case),
        "reporter": {"anonymous": case.anonymous, "name": mask_name(case.reporter_name),
                     "phone": mask_phone(case.reporter_phone)},
    }


def _next_step(case: Case) -> str:
    """A sentence saying what happens to the case now, when the desk has nothing to do on it."""
    department = case.lead_department.name if case.lead_department else _("the lead department")
    steps = {
        CaseState.DISPATCHED: _("Dispatched to %(department)s, which starts handling it and reports back by "
                                "the deadline. Nothing more is needed at the desk."),
        CaseState.IN_PROGRESS: _("%(department)s is handling it and reports back when it is done."),
        CaseState.HANDLED: _("%(department)s reported back; the grid worker checks the result on the spot."),
        CaseState.CLOSED: _("Closed. The resident may rate the result."),
        CaseState.RATED: _("Closed and rated. Nothing more happens to this case."),
        CaseState.REJECTED: _("Rejected. Nothing more happens to this case."),
        CaseState.MERGED: _("Merged into another case, which goes on in its place."),
        CaseState.SUSPENDED: _("Suspended: its clock stands still until it is resumed."),
        CaseState.PARKED: _("Parked: it cannot be solved now and stays visible in the reports."),
    }
    text = steps.get(CaseState(case.state), _("Nothing for the desk to do on this case now."))
    return text % {"department": department}


def _render_panel(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if _is_panel_request(request):
        # HTMX swaps only 2xx answers: errors come back as 200 with the form showing them
        return render(request, "web/desk/case.html#panel", context)
    return render(request, "web/desk/case.html", context, status=status)


# -- views -----------------------------------------------------------------------------------------
def _queue_filters(request: HttpRequest) -> QueueFilters:
    get = request.GET
    state = get.get("state", "")
    return QueueFilters(state=state if state in QUEUE_STATES else "", category=get.get("category", "")[:30],
                        platform=get.get("platform", "")[:30], q=get.get("q", "").strip()[:SEARCH_MAX],
                        answer=clean_answer_filter(get.get("answer")))


@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """The queue, oldest first, with filters; the case panel opens beside it."""
    _require_desk(request.user)
    filters = _queue_filters(request)
    tree = category_tree()
    page = Paginator(desk_queue(actor=request.user, filters=filters, categories=tree),
                     QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page, "filters": filters, "query": query.urlencode(),
        "states": [(s.value, s.label) for s in QUEUE_STATES],
        "categories": [(node.code, "\u3000" * node.depth + f"{node.code} {node.name}") for node in iter_tree(tree)],
        "platforms": list(Platform.objects.order_by("order", "code")),
        "answer_filters": ANSWER_FILTERS,
    }
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "desk-queue":
        return render(request, "web/desk/desk.html#queue", context)
    return render(request, "web/desk/desk.html", context)


@login_required
@require_GET
def case_panel(request: HttpRequest, number: str) -> HttpResponse:
    _require_desk(request.user)
    case = _case_or_404(request.user, number)
    return _render_panel(request, _panel_context(request, case))


SUCCESS = {
    "accept": gettext_lazy("Case accepted."),
    "reject": gettext_lazy("Case rejected."),
    "recategorise": gettext_lazy("Category corrected."),
    "merge": gettext_lazy("Merged as a duplicate of %(master)s."),
    "dispatch": gettext_lazy("Dispatched to %(department)s."),
    "flag": gettext_lazy("Flagged for supervision."),
}


def _perform(action: str, actor: Any, case: Case, data: dict[str, Any], *, departments: list[Department]) -> Case:
    common = {"actor": actor, "number": case.number, "expected_version": data["version"],
              "reason": data.get("reason") or ""}
    if action == "accept":
        return services.case_accept(**common)
    if action == "reject":
        return services.case_reject(**common)
    if action == "flag":
        return services.case_flag(**common)
    if action == "merge":
        return services.case_merge(master_number=data["master_number"], **common)
    if action == "recategorise":
        category = Category.objects.filter(pk=data["category"]).first()
        if category is None:
            raise NotFound("not_found", _("Choose a category."), field="category")
        return services.case_recategorise(category=category, **common)
    if action == "dispatch":
        department = next(d for d in departments if d.pk == data["department"])
        return services.case_dispatch(department=department, **common)
    raise Http404


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """One action on the case, with the version the page showed (a stale one reloads the case)."""
    _require_desk(request.user)
    if action not in ACTION_FORMS:
        raise Http404
    actor = request.user
    case = _case_or_404(actor, number)
    extra: dict[str, Any] = {}
    departments: list[Department] = []
    if action == "recategorise":
        extra["categories"] = _category_options()
    elif action == "dispatch":
        suggestion = _suggestion(case) if case.state == CaseState.ACCEPTED else None
        departments = extra["departments"] = desk_departments(
            case=case, suggested=suggestion.department if suggestion else None)
    form = ACTION_FORMS[action](request.POST, **extra)
    alert, status = "", 422
    if form.is_valid():
        try:
            updated = _perform(action, actor, case, form.cleaned_data, departments=departments)
        except DomainError as exc:
            if isinstance(exc, NotFound) and exc.errors[0].field is None:
                raise Http404(str(exc)) from exc
            status = exc.status
            if isinstance(exc, Conflict) and exc.code == "stale_version":
                alert = _("Someone changed this case while you had it open. It is shown below as it is now; "
                          "check it and try again.")
            elif exc.errors[0].field in (None, "") or action == "merge":
                alert = "; ".join(str(e.message) for e in exc.errors)
                apply_domain_error(form, exc)
            else:
                apply_domain_error(form, exc)
        else:
            notice = str(SUCCESS[action]) % {
                "master": form.cleaned_data.get("master_number", ""),
                "department": updated.lead_department or "",
            }
            if _is_panel_request(request):
                # the case may have left the queue: the queue reloads itself
                fresh = _case_or_404(actor, number)
                response = _render_panel(request, _panel_context(request, fresh, notice=notice))
                response["HX-Trigger"] = QUEUE_CHANGED
                return response
            messages.success(request, notice)
            return redirect("web:desk_case", number=number)
    else:
        if "version" in form.errors:
            alert = " ".join(str(e) for e in form.errors["version"])
    # the case as it is now, with the form as the user typed it (the hidden version is the current one)
    case = _case_or_404(actor, number)
    return _render_panel(request, _panel_context(request, case, bound=(action, form), alert=alert), status=status)


@login_required
@require_http_methods(["GET", "POST"])
def hotline(request: HttpRequest) -> HttpResponse:
    """Take a call: the caller (optional, protected), the matter, and where it is."""
    _require_desk(request.user)
    actor = request.user
    categories, grids = _category_options(), desk_grids(actor=actor)
    status = 200
    if request.method == "POST":
        form = HotlineForm(request.POST, categories=categories, grids=grids)
        if form.is_valid():
            data = form.cleaned_data
            category = Category.objects.filter(pk=data["category"]).first()
            grid = (Grid.objects.select_related("region").filter(code=data["grid"]).first()
                    if data["grid"] else None)
            try:
                if category is None:
                    raise NotFound("not_found", _("Choose a category."), field="category")
                case = services.case_report(
                    actor=actor, channel=Channel.HOTLINE, category=category, description=data["description"],
                    lon=data["lon"], lat=data["lat"], grid=grid, address=data["address"], urgency=data["urgency"],
                    reporter_name=data["caller_name"], reporter_phone=data["caller_phone"],
                    idempotency_key=data["idempotency_key"] or None,
                )
            except DomainError as exc:
                apply_domain_error(form, exc, HotlineForm.FIELD_MAP)
                status = 422 if isinstance(exc, NotFound) else exc.status
                if exc.code == "idempotency_key_reused":
                    # this form was sent before with other values: a new key lets the corrected one through
                    data = request.POST.copy()
                    data["idempotency_key"] = new_idempotency_key()
                    form.data = data
            else:
                messages.success(request, _("Case %(number)s taken in from the hotline.") % {"number": case.number})
                return redirect("web:desk_case", number=case.number)
        else:
            status = 422
    else:
        form = HotlineForm(initial={"idempotency_key": new_idempotency_key(), "urgency": Urgency.NORMAL},
                           categories=categories, grids=grids)
    return render(request, "web/desk/hotline.html", {"form": form, "shapes": grid_shapes(grids)},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
def import_file(request: HttpRequest) -> HttpResponse:
    """Take in a CSV file of reports: "Check" reads and checks every row and writes nothing; "Take
    in" writes them all, or none when a row fails. The failing rows are listed by line."""
    _require_desk(request.user)
    if not permissions_for(request.user).may_ever(Action.INTAKE_CASE):
        raise PermissionDenied
    status, problems, checked = 200, [], None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            dry_run = "check" in request.POST
            try:
                cases = take_in_file(actor=request.user, file=io.StringIO(data["text"]), channel=data["channel"],
                                     dry_run=dry_run, max_rows=WEB_IMPORT_MAX_ROWS,
                                     idempotency_key=None if dry_run else data["idempotency_key"] or None)
            except DomainError as exc:
                form.add_error(None, str(exc))
                problems = describe(exc.errors) if exc.code != "too_many_rows" else []
                status = 422
            else:
                if not dry_run:
                    messages.success(request, _("%(n)d cases taken in from %(file)s.")
                                     % {"n": len(cases), "file": data["file_name"] or _("the file")})
                    return redirect("web:desk")
                checked = {"rows": len(cases), "text": data["text"], "file_name": data["file_name"],
                           "channel": data["channel"], "idempotency_key": new_idempotency_key()}
        else:
            status = 422
    else:
        form = ImportForm(initial={"idempotency_key": new_idempotency_key()})
    return render(request, "web/desk/import.html", {
        "form": form, "problems": problems, "checked": checked,
        "max_rows": WEB_IMPORT_MAX_ROWS, "urgencies": Urgency.choices, "request_types": RequestType.choices},
        status=status)


@login_required
@require_GET
def import_template(request: HttpRequest) -> HttpResponse:
    """A CSV file with the header and one example row that can be taken in as it is."""
    _require_desk(request.user)
    import csv

    grid = desk_grids(actor=request.user)[:1]
    category = Category.objects.filter(is_active=True, children__isnull=True).order_by("code").first()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="fengqiao-reports.csv"'
    response.write("\ufeff")  # a spreadsheet then reads the file as UTF-8
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    example = {"category": category.code if category else "", "description": _("Example: a street light is out"),
               "grid": grid[0].code if grid else "", "urgency": Urgency.NORMAL, "public": "yes", "anonymous": "no"}
    writer.writerow([example.get(column, "") for column in COLUMNS])
    return response
