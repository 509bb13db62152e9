"""The department handler's inbox ("My cases") and the staff case page with its actions.

Views are thin: they read through the case selectors (scoped by the actor), call one service per
action, and turn domain errors into form errors, keeping what the user typed. Out-of-scope cases
are "not found". Every action posts the version of the case the user saw (`expected_version`);
a stale version shows the fresh case and explains.
"""

from __future__ import annotations

import math
import mimetypes
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from fengqiao.cases import selectors, services
from fengqiao.cases.models import LEVEL_ORDER, Case, CaseAttachment, Level
from fengqiao.cases.numbering import tracking_code_display
from fengqiao.cases.selectors import case_get, case_timeline, cases_visible_to, category_tree, iter_tree
from fengqiao.cases.states import OPEN_STATES, CaseAction, CaseState
from fengqiao.core.errors import Conflict, DomainError, InvalidInput, NotFound
from fengqiao.core.images import max_bytes_setting
from fengqiao.core.masking import mask_name, mask_phone
from fengqiao.org.models import Department
from fengqiao.org.permissions import Action, permissions_for
from fengqiao.web.answers import ANSWER_FILTERS, clean_answer_filter, filter_by_answer, takes_answer

A = CaseAction
S = CaseState
INBOX_PAGE_SIZE = 25
SEARCH_MAX = 100
DONE_TOKENS_KEPT = 50
DONE_TOKENS_SESSION_KEY = "case_form_tokens"


# -- reads the pages need (read-only helpers over the case selectors) -----------------------------
def _nearby_departments(case: Case) -> QuerySet[Department]:
    """Active departments serving the case's area: its village, township and county."""
    code = case.area_code
    prefixes = {code[:n] for n in (6, 9, 12) if len(code) >= n}
    return Department.objects.filter(is_active=True, region__code__in=prefixes).order_by("region__code", "code")


# -- forms: one per action; services validate the rest -------------------------------------------
class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several files; the view reads them from request.FILES and the service judges their content."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, list | tuple):
            return [super(PhotosField, self).clean(item, initial) for item in data]
        return super().clean(data, initial)


def _text(label: str, *, required: bool = False, rows: int = 3, help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=services.REASON_MAX, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": rows}))


class ActionForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args: Any, case: Case | None = None, actor: Any = None, **kwargs: Any):
        self.case, self.actor = case, actor
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PlainForm(ActionForm):
    """No input: a button."""


class OptionalReasonForm(ActionForm):
    reason = _text(gettext_lazy("Note (optional)"), rows=2)


class ReasonForm(ActionForm):
    reason = _text(gettext_lazy("Reason"), required=True)


class ReportBackForm(ActionForm):
    result = _text(gettext_lazy("What was done"), required=True, rows=4)
    photos = PhotosField(label=gettext_lazy("Photos after handling"),
                         help_text=gettext_lazy("JPEG, PNG or WebP; up to 9."))


class RequestExtensionForm(ActionForm):
    working_days = forms.IntegerField(label=gettext_lazy("Working days"), min_value=1, max_value=60)
    reason = _text(gettext_lazy("Reason"), required=True)


class DecideExtensionForm(ActionForm):
    approve = forms.TypedChoiceField(label=gettext_lazy("Decision"), widget=forms.RadioSelect, coerce=lambda v: v == "1",
                                     choices=[("1", gettext_lazy("approve")), ("0", gettext_lazy("refuse"))])
    working_days = forms.IntegerField(label=gettext_lazy("Working days (empty: as asked)"), min_value=1,
                                      max_value=60, required=False)
    reason = _text(gettext_lazy("Note (optional)"), rows=2)


class RequestAssistForm(ActionForm):
    departments = forms.MultipleChoiceField(label=gettext_lazy("Departments"), widget=forms.CheckboxSelectMultiple)
    reason = _text(gettext_lazy("What they should do (optional)"), rows=2)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.case is not None
        taken = {a.department_id for a in self.case.assists.all()} | {self.case.lead_department_id}
        self.fields["departments"].choices = [(d.code, d.name) for d in _nearby_departments(self.case)
                                              if d.pk not in taken]


class AssistReportForm(ActionForm):
    department = forms.ChoiceField(label=gettext_lazy("For department"))
    report = _text(gettext_lazy("What your department did"), required=True, rows=4)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [(a.department.code, a.department.name)
                                             for a in _own_pending_assists(self.case, self.actor)]


class VerifyForm(ActionForm):
    passed = forms.TypedChoiceField(label=gettext_lazy("Result of the check"), widget=forms.RadioSelect,
                                    coerce=lambda v: v == "1",
                                    choices=[("1", gettext_lazy("passed: the matter is solved")),
                                             ("0", gettext_lazy("failed: send back for rework"))])
    note = _text(gettext_lazy("Note (required when failed)"), rows=3)
    photos = PhotosField(label=gettext_lazy("Photos of the check"), help_text=gettext_lazy("JPEG, PNG or WebP; up to 9."))


class AnswerForm(ActionForm):
    text = _text(gettext_lazy("Your answer to the resident"), required=True, rows=5,
                 help_text=gettext_lazy("Shown on the resident's tracking page and sent to them. Write plainly; "
                                        "leave out other people's names and phone numbers."))


class RateForm(ActionForm):
    rating = forms.TypedChoiceField(label=gettext_lazy("Rating"), widget=forms.RadioSelect, coerce=int,
                                    choices=[(str(n), str(n)) for n in range(5, 0, -1)])
    comment = _text(gettext_lazy("Comment (optional)"), rows=2)


class DispatchForm(ActionForm):
    department = forms.ChoiceField(label=gettext_lazy("Department"), required=False)
    reason = _text(gettext_lazy("Note (optional)"), rows=2)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.case is not None
        self.fields["department"].choices = [("", _("the routing suggestion"))] + [
            (d.code, d.name) for d in _nearby_departments(self.case)]


class MergeForm(ActionForm):
    master_number = forms.CharField(label=gettext_lazy("Number of the case it duplicates"), max_length=40)
    reason = _text(gettext_lazy("Note (optional)"), rows=2)


class RecategoriseForm(ActionForm):
    category = forms.ChoiceField(label=gettext_lazy("Category"))
    reason = _text(gettext_lazy("Note (optional)"), rows=2)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(n.code, "\u3000" * n.depth + f"{n.code} {n.name}")
                                           for n in iter_tree(category_tree())]


def _own_pending_assists(case: Case | None, actor: Any) -> list:
    if case is None:
        return []
    perms = permissions_for(actor)
    return [a for a in case.assists.all() if a.reported_at is None and perms.can(Action.HANDLE_CASE, a.department)]


# -- the actions: form, how to call the service, and when to offer them ---------------------------
def _department_by_code(code: str, field: str) -> Department:
    department = Department.objects.select_related("region").filter(code=code, is_active=True).first()
    if department is None:
        raise InvalidInput("invalid_choice", _("Unknown or inactive department: %(code)s.") % {"code": code},
                                    field=field)
    return department


def _category_by_code(code: str) -> Any:
    from fengqiao.cases.models import Category

    category = Category.objects.filter(code=code).first()
    if category is None:
        raise InvalidInput("invalid_choice", _("Unknown category: %(code)s.") % {"code": code},
                                    field="category")
    return category


@dataclass(frozen=True)
class ActionSpec:
    action: CaseAction
    form: type[ActionForm]
    call: Callable[..., Case]  # (actor, number, version, cleaned data, photos) -> case
    button: Any  # the submit button's label
    primary: bool = False  # opened by default on the page
    offer: Callable[[Case, Any], bool] = lambda case, actor: True  # extra conditions beyond the table
    multipart: bool = False


def _c(service: Callable[..., Case], *names: str) -> Callable[..., Case]:
    """Call `service` with the named cleaned fields."""

    def call(actor: Any, number: str, version: int, data: dict, photos: list) -> Case:
        return service(actor=actor, number=number, expected_version=version, **{n: data.get(n) or "" for n in names})

    return call


def _call_report_back(actor, number, version, data, photos):
    return services.case_report_back(actor=actor, number=number, expected_version=version, result=data["result"],
                                     photos=photos)


def _call_verify(actor, number, version, data, photos):
    return services.case_verify(actor=actor, number=number, expected_version=version, passed=data["passed"],
                                note=data.get("note") or "", photos=photos)


def _call_extension(actor, number, version, data, photos):
    return services.case_request_extension(actor=actor, number=number, expected_version=version,
                                           working_days=data["working_days"], reason=data["reason"])


def _call_decide(actor, number, version, data, photos):
    return services.case_decide_extension(actor=actor, number=number, expected_version=version,
                                          approve=data["approve"], working_days=data.get("working_days"),
                                          reason=data.get("reason") or "")


def _call_assist(actor, number, version, data, photos):
    departments = [_department_by_code(code, "departments") for code in data["departments"]]
    return services.case_request_assist(actor=actor, number=number, expected_version=version,
                                        departments=departments, reason=data.get("reason") or "")


def _call_assist_report(actor, number, version, data, photos):
    return services.case_assist_report(actor=actor, number=number, expected_version=version,
                                       department=_department_by_code(data["department"], "department"),
                                       report=data["report"])


def _call_answer(actor, number, version, data, photos):
    return services.case_answer(actor=actor, number=number, expected_version=version, text=data["text"])


def _call_rate(actor, number, version, data, photos):
    return services.case_rate(actor=actor, number=number, expected_version=version, rating=data["rating"],
                              comment=data.get("comment") or "")


def _call_dispatch(actor, number, version, data, photos):
    code = data.get("department")
    return services.case_dispatch(actor=actor, number=number, expected_version=version,
                                  department=_department_by_code(code, "department") if code else None,
                                  reason=data.get("reason") or "")


def _call_merge(actor, number, version, data, photos):
    return services.case_merge(actor=actor, number=number, expected_version=version,
                               master_number=data["master_number"].strip(), reason=data.get("reason") or "")


def _call_recategorise(actor, number, version, data, photos):
    return services.case_recategorise(actor=actor, number=number, expected_version=version,
                                      category=_category_by_code(data["category"]), reason=data.get("reason") or "")


def _below_county(case: Case, actor: Any) -> bool:
    return LEVEL_ORDER.index(Level(case.level)) + 1 < len(LEVEL_ORDER)


# The order is the page's order (and so the tab order): the usual next step first.
SPECS: list[ActionSpec] = [
    ActionSpec(A.START, PlainForm, _c(services.case_start), gettext_lazy("Start handling"), primary=True),
    ActionSpec(A.REPORT_BACK, ReportBackForm, _call_report_back, gettext_lazy("Report back"), primary=True,
               multipart=True),
    ActionSpec(A.ASSIST_REPORT, AssistReportForm, _call_assist_report, gettext_lazy("Report our part"), primary=True,
               offer=lambda case, actor: bool(_own_pending_assists(case, actor))),
    ActionSpec(A.VERIFY, VerifyForm, _call_verify, gettext_lazy("Record the check"), primary=True, multipart=True),
    ActionSpec(A.ANSWER, AnswerForm, _call_answer, gettext_lazy("Send the answer"),
               offer=lambda case, actor: takes_answer(case)),
    ActionSpec(A.ACCEPT, OptionalReasonForm, _c(services.case_accept, "reason"), gettext_lazy("Accept")),
    ActionSpec(A.DISPATCH, DispatchForm, _call_dispatch, gettext_lazy("Dispatch")),
    ActionSpec(A.REJECT, ReasonForm, _c(services.case_reject, "reason"), gettext_lazy("Reject")),
    ActionSpec(A.RECATEGORISE, RecategoriseForm, _call_recategorise, gettext_lazy("Change the category")),
    ActionSpec(A.MERGE, MergeForm, _call_merge, gettext_lazy("Merge")),
    ActionSpec(A.REQUEST_EXTENSION, RequestExtensionForm, _call_extension, gettext_lazy("Request the extension"),
               offer=lambda case, actor: not case.extension_requested),
    ActionSpec(A.DECIDE_EXTENSION, DecideExtensionForm, _call_decide, gettext_lazy("Decide"),
               offer=lambda case, actor: case.extension_requested),
    ActionSpec(A.REQUEST_ASSIST, RequestAssistForm, _call_assist, gettext_lazy("Ask for assistance")),
    ActionSpec(A.ESCALATE, ReasonForm, _c(services.case_escalate, "reason"), gettext_lazy("Escalate"),
               offer=_below_county),
    ActionSpec(A.RETURN, ReasonForm, _c(services.case_return, "reason"), gettext_lazy("Return the case")),
    ActionSpec(A.RATE, RateForm, _call_rate, gettext_lazy("Rate")),
    ActionSpec(A.REOPEN, ReasonForm, _c(services.case_reopen, "reason"), gettext_lazy("Reopen")),
    ActionSpec(A.FLAG, OptionalReasonForm, _c(services.case_flag, "reason"), gettext_lazy("Flag"),
               offer=lambda case, actor: not case.supervised),
    ActionSpec(A.REMIND, OptionalReasonForm, _c(services.case_remind, "reason"), gettext_lazy("Send the reminder")),
    ActionSpec(A.SUSPEND, ReasonForm, _c(services.case_suspend, "reason"), gettext_lazy("Suspend")),
    ActionSpec(A.RESUME, OptionalReasonForm, _c(services.case_resume, "reason"), gettext_lazy("Resume")),
    ActionSpec(A.PARK, ReasonForm, _c(services.case_park, "reason"), gettext_lazy("Park")),
    ActionSpec(A.UNPARK, OptionalReasonForm, _c(services.case_unpark, "reason"), gettext_lazy("Take out of parking")),
]
SPEC_BY_NAME = {spec.action.value: spec for spec in SPECS}


def allowed_actions(actor: Any, case: Case) -> list[ActionSpec]:
    """The actions the actor may take on the case now: the state is a source of the transition,
    the resolver grants one of its permissions over the case, and the action makes sense now."""
    allowed = set(selectors.allowed_actions(actor=actor, case=case))
    return [spec for spec in SPECS if spec.action in allowed and spec.offer(case, actor)]


# -- page pieces -----------------------------------------------------------------------------------
def _map(case: Case) -> dict | None:
    """The grid's outline and the case's point as SVG paths in a 240 x 160 box (north up)."""
    rings: list[list[list[float]]] = []
    geometry = case.grid.geometry if case.grid is not None else None
    if isinstance(geometry, dict):
        if geometry.get("type") == "Polygon":
            rings = [geometry["coordinates"][0]]
        elif geometry.get("type") == "MultiPolygon":
            rings = [polygon[0] for polygon in geometry["coordinates"]]
    points = [p for ring in rings for p in ring]
    if case.lon is not None and case.lat is not None:
        points.append([case.lon, case.lat])
    if not points:
        return None
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    squash = math.cos(math.radians((south + north) / 2)) or 1.0
    span_x, span_y = max((east - west) * squash, 1e-6), max(north - south, 1e-6)
    width, height, pad = 240.0, 160.0, 12.0
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return round(off_x + (lon - west) * squash * scale, 1), round(height - off_y - (lat - south) * scale, 1)

    paths = []
    for ring in rings:
        coords = [xy(float(p[0]), float(p[1])) for p in ring]
        paths.append("M" + " L".join(f"{x} {y}" for x, y in coords) + " Z")
    dot = xy(case.lon, case.lat) if case.lon is not None and case.lat is not None else None
    return {"paths": paths, "dot": dot, "width": int(width), "height": int(height)}


def _reporter(case: Case) -> str:
    if case.anonymous:
        return _("anonymous")
    parts = [mask_name(case.reporter_name), mask_phone(case.reporter_phone)]
    shown = " ".join(p for p in parts if p)
    if shown:
        return shown
    return _("a staff member or registered user") if case.reporter_user_id else _("not given")


def _timeline_item(event: Any) -> dict:
    payload = event.payload or {}
    detail = ""
    if event.action == A.VERIFY:
        detail = _("passed") if payload.get("passed") else _("failed")
    elif event.action == A.REQUEST_EXTENSION and payload.get("working_days"):
        detail = _("%(n)s working days asked") % {"n": payload["working_days"]}
    elif event.action == A.DECIDE_EXTENSION:
        detail = (_("approved: %(n)s working days") % {"n": payload.get("working_days")} if payload.get("approved")
                  else _("refused"))
    elif event.action == A.RATE and payload.get("rating"):
        detail = f"{payload['rating']}/5"
    moved = bool(event.to_state and event.to_state != event.from_state)
    return {"e": event, "detail": detail, "answer": event.action == A.ANSWER, "public": bool(event.is_public),
            "to_label": CaseState(event.to_state).label if moved and event.to_state in CaseState.values else ""}


def _opens(spec: ActionSpec, case: Case) -> bool:
    """Open by default: the usual next steps, and the answer while the resident still waits for one."""
    return spec.primary or (spec.action == A.ANSWER and case.answered_at is None)


def _new_form(spec: ActionSpec, case: Case, actor: Any) -> ActionForm:
    return spec.form(initial={"expected_version": case.version, "form_token": uuid.uuid4().hex}, case=case,
                     actor=actor, auto_id=f"id_{spec.action.value}_%s")


def _render_case(request: HttpRequest, case: Case, *, failed: tuple[str, ActionForm] | None = None,
                 alert: str = "", status: int = 200) -> HttpResponse:
    actor = request.user
    actions = []
    for spec in allowed_actions(actor, case):
        if failed is not None and failed[0] == spec.action.value:
            form, is_open = failed[1], True
        else:
            form, is_open = _new_form(spec, case, actor), _opens(spec, case) and failed is None
        actions.append({"spec": spec, "name": spec.action.value, "label": spec.action.label, "form": form,
                        "open": is_open, "plain": not any(not f.is_hidden for f in form),
                        "url": reverse("web:case_action", args=[case.number, spec.action.value])})
    failed_elsewhere = failed is not None and failed[0] not in {a["name"] for a in actions}
    context = {
        "case": case,
        "assists": list(case.assists.select_related("department").order_by("requested_at", "pk")),
        "attachments": list(case.attachments.order_by("created_at", "pk")),
        "timeline": [_timeline_item(e) for e in case_timeline(case=case)],
        "actions": actions,
        "map": _map(case),
        "reporter": _reporter(case),
        "alert": alert,
        "failed_errors": failed[1].non_field_errors() if failed_elsewhere and failed else [],
        "can_handle": permissions_for(actor).can(Action.HANDLE_CASE, case),
        "tracking_code": tracking_code_display(case.tracking_code),
        "takes_answer": takes_answer(case),
    }
    return render(request, "web/cases/detail.html", context, status=status)


def _get_case(actor: Any, number: str) -> Case:
    try:
        return case_get(actor=actor, number=number)
    except NotFound as exc:
        raise Http404(_("No such case.")) from exc


# -- views -------------------------------------------------------------------------------------------
DEADLINE_FILTERS = [("", gettext_lazy("any deadline")), ("late", gettext_lazy("due soon or overdue")),
                    ("yellow", gettext_lazy("due soon")), ("red", gettext_lazy("overdue"))]


@login_required
@require_GET
def case_inbox(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    state = state if state in {s.value for s in OPEN_STATES} else ""
    deadline = request.GET.get("deadline", "")
    deadline = deadline if deadline in dict(DEADLINE_FILTERS) else ""
    text = request.GET.get("q", "").strip()[:SEARCH_MAX]
    tree = category_tree()
    nodes = list(iter_tree(tree))
    category = request.GET.get("category", "")
    category_ids = selectors.category_subtree_ids(code=category, tree=tree) if category else None
    if not category_ids:
        category, category_ids = "", None
    answer = clean_answer_filter(request.GET.get("answer"))
    qs = selectors.case_inbox(actor=request.user, state=state, category_ids=category_ids, deadline=deadline, text=text)
    qs = filter_by_answer(qs, answer)
    page = Paginator(qs, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page, "state": state, "deadline": deadline, "q": text, "category": category,
        "states": [s for s in CaseState if s in OPEN_STATES],
        "categories": [(n.code, "\u3000" * n.depth + n.name) for n in nodes],
        "deadline_filters": DEADLINE_FILTERS, "query": query.urlencode(),
        "answer": answer, "answer_filters": ANSWER_FILTERS,
        "filtered": bool(state or deadline or text or category or answer),
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    template = "web/cases/inbox.html#case-list" if partial else "web/cases/inbox.html"
    return render(request, template, context)


@login_required
@require_GET
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_case(request, _get_case(request.user, number))


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    case = _get_case(request.user, number)
    spec = SPEC_BY_NAME.get(action)
    if spec is None:
        raise Http404(_("No such action."))
    detail_url = reverse("web:case_detail", args=[case.number])
    form = spec.form(request.POST, request.FILES, case=case, actor=request.user, auto_id=f"id_{action}_%s")
    token = request.POST.get("form_token", "")[:64]
    done = request.session.get(DONE_TOKENS_SESSION_KEY, [])
    if token and token in done:  # the same form sent twice (a double click, a resent page)
        messages.info(request, _("This was already done."))
        return redirect(detail_url)
    if not form.is_valid():
        if any(form[name].errors for name in ("expected_version", "form_token")):
            form.add_error(None, _("The form was incomplete. Reload the page and try again."))
        return _render_case(request, case, failed=(action, form), status=422)
    photos = [services.Photo(data=f.read(max_bytes_setting() + 1)) for f in request.FILES.getlist("photos")]
    try:
        changed = spec.call(request.user, case.number, form.cleaned_data["expected_version"], form.cleaned_data,
                            photos)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except Conflict as exc:
        if exc.code != "stale_version":
            form.add_error(None, str(exc))
            return _render_case(request, case, failed=(action, form), status=exc.status)
        fresh = _get_case(request.user, number)
        data = request.POST.copy()
        data["expected_version"] = str(fresh.version)
        kept = spec.form(data, case=fresh, actor=request.user, auto_id=f"id_{action}_%s")
        kept.is_valid()
        alert = _("Someone changed this case while you were looking at it. Here it is as it is now: check it, "
                  "then send your action again if it still applies.")
        return _render_case(request, fresh, failed=(action, kept), alert=alert, status=409)
    except DomainError as exc:
        for error in exc.errors:
            field = (error.field or "").split("[")[0]
            form.add_error(field if field in form.fields else None, str(error.message))
        return _render_case(request, case, failed=(action, form), status=exc.status)
    if token:
        request.session[DONE_TOKENS_SESSION_KEY] = (done + [token])[-DONE_TOKENS_KEPT:]
    messages.success(request, _("Done: %(action)s.") % {"action": spec.action.label})
    if not cases_visible_to(request.user).filter(pk=changed.pk).exists():  # e.g. returned to the command centre
        return redirect("web:case_inbox")
    return redirect(detail_url)


@login_required
@require_GET
def case_photo(request: HttpRequest, number: str, pk: int, variant: str) -> HttpResponse:
    """A photo of a case the actor may see: the copy without metadata, or its thumbnail."""
    case = _get_case(request.user, number)
    attachment = CaseAttachment.objects.filter(case=case, pk=pk).first()
    if attachment is None or variant not in ("copy", "thumb"):
        raise Http404(_("No such photo."))
    stored = attachment.thumbnail if variant == "thumb" else attachment.public_copy
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404(_("No such photo.")) from exc
    content_type = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
